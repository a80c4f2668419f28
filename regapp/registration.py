"""Registration steps (R7–R12, R29), plain Python: tests call them without Flask.

:func:`start_by_link` checks a filled link form, stores a pending
registration and queues the SMS code in one transaction; :func:`complete`
checks the code and, in one transaction, creates the account, records the
consents and spends the link. The database's unique constraints decide any
race (R29): the loser gets the ordinary «уже занят» answer.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass

from peewee import IntegrityError, Select

from regapp import (
    checks,
    documents,
    email_confirmation,
    messaging,
    metrics,
    normalize,
    notifications,
    otp,
    passwords,
)
from regapp.db import write_transaction
from regapp.models import Account, ConsentEvent, Invitation, PendingRegistration, utcnow
from regapp.statements import Kept, KeptInsert
from regapp.texts import text

PENDING_LIFETIME = dt.timedelta(minutes=30)
PURPOSE = "registration"
EMAIL_PURPOSE = "registration_email"


@dataclass(frozen=True)
class Client:
    """Who is asking, for the consent record (R11)."""

    ip: str | None = None
    user_agent: str | None = None


class Refused(Exception):
    """The step cannot go on; ``field`` is the form field the message belongs to."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def check_link_form(invitation, policy, phone, password, confirmation, consents, regions=("RU",),
                    help_phone="", today=None):
    """Check a link form; return ``(cleaned, errors)`` with errors by field name (R8–R11).
    A policy that ended since the invitation went out is refused as the no-link form
    refuses it (R1): the same words, above the form, and no SMS."""
    record = invitation.record
    errors, cleaned = {}, {}
    if not record.is_active(today):
        errors["form"] = text("signup.not_found", help_phone=help_phone)
    try:
        if normalize.policy_key(policy) != record.policy_key:
            errors["policy"] = text("policy.mismatch")
    except normalize.Invalid as exc:
        errors["policy"] = str(exc)
    try:
        cleaned["phone"] = normalize.normalize_phone(phone, regions)
        # the invited address too: it is confirmed by the link, so an owner must not hold it
        checks.contacts_free(errors, phone=cleaned["phone"],
                             email_key=normalize.email_key(invitation.email))
    except normalize.Invalid as exc:
        errors["phone"] = str(exc)
    context = (record.last_name, record.first_name, record.patronymic, record.policy_number,
               cleaned.get("phone") or phone)
    checks.new_password(errors, password, confirmation, context)
    checks.consents_given(errors, consents)
    cleaned["consents"] = consents
    return cleaned, errors


def start_by_link(invitation, cleaned, password, settings, client=Client(), now=None, then=None):
    """Store the pending registration and queue its SMS code; return the pending row.

    The invited address counts as confirmed: the person reached the link through it (R12).

    :raises otp.CodeError: codes for this phone are limited right now.
    """
    return start(invitation.record, cleaned["phone"], invitation.email, cleaned["consents"],
                 password, settings, client, now, invitation=invitation, email_confirmed=True,
                 esia_id=cleaned.get("esia_id"), then=then)


def start(record, phone, email, consents, password, settings, client=Client(), now=None,
          invitation=None, email_confirmed=False, email_code_required=False, esia_id=None,
          then=None):
    """Store a pending registration and queue its SMS code, in one transaction; ``then``,
    when given, is called with the pending row last in it (what else stands or falls with
    it: the browser's session pointing at it)."""
    now = now or utcnow()
    # hashed before the transaction: on SQLite it holds the one write lock, and nobody
    # else could write for the hash's tenth of a second (issue 15)
    password_hash = passwords.hash_password(password)
    with write_transaction():
        pending = _NEW_PENDING.save_later(PendingRegistration(
            id=secrets.token_urlsafe(24), record=record, invitation=invitation,
            phone=phone, email=email, email_key=normalize.email_key(email),
            email_confirmed=email_confirmed, email_code_required=email_code_required,
            esia_id=esia_id, password_hash=password_hash,
            consents=json.dumps(_consents_shown(consents)),
            channel="link" if invitation else "form",
            client_ip=client.ip, user_agent=client.user_agent, created_at=now,
            expires_at=now + PENDING_LIFETIME))
        message = _queue_code(pending.phone, settings, now)
        if then is not None:
            then(pending)
    if messaging.dispatch([message.id]):
        # the SMS step's page shows what this transaction wrote: not read back (issue 15)
        pending.page_figures = (message.status, message.created_at, now)
    return pending


