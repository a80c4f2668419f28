"""Durable outgoing SMS and e-mail (R26), and the one place mail leaves (R18).

A step that needs a message calls :func:`queue_sms` or :func:`queue_email`
inside its own transaction, so the message is stored if and only if the step
is; after the commit it calls :func:`dispatch`, which hands the ids to the
task queue. :func:`deliver` claims each message, sends it through the chosen
adapter and records the outcome: sent, retried later with a doubling delay,
or failed with its last error. :func:`deliver_due` is the safety net that
picks up whatever a crash or a lost task left behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from flask import current_app
from peewee import SQL, fn

from regapp import metrics
from regapp.adapters import DeliveryError, Email, Sms
from regapp.db import relax_next_statement, relaxed_commit
from regapp.logs import masked, redacted
from regapp.models import Account, Message, utcnow
from regapp.normalize import email_key
from regapp.statements import Kept, KeptIn, KeptInsert

log = logging.getLogger("regapp.delivery")

#: how long a worker may hold a message before another may take it again: a little longer
#: than one attempt may take, renewed when running short, so a crash mid-send frees it in seconds
LEASE = dt.timedelta(seconds=15)
#: the lease an attempt must find left (an HTTP gateway's default timeout is 10 s)
ATTEMPT_NEEDS = dt.timedelta(seconds=10)
#: the lease a batch's mail needs beside that, a message (as :func:`_hold` extends it)
EMAIL_NEEDS = dt.timedelta(seconds=1)
#: the only kind of mail an unconfirmed address may receive (R18)
CONFIRMATION_KINDS = {"email_confirmation", "email_code"}
#: one-time codes: a person is waiting at the screen, and a code lives 5 minutes (issue 13)
CODE_KINDS = {"code", "email_code"}
#: a code is retried within seconds, then every 8 s for as long as it is useful, so a
#: gateway back after an outage delivers it seconds later; then it is stale, not failed
CODE_RETRY_DELAYS = (1, 2, 4, 8)
CODE_USEFUL_FOR = dt.timedelta(minutes=5)


_NEW_MESSAGE = KeptInsert(Message)


def queue_sms(to, text, kind):
    """Store an SMS for delivery; call inside the step's transaction (the row goes with
    its next statement or its COMMIT: nothing is read back, its id is made here)."""
    return _NEW_MESSAGE.save_later(Message(channel="sms", kind=kind, to=to, text=text))


def queue_email(to, subject, text, kind, html=None):
    """Store an e-mail for delivery; call inside the step's transaction (as an SMS)."""
    return _NEW_MESSAGE.save_later(email(to, subject, text, kind, html))


def email(to, subject, text, kind, html=None):
    """An e-mail not stored yet: :func:`queue_emails` stores a batch of them at once."""
    return Message(channel="email", kind=kind, to=to, subject=subject, text=text, html=html)


def queue_emails(messages):
    """Store a batch of :func:`email` messages in one statement, in the caller's transaction."""
    _NEW_MESSAGE.save_many(messages)
    return messages


#: a code not delivered after this long is said to be late on its page
LATE_AFTER = dt.timedelta(seconds=5)


def newest_code(to, column):
    """The query of the newest code message to ``to``'s ``column`` (a name): a row, or none."""
    return Message.select(getattr(Message, column)).where(
        (Message.to == to) & Message.kind.in_(list(CODE_KINDS))).order_by(
        Message.created_at.desc()).limit(1)


_NEWEST_CODE = Kept(lambda to: newest_code(to, "status").select_extend(
    Message.created_at).tuples(), 1)


def code_delivery(to, now=None):
    """Where the newest code to ``to`` stands: ``sent``, ``waiting`` (just made) or ``late``
    (still not delivered a few seconds on: a gateway retrying, or failed), for its page."""
    return delivery_state(*(_NEWEST_CODE.first(to) or (None, None)), now)


def delivery_state(status, made_at, now=None):
    """:func:`code_delivery` for the newest code message's status and time (None: none)."""
    if status is None or status == "sent":
        return "sent"
    made_at = Message.created_at.python_value(made_at)  # text from SQLite's subquery
    return "late" if (now or utcnow()) - made_at > LATE_AFTER else "waiting"


def dispatch(message_ids):
    """Hand stored messages to the task queue, once their transaction committed. True when
    they still stand as the caller stored them (a worker takes them later); False when the
    queue delivered them in this call (``QUEUE = "immediate"``)."""
    queue = current_app.extensions["regapp.queue"]
    for channel_ids in batches(list(message_ids), current_app.config["DELIVERY_BATCH_SIZE"]):
        queue.enqueue(channel_ids)
    return not queue.delivers_in_call


