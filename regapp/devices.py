"""New-device notices (issue 6): tell the owner when their account is used from a new browser.

The browser carries a random id in a long-lived cookie; only its hash is kept.
The first device of an account is just remembered; each later new one gets a
notice to the confirmed e-mail, or by SMS while the e-mail is unconfirmed.
"""

from __future__ import annotations

import contextlib

from regapp import messaging, notifications
from regapp.db import write_transaction
from regapp.models import KnownDevice, utcnow
from regapp.statements import Kept
from regapp.tokens import hash_token

#: one look: this browser's hash if known, else any other's (whether it is the first)
_SEEN = Kept(lambda account_id, digest: KnownDevice.select(KnownDevice.device_hash).where(
    KnownDevice.account == account_id).order_by((KnownDevice.device_hash == digest).desc())
    .limit(1).tuples(), 2)
#: a browser remembered: a second tab's the same adds nothing, and is no error
_REMEMBER = Kept(lambda account_id, digest, now: KnownDevice.insert(
    account=account_id, device_hash=digest, first_seen=now).on_conflict_ignore(), 3)

COOKIE = "regapp_device"
COOKIE_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes near 400 days


def note(account, token, notify=True, now=None):
    """Remember this browser for ``account``; notify when it is new and not the first.
    Whether it was new: ``notify=False`` (a registration's sign-in) does not ask, and its
    INSERT is held for the next statement, the session's row (issue 15: one round trip
    and one commit fewer), so None then."""
    digest = hash_token(token)
    if not notify:
        _REMEMBER.run_later(account.id, digest, now or utcnow(), hold=True)
        return None
    seen = _SEEN.first(account.id, digest)
    if seen == (digest,):
        return False
    notice = seen is not None  # a new browser, not the first one
    now = now or utcnow()
    # the device and its notice, together or neither; the device alone is one INSERT, and
    # two tabs signing in at once add it once: one notice is enough
    with write_transaction() if notice else contextlib.nullcontext():
        added = _REMEMBER.run(account.id, digest, now).rowcount
        message = notifications.new_device(account, now) if added and notice else None
    if message:
        messaging.dispatch([message.id])
    return bool(added)