def refresh_pending(pending, cleaned, password, now=None):
    """The same form sent again (a back button, a second tab): keep its code, take the new answers."""
    now = now or utcnow()
    PendingRegistration.update(
        password_hash=passwords.hash_password(password),
        consents=json.dumps(_consents_shown(cleaned["consents"])),
        expires_at=now + PENDING_LIFETIME,
    ).where(PendingRegistration.id == pending.id).execute()


def resend_code(pending, settings, now=None):
    """Send a new code for a pending registration (60 s apart, 5 an hour)."""
    with write_transaction():
        message = _queue_code(pending.phone, settings, now or utcnow())
    messaging.dispatch([message.id])


def _queue_code(phone, settings, now):
    _, code = otp.issue(phone, PURPOSE, settings["SECRET_KEY"], now=now)
    return notifications.code_sms(phone, code, PURPOSE)


def _consents_shown(consents):
    """kind → what was shown and whether it was given, versions as the form had them."""
    result = {}
    for kind in documents.CURRENT:
        granted, version = consents.get(kind, (False, None))
        shown = documents.shown(kind, version)
        result[kind] = {"granted": bool(granted), "document": shown.document,
                        "version": shown.version, "sha256": shown.sha256, "label": shown.label}
    return result


def esia_for(record, person):
    """The ESIA id to keep when ESIA's person is the record's: the names by R14's
    comparison and the birth date equal; else None (nobody attaches another's Gosuslugi)."""
    if not person:
        return None
    names = normalize.name_key(person["last_name"], person["first_name"], person["middle_name"])
    try:
        born = normalize.parse_date(person.get("birth_date"))
    except normalize.Invalid:
        return None
    return person["oid"] if names == record.name_key and born == record.birth_date else None


_NEW_PENDING, _NEW_ACCOUNT = KeptInsert(PendingRegistration), KeptInsert(Account)
_NEW_CONSENTS = KeptInsert(ConsentEvent)
_DONE = Kept(lambda account_id, pending_id: PendingRegistration.update(account=account_id).where(
    PendingRegistration.id == pending_id), 2)


def _page_figures(phone, purpose):
    """What the SMS step's page shows: the newest code message's status and time, and when
    the last code was made (columns named as :func:`find_pending` keeps them)."""
    return [messaging.newest_code(phone, "status").alias("code_status"),
            messaging.newest_code(phone, "created_at").alias("code_made_at"),
            otp.last_made(phone, purpose).alias("code_last_made")]


def _live_pending(query, pending_id, now):
    return query.where((PendingRegistration.id == pending_id)
                       & (PendingRegistration.expires_at > now)
                       & PendingRegistration.account.is_null())


_LIVE_PENDING = Kept(lambda pending_id, now: _live_pending(
    PendingRegistration.select(), pending_id, now), 2)
#: the same, with the SMS step page's figures: the page's GET in one round trip (issue 15)
_LIVE_PENDING_PAGE = Kept(lambda pending_id, now, purpose: _live_pending(
    PendingRegistration.select(PendingRegistration, *_page_figures(PendingRegistration.phone,
                                                                   purpose)),
    pending_id, now), 3)
#: the SMS step's page: where the newest code stands and when the last one was made, in one
#: statement (two round trips were one each, issue 15)
_CODE_PAGE = Kept(lambda phone, purpose: Select(columns=_page_figures(phone, purpose)).tuples(),
                  2)


def code_page(pending, now=None):
    """(where the newest code to the phone stands, seconds until a new one may be asked):
    :func:`messaging.code_delivery` and :func:`otp.seconds_until_resend` at once; read with
    the pending row when :func:`find_pending` was asked ``with_page``."""
    figures = getattr(pending, "page_figures", None)
    status, made_at, last = figures or _CODE_PAGE.first(pending.phone, PURPOSE)
    return messaging.delivery_state(status, made_at, now), otp.wait_after(last, now)


def find_pending(pending_id, now=None, with_page=False):
    """The live pending registration with that id, or None. ``with_page``: with the SMS
    step page's figures, read in the same statement, for a request that changes nothing
    before it shows the page (:func:`code_page` then asks nothing)."""
    if not pending_id:
        return None  # nothing to look for: a first submit
    if not with_page:
        return _LIVE_PENDING.first(pending_id, now or utcnow())
    pending = _LIVE_PENDING_PAGE.first(pending_id, now or utcnow(), PURPOSE)
    if pending is not None:
        pending.page_figures = (pending.code_status, pending.code_made_at, pending.code_last_made)
    return pending


