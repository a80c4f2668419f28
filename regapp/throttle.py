"""Sign-in lock-out with a growing delay (Keycloak's way): slows guessing, not the owner.

Failures count per typed phone (whether or not an account has it, so the
lock-out tells nothing) and per client address. After the free tries each
further failure doubles the wait, up to a ceiling; a success clears the
phone's count; a quiet period forgets old failures. The owner can always
reset the password by SMS instead of waiting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import fn

from regapp.db import database
from regapp.models import SignInThrottle, utcnow


@dataclass(frozen=True)
class Rule:
    free_tries: int
    first_wait: dt.timedelta = dt.timedelta(seconds=30)
    max_wait: dt.timedelta = dt.timedelta(minutes=15)
    forget_after: dt.timedelta = dt.timedelta(hours=12)


RULES = {"phone": Rule(free_tries=5), "address": Rule(free_tries=20)}


def keys(phone, address):
    """The throttle keys of one attempt."""
    found = {"address": f"address:{address or '?'}"}
    if phone:
        found["phone"] = f"phone:{phone}"
    return found


def wait_seconds(attempt_keys, now=None) -> int:
    """How long this attempt must wait (0: it may go ahead)."""
    now = now or utcnow()
    latest = SignInThrottle.select(fn.MAX(SignInThrottle.locked_until)).where(
        SignInThrottle.key.in_(list(attempt_keys.values()))).scalar()
    if latest is None:
        return 0
    until = SignInThrottle.locked_until.python_value(latest)  # SQLite's MAX() gives text
    return max(0, int((until - now).total_seconds() + 0.999))


def failed(attempt_keys, now=None):
    """Count a failure under each key and lengthen the wait where the free tries are used up."""
    now = now or utcnow()
    with database.atomic():
        for kind, key in attempt_keys.items():
            rule = RULES[kind]
            row, _ = SignInThrottle.get_or_create(key=key)
            if row.last_failure_at and now - row.last_failure_at > rule.forget_after:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            over = row.failures - rule.free_tries + 1  # the last free try starts the wait
            if over > 0:
                wait = min(rule.first_wait * 2 ** (over - 1), rule.max_wait)
                row.locked_until = now + wait
            row.save()


def succeeded(attempt_keys):
    """A right password clears the phone's count (the address keeps its own)."""
    if "phone" in attempt_keys:
        SignInThrottle.delete().where(SignInThrottle.key == attempt_keys["phone"]).execute()
