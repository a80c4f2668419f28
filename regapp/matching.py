"""Finding a person in the roster without a link (R14, R15), and why not (R31).

Plain Python over the models. The person's typed names, birth date, phone
and e-mail go through the same normalizers as the roster. A match needs an
active record with the same name word sequence and birth date whose phone
and/or e-mail equals the typed one. When there is none, the person hears one
message whatever differed; the reason is kept for support.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from regapp.models import RosterRecord
from regapp.statements import Kept

#: reasons kept for support (R31), worded for reading out on the help line
REASONS = {
    "no_such_person": "нет застрахованного с такими фамилией, именем и отчеством",
    "wrong_birth_date": "ФИО найдены, но дата рождения в списке другая",
    "policy_inactive": "полис не действует на сегодня (ещё не начался или уже закончился)",
    "contacts_differ": "ФИО и дата рождения совпали, но и телефон, и e-mail отличаются от списка",
    "phone_taken": "телефон уже использует другой пользователь",
    "email_taken": "e-mail уже использует другой пользователь",
    "duplicate_email": "e-mail указан у нескольких застрахованных в списке",
    "link_expired": "ссылка из приглашения просрочена",
}


@dataclass(frozen=True)
class Typed:
    """What the person typed, already normalized."""

    name_key: str
    birth_date: dt.date
    phone: str | None
    email_key: str | None


@dataclass(frozen=True)
class Match:
    """A found record and which contacts agreed; or the reason there is none."""

    record: RosterRecord | None
    phone_matches: bool = False
    email_matches: bool = False
    reason: str | None = None


_SAME_NAME = Kept(lambda name_key: RosterRecord.select().where(RosterRecord.name_key == name_key), 1)


def find(typed: Typed, today=None) -> Match:
    """Find the active record that is this person (R15), or say why there is none."""
    today = today or dt.date.today()
    same_name = _SAME_NAME.rows(typed.name_key)
    if not same_name:
        return Match(None, reason="no_such_person")
    born = [r for r in same_name if r.birth_date == typed.birth_date]
    if not born:
        return Match(None, reason="wrong_birth_date")
    active = [r for r in born if r.is_active(today)]
    if not active:
        return Match(None, reason="policy_inactive")
    scored = sorted(
        ((typed.phone is not None and r.phone == typed.phone,
          typed.email_key is not None and r.email_key == typed.email_key, r) for r in active),
        key=lambda s: (s[0] + s[1], s[0], s[2].valid_to or dt.date.max, s[2].id),
        reverse=True)
    phone_ok, email_ok, record = scored[0]
    if not (phone_ok or email_ok):
        return Match(None, reason="contacts_differ")
    return Match(record, phone_matches=phone_ok, email_matches=email_ok)
