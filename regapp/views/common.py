"""What several views share: the client for consent records, signing in, rate-limit keys."""

from flask import request, session

from regapp.registration import Client


def client():
    """The person's address and browser, for the consent record (R11)."""
    return Client(ip=request.remote_addr, user_agent=request.headers.get("User-Agent", "")[:500])


def sign_in(account):
    """Start a fresh session for ``account`` (renewed at sign-in, R28)."""
    session.clear()
    session["account_id"] = account.id
    session.permanent = False


def phone_key():
    """Rate-limit key: the phone typed in the form, else the client address."""
    return (request.form.get("phone") or "").strip() or request.remote_addr or "?"
