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

from peewee import Case, fn

from regapp.db import write_transaction
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


def reserve(attempt_keys, now=None) -> dict:
    """Count this attempt as a failure before the password is checked; return the waits.

    The answer maps each kind (``phone``, ``address``) to the seconds it is locked for.
    A locked phone refuses the attempt, uncounted. Otherwise the attempt is counted now,
    so parallel attempts cannot all slip past the lock-out between a check and a count,
    and a right password then calls :func:`succeeded`, which takes the count back. An
    address's lock-out never refuses a right password (one office, one mobile operator's
    NAT): the caller uses it only to answer a wrong one. The whole reservation is one
    transaction over locked rows (a row lock on PostgreSQL, the write lock on SQLite).
    """
    now = now or utcnow()
    with write_transaction():
        for key in attempt_keys.values():
            SignInThrottle.insert(key=key, failures=0).on_conflict_ignore().execute()
        _lock(attempt_keys)
        found = {kind: wait_seconds({kind: key}, now) for kind, key in attempt_keys.items()}
        if not found.get("phone"):
            for kind, key in attempt_keys.items():
                _count(key, RULES[kind], now)
    return found


def _lock(attempt_keys):
    """Hold the keys' rows until commit, so the read that follows sees every earlier attempt.

    A no-op UPDATE does on both databases what SELECT … FOR UPDATE does on PostgreSQL
    only: a row lock there (each later statement reads what committed meanwhile), the
    database's write lock on SQLite.
    """
    SignInThrottle.update(failures=SignInThrottle.failures).where(
        SignInThrottle.key.in_(list(attempt_keys.values()))).execute()


def _count(key, rule, now):
    stale = SignInThrottle.last_failure_at < now - rule.forget_after
    SignInThrottle.update(
        failures=Case(None, [(stale, 1)], SignInThrottle.failures + 1), last_failure_at=now,
    ).where(SignInThrottle.key == key).execute()
    failures = SignInThrottle.get_by_id(key).failures  # this transaction's own write
    over = failures - rule.free_tries + 1  # the last free try starts the wait
    if over > 0:
        # the exponent stops growing long before it could overflow a timedelta (a scanner
        # makes thousands of tries from one address)
        wait = min(rule.first_wait * 2 ** min(over - 1, 30), rule.max_wait)
        SignInThrottle.update(locked_until=now + wait).where(SignInThrottle.key == key).execute()


def failed(attempt_keys, now=None):
    """Count a failure under each key, locked out or not, lengthening the wait."""
    now = now or utcnow()
    with write_transaction():
        for kind, key in attempt_keys.items():
            SignInThrottle.insert(key=key, failures=0).on_conflict_ignore().execute()
            _count(key, RULES[kind], now)


def succeeded(attempt_keys):
    """A right password clears the phone's count and takes back the address's reservation."""
    with write_transaction():
        if "phone" in attempt_keys:
            SignInThrottle.delete().where(SignInThrottle.key == attempt_keys["phone"]).execute()
        SignInThrottle.update(failures=SignInThrottle.failures - 1).where(
            (SignInThrottle.key == attempt_keys["address"]) & (SignInThrottle.failures > 0)
        ).execute()