def batches(items, size):
    """Consecutive slices of ``items``, ``size`` long at most."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class Outcome:
    """What one delivery round did, by message id."""

    sent: list = field(default_factory=list)
    retry: dict = field(default_factory=dict)  # id → seconds until the next try
    failed: list = field(default_factory=list)
    refused: list = field(default_factory=list)


def deliver(message_ids, adapters, settings, now=None):
    """Send the given messages that are due and not held by another worker."""
    now = now or utcnow()
    outcome = Outcome()
    messages = _drop_stale_codes(_claim(message_ids, now), now, outcome)
    sms = [m for m in messages if m.channel == "sms"]
    emails = [m for m in messages if m.channel == "email"]
    held_until = now + LEASE  # as _claim set it
    for message in sms:
        if utcnow() + ATTEMPT_NEEDS > held_until:  # renewed only when running short
            held_until = _hold(message.claim)
        _record(message, _send_sms(adapters.sms, message), settings, now, outcome)
    emails = _refuse_unconfirmed(emails, now, outcome)
    if emails and utcnow() + ATTEMPT_NEEDS + len(emails) * EMAIL_NEEDS > held_until:
        _hold(emails[0].claim, extra=len(emails))  # one connection sends them all
    results = _send_emails(adapters.email, emails)
    _record_sent([m for m, error in zip(emails, results, strict=True) if error is None], now,
                 outcome)
    for message, error in zip(emails, results, strict=True):
        if error is not None:
            _record(message, error, settings, now, outcome)
    return outcome


def deliver_due(adapters, settings, now=None, limit=1000):
    """Deliver every message whose time has come, including ones a crash left behind."""
    now = now or utcnow()
    Message.update(status="pending", claim=None).where(
        (Message.status == "sending") & (Message.lease_until < now)
    ).execute()
    due = (
        Message.select(Message.id)
        .where((Message.status == "pending") & (Message.next_attempt_at <= now))
        .order_by(Message.next_attempt_at)
        .limit(limit)
    )
    ids = [m.id for m in due]
    outcome = Outcome()
    for batch in batches(ids, settings["DELIVERY_BATCH_SIZE"]):
        part = deliver(batch, adapters, settings, now)
        for name in ("sent", "failed", "refused"):
            getattr(outcome, name).extend(getattr(part, name))
        outcome.retry.update(part.retry)
    return outcome


def _claim(message_ids, now):
    """Mark the due ones as ours, atomically, so no two workers send one message."""
    # one statement, atomic on its own: no transaction around it (two round trips fewer).
    # Its commit waits for no disk: a claim lost with a crashed server leaves the message
    # to be sent again, as a crash between sending and marking it «sent» does (at least once)
    relax_next_statement()
    claimed = _CLAIM.rows(list(message_ids), uuid.uuid4().hex, now + LEASE, now)
    return sorted(claimed, key=lambda m: m.created_at)


_NEWER = Message.alias("newer")
#: each claimed message comes with ``superseded``: a newer one of its kind went to the
#: same person (a stale code's test, answered without a round trip of its own)
_CLAIM = KeptIn(lambda ids, claim, lease_until, now: Message.update(
    status="sending", claim=claim, lease_until=lease_until).where(
    Message.id.in_(list(ids)) & (Message.status == "pending") & (Message.next_attempt_at <= now)
).returning(Message, fn.EXISTS(_NEWER.select(SQL("1")).where(
    (_NEWER.to == Message.to) & (_NEWER.kind == Message.kind)
    & (_NEWER.created_at > Message.created_at))).alias("superseded")), 3)


def _hold(claim, extra=0):
    """Renew the lease on what this round still holds, before an attempt that may block;
    return when it now runs out."""
    until = utcnow() + LEASE + dt.timedelta(seconds=extra)
    Message.update(lease_until=until).where(
        (Message.claim == claim) & (Message.status == "sending")).execute()
    return until


def orphans_free_at():
    """When the last lease on a message being sent runs out (None if none is held): at a
    start, those are what a killed process held, to be swept again then."""
    return (Message.select(fn.MAX(Message.lease_until))
            .where(Message.status == "sending").scalar())


def _send_sms(gateway, message):
    try:
        gateway.send(Sms(message_id=message.id, to=message.to, text=message.text))
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # a plugin's bug must not lose the message
        log.exception("SMS gateway %s failed unexpectedly", gateway.name)
        return DeliveryError(f"{type(exc).__name__}: {exc}")
    return None


def _send_emails(sender, messages):
    if not messages:
        return []
    emails = [
        Email(message_id=m.id, to=m.to, subject=m.subject or "", text=m.text, html=m.html)
        for m in messages
    ]
    try:
        results = sender.send_batch(emails)
    except DeliveryError as exc:
        return [exc] * len(messages)
    except Exception as exc:
        log.exception("e-mail sender %s failed unexpectedly", sender.name)
        return [DeliveryError(f"{type(exc).__name__}: {exc}")] * len(messages)
    if len(results) != len(messages):
        return [DeliveryError(f"{sender.name} answered {len(results)} of {len(messages)}")] * len(
            messages
        )
    return results


def _drop_stale_codes(messages, now, outcome):
    """A code no longer useful (expired, or a newer one went to the same person) is not
    delivered late: a person must never type the wrong one of two codes."""
    kept = []
    for message in messages:
        if message.kind in CODE_KINDS and (
                now - message.created_at > CODE_USEFUL_FOR or message.superseded):
            _end_unsent(message, "stale", "код больше не нужен", outcome)
        else:
            kept.append(message)
    return kept


def _end_unsent(message, status, reason, outcome):
    """End a message that must not go, its body forgotten with it."""
    Message.update(status=status, claim=None, text="", html=None, last_error=reason).where(
        Message.id == message.id).execute()
    outcome.refused.append(message.id)


def _retry_delay(message, attempts, settings):
    """Seconds before the next attempt: seconds for codes, a doubling delay for the rest."""
    if message.kind in CODE_KINDS:
        return CODE_RETRY_DELAYS[min(attempts, len(CODE_RETRY_DELAYS)) - 1]
    return settings["DELIVERY_RETRY_DELAY"] * 2 ** (attempts - 1)


def _retries_left(message, attempts, settings, now):
    """A code is tried while it is useful; anything else ``DELIVERY_MAX_ATTEMPTS`` times."""
    if message.kind in CODE_KINDS:
        return now - message.created_at < CODE_USEFUL_FOR
    return attempts < settings["DELIVERY_MAX_ATTEMPTS"]


def _refuse_unconfirmed(messages, now, outcome):
    """R18: to an account's unconfirmed address, only its confirmation may go."""
    keys = {email_key(m.to) for m in messages if m.kind not in CONFIRMATION_KINDS}
    if not keys:
        return messages
    holders = Account.select(Account.email_key, Account.email_confirmed).where(
        Account.email_key.in_(list(keys)))
    confirmed = {a.email_key for a in holders if a.email_confirmed}
    # an address is unconfirmed when someone claims it and nobody has confirmed it
    unconfirmed = {a.email_key for a in holders if not a.email_confirmed} - confirmed
    allowed = []
    for message in messages:
        if message.kind not in CONFIRMATION_KINDS and email_key(message.to) in unconfirmed:
            log.warning("R18: not sending %s mail %s to unconfirmed %s", message.kind, message.id,
                        masked(message.to))
            metrics.DELIVERIES.labels(message.channel, "refused").inc()
            _end_unsent(message, "refused", "адрес не подтверждён (R18)", outcome)
        else:
            allowed.append(message)
    return allowed


