"""Marketing consent per channel (R11, R23): the latest event decides, at once.

Registration records one ``marketing`` event (both channels); the account page
records ``marketing_sms`` or ``marketing_email``. Every change is a new
append-only row with the exact label shown, its hash, address and browser.
"""

from __future__ import annotations

import hashlib

from regapp import documents
from regapp.models import ConsentEvent, utcnow

CHANNELS = {"sms": "по СМС", "email": "по e-mail"}


def label(channel):
    return f"Я согласен получать маркетинговую коммуникацию {CHANNELS[channel]}"


def marketing_state(account) -> dict:
    """channel → whether marketing may be sent there now."""
    events = (ConsentEvent.select()
              .where((ConsentEvent.account == account)
                     & ConsentEvent.kind.in_(["marketing", "marketing_sms", "marketing_email"]))
              .order_by(ConsentEvent.at, ConsentEvent.id))
    state = dict.fromkeys(CHANNELS, False)
    for event in events:
        for channel in CHANNELS if event.kind == "marketing" else [event.kind.split("_", 1)[1]]:
            state[channel] = event.granted
    return state


def may_market(account, channel) -> bool:
    """The check a marketing sender makes right before sending (a withdrawal stops it)."""
    return marketing_state(account)[channel]


def set_marketing(account, channel, granted, client, source="account"):
    """Record a change made on the account page; return the new state."""
    if channel not in CHANNELS:
        raise ValueError(channel)
    text = label(channel)
    _, version = documents.CURRENT["marketing"]
    ConsentEvent.create(
        account=account, record=account.record, kind=f"marketing_{channel}",
        granted=bool(granted), document="marketing", version=version,
        text_sha256=hashlib.sha256(text.encode()).hexdigest(), label=text, channel=source,
        client_ip=client.ip, user_agent=client.user_agent, at=utcnow())
    return marketing_state(account)
