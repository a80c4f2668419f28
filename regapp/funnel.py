"""The registration funnel (issue 16): how many of an employer's people got how far.

On the roster → invited → followed the link (sent its form: a POST, since opening a link
is not counted, R33: mail scanners open every link) → registered (by link, by the form
without one; with Gosuslugi) → e-mail confirmed. Counts per employer and in all; the
dates, when given, bound when the invitation, the form or the account was made.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import asdict, dataclass, fields

from peewee import fn

from regapp.models import Account, Invitation, PendingRegistration, RosterRecord

#: what each column counts, in the page's and the export's words
LABELS = {"employer": "Страхователь", "roster": "В списке", "invited": "Приглашены",
          "followed": "Перешли по ссылке", "registered": "Зарегистрированы",
          "by_link": "по ссылке", "by_form": "без ссылки", "with_esia": "с Госуслугами",
          "email_confirmed": "E-mail подтверждён"}


@dataclass
class Stage:
    """One employer's funnel (or the total, employer "")."""

    employer: str
    roster: int = 0
    invited: int = 0
    followed: int = 0
    registered: int = 0
    by_link: int = 0
    by_form: int = 0
    with_esia: int = 0
    email_confirmed: int = 0

    def share(self, name):
        """The stage as a percentage of the roster (0 when the roster is empty)."""
        return round(100 * getattr(self, name) / self.roster, 1) if self.roster else 0.0


def funnel(employer=None, since: dt.date | None = None, until: dt.date | None = None):
    """``(rows per employer, total)``: every employer's funnel, largest roster first."""
    rows = {}

    def add(name, query):
        for who, count in query.tuples():
            rows.setdefault(who, Stage(who))
            setattr(rows[who], name, getattr(rows[who], name) + count)

    people = fn.COUNT(fn.DISTINCT(RosterRecord.id))
    add("roster", _by_employer(RosterRecord.select(RosterRecord.employer, people), employer))
    add("invited", _by_employer(RosterRecord.select(RosterRecord.employer, people)
                                .join(Invitation).where(_within(Invitation.created_at, since, until)),
                                employer))
    add("followed", _by_employer(
        RosterRecord.select(RosterRecord.employer, people).join(PendingRegistration)
        .where(PendingRegistration.invitation.is_null(False)
               & _within(PendingRegistration.created_at, since, until)), employer))
    accounts = (RosterRecord.select(RosterRecord.employer, people).join(Account)
                .where(_within(Account.created_at, since, until)))
    add("registered", _by_employer(accounts, employer))
    spent = fn.EXISTS(Invitation.select().where((Invitation.record == RosterRecord.id)
                                                 & Invitation.spent_at.is_null(False)))
    add("by_link", _by_employer(accounts.where(spent), employer))
    add("with_esia", _by_employer(accounts.where(Account.esia_id.is_null(False)), employer))
    add("email_confirmed", _by_employer(accounts.where(Account.email_confirmed), employer))
    total = Stage("")
    for row in rows.values():
        row.by_form = row.registered - row.by_link
        for name in (f.name for f in fields(Stage) if f.name != "employer"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return sorted(rows.values(), key=lambda r: (-r.roster, r.employer)), total


def _by_employer(query, employer):
    if employer is not None:
        query = query.where(RosterRecord.employer == employer)
    return query.group_by(RosterRecord.employer)


def _within(column, since, until):
    condition = column.is_null(False)
    if since:
        condition &= column >= dt.datetime.combine(since, dt.time())
    if until:
        condition &= column < dt.datetime.combine(until + dt.timedelta(days=1), dt.time())
    return condition


def employers():
    """Every employer on the roster, for the filter."""
    return [e for (e,) in RosterRecord.select(RosterRecord.employer).distinct()
            .order_by(RosterRecord.employer).tuples()]


def as_csv(rows, total) -> str:
    """The funnel as CSV for Excel (``;``, UTF-8 with BOM); a cell that a spreadsheet would
    read as a formula (= + - @, a tab or CR first) is written as text (OWASP: CSV injection)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(LABELS.values())
    for row in [*rows, total]:
        values = asdict(row)
        values["employer"] = row.employer or "Все"
        writer.writerow([_inert(values[name]) for name in LABELS])
    return out.getvalue()


def _inert(value):
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
