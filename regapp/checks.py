"""The checks that several forms share, written once (R9–R11, R16, R29).

Each adds its refusal to ``errors`` (field name → words) so a form can show every
problem at once. Both registration forms, recovery and contact changes use them; the
database's unique constraints still decide a race (R29).
"""

from __future__ import annotations

import functools
import operator
from functools import reduce

from regapp import documents, passwords
from regapp.models import Account
from regapp.statements import Kept
from regapp.texts import text


def _uses_phone(phone):
    return Account.phone == phone


def _holds_email(email_key):
    """An account that confirmed the address; an unconfirmed claim yields to the owner."""
    return (Account.email_key == email_key) & (Account.email_confirmed == True)  # noqa: E712


def phone_taken(phone):
    return Account.select().where(_uses_phone(phone)).exists()


def email_taken(email_key):
    return Account.select().where(_holds_email(email_key)).exists()


def contacts_free(errors, phone=None, email_key=None):
    """«уже занят» beside a phone or e-mail another account uses (R9, R16): both rules
    asked in one query, each answered per account found."""
    given = {field: value for field, value in (("phone", phone), ("email", email_key)) if value}
    if not given:
        return
    for found in _CONTACTS[tuple(given)].rows(*given.values()):
        for field, holds in zip(given, found, strict=True):
            if holds:
                errors[field] = text(f"{field}.taken")


def _contacts_query(fields, *values):
    rules = [_RULES[field](value) for field, value in zip(fields, values, strict=True)]
    return Account.select(*rules).where(reduce(operator.or_, rules)).tuples()


_RULES = {"phone": _uses_phone, "email": _holds_email}
#: each of the lookups contacts_free makes, its SQL written once (issue 15)
_CONTACTS = {fields: Kept(functools.partial(_contacts_query, fields), len(fields))
             for fields in (("phone",), ("email",), ("phone", "email"))}


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
