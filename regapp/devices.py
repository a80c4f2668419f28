"""New-device notices (issue 6): tell the owner when their account is used from a new browser.

The browser carries a random id in a long-lived cookie; only its hash is kept.
The first device of an account is just remembered; each later new one gets a
notice to the confirmed e-mail, or by SMS while the e-mail is unconfirmed.
"""

from __future__ import annotations

from peewee import IntegrityError

from regapp import messaging, notifications
from regapp.db import write_transaction
from regapp.models import KnownDevice, utcnow
from regapp.tokens import hash_token

COOKIE = "regapp_device"
COOKIE_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes near 400 days


def note(account, token, notify=True, now=None):
    """Remember this browser for ``account``; notify when it is new and not the first."""
    digest = hash_token(token)
    # one look: this browser's hash if known, else any other's (whether it is the first)
    seen = (KnownDevice.select(KnownDevice.device_hash).where(KnownDevice.account == account)
            .order_by((KnownDevice.device_hash == digest).desc()).limit(1).scalar())
    if seen == digest:
        return False
    had_devices = seen is not None
    message, now = None, now or utcnow()
    try:
        if notify and had_devices:  # the device and its notice, together or neither
            with write_transaction():
                KnownDevice.create(account=account, device_hash=digest, first_seen=now)
                message = notifications.new_device(account, now)
        else:  # one INSERT: atomic alone
            KnownDevice.create(account=account, device_hash=digest, first_seen=now)
    except IntegrityError:
        return False  # two tabs signing in at once: one notice is enough
    if message:
        messaging.dispatch([message.id])
    return True
