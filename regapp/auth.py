"""Sign-in state, in one place: who is signed in, signing in and out, the password check.

A session carries the account's id and its ``session_epoch``; raising the epoch
signs the account out everywhere (recovery, «Выйти на всех устройствах»). Views
import from here, never from another blueprint's module.
"""

from __future__ import annotations

import contextlib
import functools
import secrets

from flask import after_this_request, current_app, g, request, session, url_for
from peewee import OperationalError

from regapp import devices, messaging, normalize, notifications, passwords, sessions, throttle
from regapp.db import write_transaction
from regapp.models import Account
from regapp.rendering import hx_redirect
from regapp.texts import text


@functools.cache
def dummy_hash():
    """Compared against when no account has the phone, so both answers take as long. Made
    once a process as it starts serving (:func:`regapp.pages.warm_up`), not by every
    command that imports this module (an argon2id hash, a fifth of a second)."""
    return passwords.hash_password("no account has this password")


class SignInRefused(Exception):
    """The phone and password do not open an account now; ``str()`` says so to the person."""


def current_account():
    """The signed-in account, or None."""
    if "account" not in g:
        if getattr(session, "row", None) is sessions.UNREACHABLE:
            # who this is cannot be known now: «недоступен» (503), not a sign-in page
            raise OperationalError("the session store is out of reach")
        account_id = session.get("account_id")
        account = Account.get_or_none(Account.id == account_id) if account_id else None
        if account is not None and session.get("epoch") != account.session_epoch:
            session.clear()  # signed out everywhere since this session began
            account = None
        g.account = account
    return g.account


def signed_in_here():
    """Whether this browser is signed in, asked without needing the database when it is
    out of reach (the sign-in page still shows then)."""
    if getattr(session, "row", None) is sessions.UNREACHABLE or not session.get("account_id"):
        return False
    return current_account() is not None


def login_required(view):
    """Send a stranger to the sign-in page."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_account() is None:
            # htmx (a toggle after signing out elsewhere) loads the sign-in page whole,
            # rather than swapping it into the button's place (issue 14)
            return hx_redirect(url_for("signin.login"))
        return view(*args, **kwargs)

    return wrapped


def check_password(typed_phone, password, address, regions):
    """The account that ``typed_phone`` and ``password`` open, with the lock-out applied.

    One message whatever was wrong, and the same work whether or not the phone has an
    account; a stale hash is upgraded on success.

    :raises SignInRefused: wrong, unknown, or locked out for a while.
    """
    phone = _phone_or_none(typed_phone, regions)
    attempt = throttle.keys(phone, address)
    waits = throttle.reserve(attempt)  # counted before the check, atomically
    if waits.get("phone"):
        raise _locked(waits["phone"])
    account = Account.get_or_none(Account.phone == phone) if phone else None
    stored = account.password_hash if account else dummy_hash()
    if not (passwords.verify_password(stored, password or "") and account):
        # a busy address slows guessers down; it never refuses a right password
        raise _locked(waits["address"]) if waits.get("address") else SignInRefused(
            text("signin.wrong"))
    throttle.succeeded(attempt)
    if passwords.needs_rehash(stored):
        Account.update(password_hash=passwords.hash_password(password)).where(
            Account.id == account.id).execute()
    return account


def confirm_password(account, password, address):
    """Ask the signed-in person for the password again before a sensitive change.

    The same lock-out as sign-in guards it, so a borrowed session cannot guess.

    :raises SignInRefused: wrong, or locked out for a while.
    """
    attempt = throttle.keys(account.phone, address)
    waits = throttle.reserve(attempt)
    if waits.get("phone"):
        raise _locked(waits["phone"])
    if not passwords.verify_password(account.password_hash, password or ""):
        raise SignInRefused(text("reauth.wrong"))
    throttle.succeeded(attempt)


def change_password(account, password):
    """Set a new password; tell the phone and the confirmed e-mail; end other sessions."""
    password_hash = passwords.hash_password(password)  # not while holding the write lock
    with write_transaction():
        Account.update(password_hash=password_hash).where(
            Account.id == account.id).execute()
        told = notifications.contact_changed(
            account.phone, account.email if account.email_confirmed else None, "password")
    messaging.dispatch([m.id for m in told])
    end_other_sessions(account)


def _locked(seconds):
    return SignInRefused(text("signin.locked", minutes=max(1, (seconds + 59) // 60)))


def end_other_sessions(account):
    """Sign the account out everywhere but here, with a new key here (a change of
    contact, password or Gosuslugi is a change of privilege)."""
    Account.update(session_epoch=Account.session_epoch + 1).where(
        Account.id == account.id).execute()
    sessions.end_all(account, keep=session.row.id if session.row else None)
    session["epoch"] = Account.get_by_id(account.id).session_epoch
    session.regenerate()
    g.pop("account", None)


def _phone_or_none(typed, regions):
    try:
        return normalize.normalize_phone(typed, regions)
    except normalize.Invalid:
        return None


def sign_in(account, notify_new_device=True):
    """Start a fresh session for ``account`` (renewed at sign-in, R28); note the device."""
    session.clear()
    session.regenerate()  # a new key: whatever key a stranger planted or saw is dead
    session["account_id"] = account.id
    session["epoch"] = account.session_epoch
    session.permanent = False
    g.pop("account", None)
    token = request.cookies.get(devices.COOKIE) or secrets.token_urlsafe(24)
    devices.note(account, token, notify=notify_new_device)

    @after_this_request
    def _keep_device(response):
        response.set_cookie(devices.COOKIE, token, max_age=devices.COOKIE_AGE, httponly=True,
                            secure=current_app.config["SESSION_COOKIE_SECURE"], samesite="Lax")
        return response


@contextlib.contextmanager
def sign_in_within():
    """For a transaction that opens an account: yield ``then(account)``, which signs this
    browser in as part of it, the device and the session's new row written with the
    account (one commit: issue 15). Should the transaction fail, the session is as it was
    (a registration's refusal leaves the person on its step, nothing lost)."""
    before = session.snapshot()

    def then(account):
        sign_in(account, notify_new_device=False)
        sessions.store_now()

    try:
        yield then
    except BaseException:
        session.restore(before)
        g.pop("account", None)
        raise


def sign_out():
    """End this browser's session; anything said after it (a notice) goes in a new one."""
    session.clear()
    session.regenerate()
    g.pop("account", None)


def sign_out_everywhere(account):
    """End every session of ``account``, this one included."""
    Account.update(session_epoch=Account.session_epoch + 1).where(
        Account.id == account.id).execute()
    sessions.end_all(account)
    sign_out()
