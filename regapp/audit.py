"""The staff audit trail (issue 16): who looked at whose data, who did what, and why.

Every staff view of a person's data and every staff action is one :class:`AuditEvent`
row, written in the same transaction as the action it records; the table is
append-only in the database itself. Operators read it at ``/staff/audit``;
``regapp audit export`` prints it.
"""

from __future__ import annotations

import datetime as dt
import json

from regapp.models import AuditEvent

#: the short columns' width (PostgreSQL refuses longer text; the reason is unbounded)
SHORT = 255


def record(staff, action, subject="", reason="", **details):
    """Write one event; ``staff`` is the signed-in member (a dict from the sign-in)."""
    return AuditEvent.create(
        staff=staff["sub"][:SHORT], staff_name=staff.get("name", "")[:SHORT],
        roles=",".join(staff["roles"])[:SHORT], action=action, subject=subject[:SHORT],
        reason=reason,
        details=json.dumps(details, ensure_ascii=False, default=str) if details else "")


def events(since: dt.date | None = None, limit: int | None = None):
    """The trail, newest first, from ``since`` on."""
    query = AuditEvent.select().order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if since:
        query = query.where(AuditEvent.at >= dt.datetime.combine(since, dt.time()))
    if limit:
        query = query.limit(limit)
    return query


def as_dict(event):
    """One event as ``regapp audit export --json`` writes it."""
    return {"at": event.at.isoformat(timespec="seconds") + "Z", "staff": event.staff,
            "staff_name": event.staff_name, "roles": event.roles, "action": event.action,
            "subject": event.subject, "reason": event.reason,
            "details": json.loads(event.details) if event.details else {}}
