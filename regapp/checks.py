"""The checks that several forms share, written once (R9–R11, R16, R29).

Each adds its refusal to ``errors`` (field name → words) so a form can show every
problem at once. Both registration forms, recovery and contact changes use them; the
database's unique constraints still decide a race (R29).
"""

from __future__ import annotations

import operator
from functools import reduce

from regapp import documents, passwords
from regapp.models import Account
from regapp.texts import text


def phone_taken(phone):
    return Account.select().where(Account.phone == phone).exists()


def email_taken(email_key):
    """Taken by an account that confirmed it; an unconfirmed claim yields to the owner."""
    return Account.select().where((Account.email_key == email_key)
                                  & (Account.email_confirmed == True)).exists()  # noqa: E712


def contacts_free(errors, phone=None, email_key=None):
    """«уже занят» beside a phone or e-mail another account uses (R9, R16): both in one
    look (the rules of :func:`phone_taken` and :func:`email_taken`)."""
    wanted = [condition for value, condition in (
        (phone, Account.phone == phone),
        (email_key, (Account.email_key == email_key) & (Account.email_confirmed == True)),  # noqa: E712
    ) if value]
    if not wanted:
        return
    found = Account.select(Account.phone, Account.email_key, Account.email_confirmed).where(
        reduce(operator.or_, wanted)).tuples()
    for found_phone, found_email_key, confirmed in found:
        if phone and found_phone == phone:
            errors["phone"] = text("phone.taken")
        if email_key and confirmed and found_email_key == email_key:
            errors["email"] = text("email.taken")


def new_password(errors, password, confirmation, context, estimate=True):
    """The password policy with the person's own words as context, then the confirmation
    (R10); ``estimate=False``: all but the strength estimate (see :func:`passwords.check`)."""
    if reason := passwords.check(password, context, estimate):
        errors["password"] = reason
    elif password != confirmation:
        errors["confirmation"] = text("password.mismatch")


def consents_given(errors, consents):
    """The required consents ticked (R11): ``consents`` maps kind → (given, version)."""
    for kind in documents.REQUIRED:
        if not consents.get(kind, (False, None))[0]:
            errors[kind] = text("consent.required")
