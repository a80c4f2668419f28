"""Invitations (R4–R6): who gets a link, the link's token, sending and re-sending.

A link carries a random 256-bit token; only its SHA-256 is stored, so the
database cannot be used to forge links and a changed character finds
nothing. A link is live until it expires (``INVITATION_TTL_DAYS``), its
registration completes (spent), or a re-send replaces it (revoked). A live link whose
e-mail failed for good (the mail server refused it, or was out of reach past every
retry) was never read: the next dispatch sends a new one in its place, as for an expired
one, so an outage longer than the retries loses nobody's invitation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import current_app
from peewee import SQL, fn

from regapp import messaging, normalize, notifications
from regapp.db import write_transaction
from regapp.models import Account, Invitation, Message, RosterRecord, utcnow
from regapp.statements import KeptInsert
from regapp.tokens import hash_token, new_token


@dataclass
class DispatchReport:
    """What a dispatch did; ``as_json()`` is the ``--json`` output."""

    sent: int = 0
    duplicate_email: list = field(default_factory=list)
    no_email: int = 0
    registered: int = 0
    already_invited: int = 0
    refused: str | None = None  # why a --resend sent nothing
    expired: int = 0  # of those sent, how many had a link that expired (the console says so)
    undelivered: int = 0  # of those sent, how many in place of a live link whose e-mail failed

    def as_json(self):
        data = {"sent": self.sent, "skipped": {
            "duplicate_email": self.duplicate_email, "no_email": self.no_email,
            "registered": self.registered, "already_invited": self.already_invited}}
        if self.refused:
            data["refused"] = self.refused
        return data


def duplicate_email_keys(today=None) -> set:
    """E-mail keys that stand on more than one active record (R5)."""
    query = (RosterRecord.select(RosterRecord.email_key)
             .where(RosterRecord.active_on(today) & RosterRecord.email_key.is_null(False))
             .group_by(RosterRecord.email_key)
             .having(fn.COUNT(RosterRecord.id) > 1))
    return {r.email_key for r in query}


def _candidates(today, now):
    """Active records with flags: has an account, has a live invitation, was ever invited
    (whether a live one's e-mail failed: :func:`_undelivered`). Only what the choice
    reads, as tuples: a whole record made a model took 2.4 s of CPU for 100,000 records,
    these 0.8 (issue 15)."""
    registered = fn.EXISTS(Account.select(SQL("1")).where(Account.record == RosterRecord.id))
    invited = fn.EXISTS(Invitation.select(SQL("1")).where(
        (Invitation.record == RosterRecord.id) & Invitation.live(now)))
    before = fn.EXISTS(Invitation.select(SQL("1")).where(Invitation.record == RosterRecord.id))
    return (RosterRecord
            .select(RosterRecord.id, RosterRecord.email_key, RosterRecord.policy_number,
                    registered.alias("registered"), invited.alias("invited"),
                    before.alias("invited_before"))
            .where(RosterRecord.active_on(today))
            .order_by(RosterRecord.id).namedtuples())


def _undelivered(now):
    """The records whose live link's e-mail failed for good: found from the failed messages
    (few, and indexed), not by looking up every record's message (which doubled the
    choice's time for 100,000 records)."""
    return {row.record_id for row in Invitation
            .select(Invitation.record)
            .join(Message, on=(Message.id == Invitation.message))
            .where((Message.status == "failed") & Invitation.live(now)).objects()}


def send_invitations(dry_run=False, now=None) -> DispatchReport:
    """Invite every active record that has an e-mail, no account and no live link (R4, R5)."""
    now = now or utcnow()
    today = now.date()
    report = DispatchReport()
    duplicates, undelivered = duplicate_email_keys(today), _undelivered(now)
    chosen = []
    for record in _candidates(today, now).iterator():
        if not record.email_key:
            report.no_email += 1
        elif record.registered:
            report.registered += 1
        elif record.email_key in duplicates:
            report.duplicate_email.append(record.policy_number)
        elif record.invited and record.id not in undelivered:
            report.already_invited += 1
        else:
            chosen.append(record.id)
            in_place_of_failed = record.id in undelivered
            report.undelivered += in_place_of_failed
            report.expired += bool(record.invited_before) and not in_place_of_failed
    report.sent = len(chosen)
    if not dry_run:
        _invite_in_batches(chosen, now)
    return report


def resend_invitation(policy, dry_run=False, now=None) -> DispatchReport:
    """Send ``policy``'s holder a fresh link; the old one stops working (R6)."""
    now = now or utcnow()
    report = DispatchReport()
    try:
        key = normalize.policy_key(policy)
    except normalize.Invalid as exc:
        report.refused = str(exc)
        return report
    record = RosterRecord.get_or_none(RosterRecord.policy_key == key)
    duplicates = duplicate_email_keys(now.date())
    report.refused = _resend_refusal(record, now.date(), duplicates)
    if report.refused:
        if record is not None and record.email_key in duplicates:
            report.duplicate_email.append(record.policy_number)
        return report
    report.sent = 1
    if not dry_run:
        _invite_in_batches([record.id], now)
    return report


def _resend_refusal(record, today, duplicates):
    if record is None:
        return "нет такого полиса в списке застрахованных"
    if not record.is_active(today):
        return "полис не действует сегодня"
    if not record.email_key:
        return "в списке нет e-mail этого застрахованного"
    if Account.select().where(Account.record == record.id).exists():
        return "застрахованный уже зарегистрирован"
    if record.email_key in duplicates:
        return "этот e-mail указан у нескольких застрахованных: исправьте список (R5)"
    return None


def _invite_in_batches(record_ids, now):
    expires = now + dt.timedelta(days=current_app.config["INVITATION_TTL_DAYS"])
    for batch in messaging.batches(record_ids, current_app.config["DELIVERY_BATCH_SIZE"]):
        with write_transaction():
            # the links they replace stop working: a re-send's, an undelivered one's
            Invitation.update(revoked_at=now).where(
                Invitation.record.in_(batch) & Invitation.live(now)).execute()
            records = list(RosterRecord.select().where(RosterRecord.id.in_(batch)))
            tokens = [new_token() for _ in records]
            mails = notifications.invitations(records, tokens, expires)
            # two statements a batch, not two a person (issue 15)
            messaging.queue_emails(mails)
            _NEW_INVITATIONS.save_many([
                Invitation(record=record, token_hash=hash_token(token), email=record.email,
                           created_at=now, expires_at=expires, message=mail)
                for record, token, mail in zip(records, tokens, mails, strict=True)])
        messaging.dispatch(mail.id for mail in mails)


_NEW_INVITATIONS = KeptInsert(Invitation)


def find_invitation(token: str, now=None):
    """Return ``(invitation or None, state)``: ok, expired, spent, revoked or unknown."""
    now = now or utcnow()
    invitation = Invitation.get_or_none(Invitation.token_hash == hash_token(token))
    if invitation is None:
        return None, "unknown"
    if invitation.spent_at:
        return invitation, "spent"
    if invitation.revoked_at:
        return invitation, "revoked"
    if invitation.expires_at <= now:
        return invitation, "expired"
    return invitation, "ok"
