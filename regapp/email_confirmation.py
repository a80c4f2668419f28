"""E-mail confirmation links (R17, R33): opening shows a page, the POST confirms, once.

Corporate mail scanners open every link first, so a GET changes nothing.
Only the token's SHA-256 is stored. A link works at any time later, signed in
or not, as long as the account still has the address it was sent to.
"""

from __future__ import annotations

import datetime as dt

from peewee import IntegrityError

from regapp import notifications
from regapp.db import write_transaction
from regapp.models import Account, EmailConfirmation, utcnow
from regapp.statements import KeptInsert
from regapp.tokens import hash_token, new_token

_NEW = KeptInsert(EmailConfirmation)


def queue_link(account, now=None):
    """Store a confirmation link and its e-mail; call inside the step's transaction."""
    token = new_token()
    _NEW.save_later(EmailConfirmation(account=account, email_key=account.email_key,
                                      token_hash=hash_token(token), created_at=now or utcnow()))
    return notifications.confirmation_link(account, token)


#: a link asked for again sooner is said to be on its way, not sent twice
RESEND_AFTER = dt.timedelta(seconds=60)


def sent_just_now(account, now=None):
    """Whether a confirmation link went to the account's address less than a minute ago."""
    since = (now or utcnow()) - RESEND_AFTER
    return EmailConfirmation.select().where(
        (EmailConfirmation.account == account) & (EmailConfirmation.created_at > since)).exists()


def find(token):
    """Return ``(confirmation or None, state)``: ok, used, changed or unknown."""
    row = EmailConfirmation.get_or_none(EmailConfirmation.token_hash == hash_token(token))
    if row is None:
        return None, "unknown"
    if row.used_at:
        return row, "used"
    if row.account.email_key != row.email_key:
        return row, "changed"  # the account has another address now
    return row, "ok"


def confirm(token, now=None):
    """Confirm the address the link was sent to; return the state after trying."""
    row, state = find(token)
    if state != "ok":
        return state
    now = now or utcnow()
    used = EmailConfirmation.update(used_at=now).where(
        (EmailConfirmation.id == row.id) & EmailConfirmation.used_at.is_null()).execute()
    if not used:
        return "used"
    try:
        with write_transaction():
            Account.update(email_confirmed=True).where(
                (Account.id == row.account_id) & (Account.email_key == row.email_key)).execute()
    except IntegrityError:  # its owner confirmed it in an account of their own meanwhile
        return "taken"
    return "confirmed"
