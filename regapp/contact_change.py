"""Changing an account's phone or e-mail (issue 6): a code goes to the new one first.

The old contact stays until the code is entered; uniqueness is the database's
(R29), so a number taken meanwhile gets the ordinary «уже занят».
"""

from __future__ import annotations

from peewee import IntegrityError

from regapp import checks, messaging, normalize, notifications, otp, registration
from regapp.db import write_transaction
from regapp.models import Account, utcnow
from regapp.texts import text

KINDS = {"phone": "change_phone", "email": "change_email"}


def is_current(account, kind, value, regions=("RU",)):
    """Whether ``value`` is the account's own phone, or its own confirmed e-mail: nothing to
    change, and no reason to ask for the password or count a try (issue 14)."""
    try:
        if kind == "phone":
            return normalize.normalize_phone(value, regions) == account.phone
        return account.email_confirmed and normalize.normalize_email(value)[1] == account.email_key
    except normalize.Invalid:
        return False


def check(kind, value, regions=("RU",)):
    """Normalize the new contact; return ``(value, target)`` or raise normalize.Invalid."""
    if kind == "phone":
        phone = normalize.normalize_phone(value, regions)
        if checks.phone_taken(phone):
            raise normalize.Invalid(text("phone.taken"))
        return phone, phone
    address, key = normalize.normalize_email(value)
    if checks.email_taken(key):
        raise normalize.Invalid(text("email.taken"))
    return address, key


def send_code(kind, value, target, settings, now=None):
    """Send the code to the new phone or address (60 s apart, 5 an hour)."""
    with write_transaction():
        _, code = otp.issue(target, KINDS[kind], settings["SECRET_KEY"], now=now or utcnow())
        if kind == "phone":
            message = notifications.code_sms(value, code, KINDS[kind])
        else:
            message = notifications.email_code(value, code, purpose="change_email")
    messaging.dispatch([message.id])


def confirm(account, kind, value, target, code, settings, now=None):
    """Check the code and switch to the new contact.

    :raises otp.CodeError: the code is wrong, expired or used up.
    :raises registration.Refused: someone took the contact meanwhile.

    The old phone and the old confirmed address are told; the caller ends other sessions.
    """
    otp.verify(target, KINDS[kind], code, settings["SECRET_KEY"], now=now or utcnow())
    changes = ({"phone": value} if kind == "phone"
               else {"email": value, "email_key": target, "email_confirmed": True})
    old_email = account.email if account.email_confirmed else None
    try:
        with write_transaction():
            Account.update(**changes).where(Account.id == account.id).execute()
            told = notifications.contact_changed(account.phone, old_email, kind, value)
    except IntegrityError:
        raise registration.Refused(text(f"{kind}.taken"), kind) from None
    messaging.dispatch([m.id for m in told])
