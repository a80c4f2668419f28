"""Delivery as operators see it (issue 16): messages by channel, day and state; the failed
ones with their reasons; an invitation that failed sent again.

Addresses are shown masked (``a***@example.com``): the state of delivery is the
operator's business, whom it went to is not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import JOIN, fn

from regapp import invitations
from regapp.logs import masked
from regapp.models import Invitation, Message, utcnow

#: the states as the page names them
STATES = {"pending": "в очереди", "sending": "отправляется", "sent": "отправлено",
          "failed": "не доставлено", "stale": "не нужно (код устарел)",
          "refused": "не отправлено (адрес не подтверждён)"}
CHANNELS = {"sms": "СМС", "email": "E-mail"}


@dataclass
class Failed:
    id: str
    channel: str
    kind: str
    to: str  # masked
    reason: str
    at: dt.datetime
    invitation_policy: str | None  # the record's policy when it was an invitation


def by_day(days=14, now=None):
    """``{(day, channel): {state: count}}`` for the messages of the last ``days`` days."""
    since = (now or utcnow()) - dt.timedelta(days=days)
    day = fn.DATE(Message.created_at)
    query = (Message.select(day.alias("day"), Message.channel, Message.status,
                            fn.COUNT(Message.id)).where(Message.created_at >= since)
             .group_by(day, Message.channel, Message.status).order_by(day.desc()).tuples())
    table = {}
    for on, channel, status, count in query:
        table.setdefault((str(on), channel), {})[status] = count
    return table


def failed(limit=50):
    """The latest messages that ended failed, with their reasons."""
    rows = (Message.select(Message, Invitation).join(
        Invitation, on=(Invitation.message == Message.id), join_type=JOIN.LEFT_OUTER)
        .where(Message.status == "failed").order_by(Message.created_at.desc()).limit(limit))
    return [Failed(m.id, m.channel, m.kind, masked(m.to), m.last_error or "", m.created_at,
                   m.invitation.record.policy_number if getattr(m, "invitation", None)
                   and m.invitation.id else None) for m in rows]


def resend(message_id, now=None):
    """Send a failed invitation again as a new link (its body, a link, was not kept).
    Returns the dispatch report, or None when the message is no failed invitation: a code
    is one-time, the person asks for a new one."""
    invitation = (Invitation.select().join(Message, on=(Invitation.message == Message.id))
                  .where((Message.id == message_id) & (Message.status == "failed")).first())
    if invitation is None:
        return None
    return invitations.resend_invitation(invitation.record.policy_number, now=now)
