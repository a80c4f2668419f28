"""Password recovery by SMS code (R24), plain Python.

Nothing here tells whether a phone has an account: a code goes out only when
it does, but the answer is the same either way, and every code problem reads
the same. A new password signs the account out everywhere.
"""

from __future__ import annotations

from regapp import checks, messaging, notifications, otp, passwords
from regapp.db import write_transaction
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
        with write_transaction():
            _, code = otp.issue(phone, PURPOSE, settings["SECRET_KEY"], now=now or utcnow())
            if account is not None:
                message = notifications.code_sms(phone, code, PURPOSE)
    except otp.CodeError:
        return  # limits hit: the earlier code still works, and saying so would tell
    if message:
        messaging.dispatch([message.id])


class PasswordRefused(Exception):
    """The new password does not meet the policy; ``field`` is where the words go."""

    def __init__(self, field, words):
        super().__init__(words)
        self.field = field


def _password_problem(password, confirmation, context):
    errors = {}
    checks.new_password(errors, password, confirmation, context)
    return PasswordRefused(*next(iter(errors.items()))) if errors else None


def reset(phone, code, password, confirmation, settings, now=None):
    """Check the code, then the new password, and set it; return the account.

    Until the code is right the password is judged with the phone alone as context, so
    the answer is the same whether or not the phone has an account; after it, by the
    account's own names too (the code stays usable if that refuses). The account is
    signed out everywhere.

    :raises PasswordRefused: the password does not meet the policy.
    :raises otp.CodeError: with one text (``recovery.code_problem``), whatever the problem.
    """
    if problem := _password_problem(password, confirmation, [phone]):
        raise problem
    account = Account.get_or_none(Account.phone == phone)

    def accept():  # the code is right, so the phone has an account: its names count now
        record = account.record
        return _password_problem(password, confirmation, [
            phone, record.last_name, record.first_name, record.patronymic,
            record.policy_number])

    try:
        otp.verify(phone, PURPOSE, code, settings["SECRET_KEY"], now=now or utcnow(),
                   accept=accept if account else None)
    except otp.Locked:
        raise
    except otp.CodeError:
        raise otp.CodeError(text("recovery.code_problem")) from None
    Account.update(password_hash=passwords.hash_password(password),
                   session_epoch=Account.session_epoch + 1).where(
        Account.id == account.id).execute()
    return Account.get_by_id(account.id)