def complete(pending, code, settings, now=None, then=None):
    """Check the SMS code; return the account, or None when an e-mail code comes next (R17).
    ``then``, when given, is called with the new account last in its transaction (what
    stands or falls with it: the browser signed in).

    :raises otp.CodeError: the code is wrong, expired, used up or limited.
    :raises Refused: the phone, e-mail or link was taken meanwhile (R29).
    """
    now = now or utcnow()

    def verify(then):
        return otp.verify(pending.phone, PURPOSE, code, settings["SECRET_KEY"], now=now, then=then)

    if pending.email_code_required:
        message = verify(lambda _: _phone_confirmed(pending, settings, now))
        messaging.dispatch([message.id])
        return None
    return _create_account(pending, now, pending.email_confirmed, verify, then)


def _phone_confirmed(pending, settings, now):
    PendingRegistration.update(phone_confirmed=True).where(
        PendingRegistration.id == pending.id).execute()
    return _queue_email_code(pending, settings, now)


def complete_email(pending, code, settings, now=None, then=None):
    """Check the e-mail code (after the SMS one); return the account, e-mail confirmed
    (R17); ``then`` as :func:`complete` takes it."""
    now = now or utcnow()
    if not PendingRegistration.get_by_id(pending.id).phone_confirmed:
        raise Refused(text("signup.phone_first"))
    return _create_account(pending, now, True, lambda opened: otp.verify(
        pending.email_key, EMAIL_PURPOSE, code, settings["SECRET_KEY"], now=now, then=opened),
        then)


def resend_email_code(pending, settings, now=None):
    """Mail a new e-mail code (the same limits as SMS codes)."""
    with write_transaction():
        message = _queue_email_code(pending, settings, now or utcnow())
    messaging.dispatch([message.id])


def _queue_email_code(pending, settings, now):
    _, code = otp.issue(pending.email_key, EMAIL_PURPOSE, settings["SECRET_KEY"], now=now)
    return notifications.email_code(pending.email, code)


def _create_account(pending, now, email_confirmed, verify, then=None):
    """``verify(opened)`` checks the code and, in its transaction, runs ``opened``: the
    account, the consents, the link spent, the confirmation mail, ``then(account)``; all
    or nothing, the code's use included (one taken meanwhile leaves the code open: R29's
    refusal stands however often it is typed)."""
    try:
        account, message = verify(lambda _: _open_account(pending, now, email_confirmed, then))
    except IntegrityError as exc:
        raise _taken(exc, pending) from None
    metrics.REGISTRATIONS.labels(pending.channel).inc()
    if message:
        messaging.dispatch([message.id])
    return account


def _open_account(pending, now, email_confirmed, then=None):
    """(the account, its confirmation mail or None), written in the caller's transaction."""
    account = _NEW_ACCOUNT.save(Account(
        record=pending.record_id, phone=pending.phone, email=pending.email,
        email_key=pending.email_key, email_confirmed=email_confirmed,
        password_hash=pending.password_hash, esia_id=pending.esia_id, created_at=now))
    if pending.invitation_id and not Invitation.update(spent_at=now).where(
            (Invitation.id == pending.invitation_id) & Invitation.spent_at.is_null()).execute():
        raise Refused(text("signup.link_spent"))
    _record_consents(account, pending, now)
    _DONE.run_later(account.id, pending.id)
    message = None if email_confirmed else email_confirmation.queue_link(account, now)
    if then is not None:
        then(account)
    return account, message


def _record_consents(account, pending, now):
    _NEW_CONSENTS.save_many([ConsentEvent(
        account=account, record=pending.record_id, kind=kind, granted=item["granted"],
        document=item["document"], version=item["version"], text_sha256=item["sha256"],
        label=item["label"], channel=pending.channel, client_ip=pending.client_ip,
        user_agent=pending.user_agent, at=now)
        for kind, item in json.loads(pending.consents).items()
        if kind in documents.REQUIRED or item["granted"]])


def _taken(exc, pending):
    """Turn a unique-constraint loss into the answer the person would have got anyway."""
    lost = str(exc).lower()
    if "esia" in lost:
        return Refused(text("esia.taken"))
    if "phone" in lost:
        return Refused(text("phone.taken"), "phone")
    if "email" in lost:
        return Refused(text("email.taken"), "email")
    return Refused(text("signup.registered"))
