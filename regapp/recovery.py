"""Password recovery by SMS code (R24), plain Python.

Nothing here tells whether a phone has an account: a code goes out only when
it does, but the answer is the same either way, and every code problem reads
the same. A new password signs the account out everywhere.
"""

from __future__ import annotations

from regapp import checks, messaging, notifications, otp, passwords
from regapp.db import database
from regapp.models import Account, utcnow
from regapp.texts import text

PURPOSE = "recovery"


def send_code(phone, settings, now=None):
    """Make a recovery code for any phone, and text it only where an account has that phone.

    Both paths do the same database work and obey the same limits, so neither the
    answer nor its timing tells whether the phone is registered.
    """
    account = Account.get_or_none(Account.phone == phone)
    message = None
    try:
        with database.atomic():
            _, code = otp.issue(phone, PURPOSE, settings["SECRET_KEY"], now=now or utcnow())
            if account is not None:
                message = notifications.code_sms(phone, code, PURPOSE)
    except otp.CodeError:
        return  # limits hit: the earlier code still works, and saying so would tell
    if message:
        messaging.dispatch([message.id])


def check_password(phone, password, confirmation):
    """The new password's problem in plain words, or None (the same policy as registration)."""
    account = Account.get_or_none(Account.phone == phone)
    context = [phone]
    if account is not None:
        record = account.record
        context += [record.last_name, record.first_name, record.patronymic, record.policy_number]
    errors = {}
    checks.new_password(errors, password, confirmation, context)
    return next(iter(errors.items()), None)


def reset(phone, code, password, settings, now=None):
    """Check the code and set the new password; return the account (signed out elsewhere).

    :raises otp.CodeError: with one text (``recovery.code_problem``), whatever the problem.
    """
    try:
        otp.verify(phone, PURPOSE, code, settings["SECRET_KEY"], now=now or utcnow())
    except otp.Locked:
        raise
    except otp.CodeError:
        raise otp.CodeError(text("recovery.code_problem")) from None
    account = Account.get(Account.phone == phone)  # a verified code means it exists
    Account.update(password_hash=passwords.hash_password(password),
                   session_epoch=Account.session_epoch + 1).where(
        Account.id == account.id).execute()
    return Account.get_by_id(account.id)