def _record_sent(messages, now, outcome):
    """Store that these went: one UPDATE for a whole batch of e-mails (issue 15)."""
    if not messages:
        return
    ids = [m.id for m in messages]
    with relaxed_commit():  # lost in a crash, they go again: at least once, as ever
        _SENT.run_later(ids, now)
    outcome.sent.extend(ids)
    metrics.DELIVERIES.labels(messages[0].channel, "sent").inc(len(ids))


#: a sent message's body held a code or a link: once delivered it is nobody's business
_SENT = KeptIn(lambda ids, now: Message.update(
    status="sent", claim=None, lease_until=None, text="", html=None,
    attempts=Message.attempts + 1, sent_at=now).where(Message.id.in_(list(ids))), 1)


def _record(message, error, settings, now, outcome):
    """Store what happened to one message."""
    if error is None:
        _record_sent([message], now, outcome)
        return
    attempts = message.attempts + 1
    changes = {"attempts": attempts, "claim": None, "lease_until": None}
    if error.temporary and _retries_left(message, attempts, settings, now):
        delay = _retry_delay(message, attempts, settings)
        changes.update(status="pending", last_error=error.reason,
                       next_attempt_at=now + dt.timedelta(seconds=delay))
        outcome.retry[message.id] = delay
        metrics.DELIVERIES.labels(message.channel, "retried").inc()
        log.warning("message %s (%s) to %s: attempt %d failed, next in %ss: %s",
                    message.id, message.kind, masked(message.to), attempts, delay,
                    redacted(error.reason))
    else:
        changes.update(status="failed", last_error=error.reason, text="", html=None)
        outcome.failed.append(message.id)
        metrics.DELIVERIES.labels(message.channel, "failed").inc()
        log.error("message %s (%s) to %s failed for good after %d attempts: %s",
                  message.id, message.kind, masked(message.to), attempts, redacted(error.reason))
    Message.update(**changes).where(Message.id == message.id).execute()
