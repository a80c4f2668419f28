"""One-time codes (R28), for every flow that confirms a phone or an e-mail.

Plain Python over the models. A code is 6 digits, valid 5 minutes, used
once; 5 wrong tries end it; a new one comes no sooner than 60 s after the
last and at most 5 an hour per target (a phone in E.164 or an e-mail key) and
purpose; wrong tries count per target and purpose across codes, at most 10 an
hour, so asking for a fresh code does not buy more guesses. Higher ceilings hold
across purposes, but a stranger's wrong recovery codes never lock the owner out
of registration (issue 12). Only an HMAC of the code is stored, and it is
compared in constant time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from peewee import fn

from regapp.db import database, write_transaction
from regapp.models import OneTimeCode, utcnow
from regapp.statements import Kept, KeptInsert
from regapp.texts import text


@dataclass(frozen=True)
class Limits:
    """The numbers of R28."""

    digits: int = 6
    lifetime: dt.timedelta = dt.timedelta(minutes=5)
    tries_per_code: int = 5
    resend_after: dt.timedelta = dt.timedelta(seconds=60)
    codes_per_hour: int = 5
    wrong_tries_per_hour: int = 10
    #: across every purpose of one target: a ceiling on SMS cost and on guesses, above the
    #: per-purpose ones, so one flow's abuse (recovery) never locks another flow out
    codes_per_hour_all: int = 12
    wrong_tries_per_hour_all: int = 25


LIMITS = Limits()
HOUR = dt.timedelta(hours=1)


class CodeError(Exception):
    """A refusal; ``str()`` is the Russian message for the person."""


class TooSoon(CodeError):
    def __init__(self, seconds):
        super().__init__(text("code.too_soon", seconds=seconds))
        self.seconds = seconds


class TooMany(CodeError):
    def __init__(self):
        super().__init__(text("code.too_many"))


class Locked(CodeError):
    def __init__(self):
        super().__init__(text("code.locked"))


class NoCode(CodeError):
    def __init__(self):
        super().__init__(text("code.none"))


class Expired(CodeError):
    def __init__(self):
        super().__init__(text("code.expired"))


class Wrong(CodeError):
    def __init__(self, remaining):
        super().__init__(text("code.wrong", remaining=remaining) if remaining
                         else text("code.wrong_last"))
        self.remaining = remaining


class Malformed(CodeError):
    def __init__(self, digits):
        super().__init__(text("code.malformed", digits=digits))


def _digest(secret, salt, code):
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


#: the statements every code's issue and check run, their SQL written once (issue 15)
_NEW = KeptInsert(OneTimeCode)
_RECENT = Kept(lambda target, since: OneTimeCode.select().where(
    (OneTimeCode.target == target) & (OneTimeCode.created_at > since))
    .order_by(OneTimeCode.created_at.desc()), 2)
_REPLACE = Kept(lambda now, target, purpose: OneTimeCode.update(
    closed_at=now, closed_reason="replaced").where(
    (OneTimeCode.target == target) & (OneTimeCode.purpose == purpose)
    & OneTimeCode.closed_at.is_null()), 3)


def _wrong_tries_since(target, since, purpose=None):
    """The query of the wrong tries at ``target``'s codes made since then (of ``purpose``)."""
    codes = OneTimeCode.alias()
    mine = (codes.target == target) & (codes.created_at > since)
    if purpose is not None:
        mine &= codes.purpose == purpose
    return codes.select(fn.COALESCE(fn.SUM(codes.wrong_tries), 0)).where(mine)


def _newest_open(target, purpose):
    codes = OneTimeCode.alias()
    return (codes.select(codes.id).where((codes.target == target) & (codes.purpose == purpose)
                                         & codes.closed_at.is_null())
            .order_by(codes.created_at.desc()).limit(1))


#: a try reserved at the open code, found by the same statement (one round trip, issue 15),
#: while it has tries left and has not expired and the hour's wrong tries are below their
#: ceilings, its purpose's and the target's; the row as it stands then (none: refused)
_RESERVE = Kept(lambda target, purpose, now, since, most, per_purpose, per_target:
                OneTimeCode.update(wrong_tries=OneTimeCode.wrong_tries + 1).where(
                    (OneTimeCode.id == _newest_open(target, purpose))
                    & OneTimeCode.closed_at.is_null() & (OneTimeCode.wrong_tries < most)
                    & (OneTimeCode.expires_at > now)
                    & (_wrong_tries_since(target, since, purpose) < per_purpose)
                    & (_wrong_tries_since(target, since) < per_target))
                .returning(OneTimeCode), 7)
_CLOSE = Kept(lambda now, reason, given_back, code_id: OneTimeCode.update(
    closed_at=now, closed_reason=reason, wrong_tries=OneTimeCode.wrong_tries - given_back).where(
    (OneTimeCode.id == code_id) & OneTimeCode.closed_at.is_null()), 4)


def last_made(target, purpose):
    """The query of when the newest code for ``target`` and ``purpose`` was made (a row of
    one column: None when there is none)."""
    return OneTimeCode.select(fn.MAX(OneTimeCode.created_at)).where(
        (OneTimeCode.target == target) & (OneTimeCode.purpose == purpose))


_LAST = Kept(lambda target, purpose: last_made(target, purpose).tuples(), 2)


def _recent(target, now):
    """This hour's codes to ``target``, newest first."""
    return _RECENT.rows(target, now - HOUR)


def issue(target, purpose, secret, now=None, limits=LIMITS):
    """Make a new code for ``target``; return ``(row, code)``. Older open ones close. The
    row's id is not read back (it is written with the transaction's next statement).

    :raises TooSoon: the last code is younger than ``resend_after``.
    :raises TooMany: ``codes_per_hour`` codes were made this hour.
    :raises Locked: the wrong tries of this hour are used up.
    """
    now = now or utcnow()
    # its callers each hold a transaction already: joined, not nested (a SAVEPOINT and its
    # RELEASE were two round trips a registration on PostgreSQL, issue 15)
    with contextlib.nullcontext() if database.in_transaction() else write_transaction():
        every = _recent(target, now)
        mine = [c for c in every if c.purpose == purpose]
        if sum(c.wrong_tries for c in mine) >= limits.wrong_tries_per_hour:
            raise Locked()
        if mine and now - mine[0].created_at < limits.resend_after:
            wait = limits.resend_after - (now - mine[0].created_at)
            raise TooSoon(max(1, int(wait.total_seconds() + 0.999)))
        if len(mine) >= limits.codes_per_hour:
            raise TooMany()
        if mine and len(every) >= limits.codes_per_hour_all:  # a purpose's first code goes
            raise TooMany()
        _REPLACE.run_later(now, target, purpose)
        code = f"{secrets.randbelow(10 ** limits.digits):0{limits.digits}d}"
        salt = secrets.token_hex(8)
        row = _NEW.save_later(OneTimeCode(purpose=purpose, target=target, salt=salt,
                                          code_hash=_digest(secret, salt, code), created_at=now,
                                          expires_at=now + limits.lifetime))
    return row, code


def seconds_until_resend(target, purpose, now=None, limits=LIMITS):
    """How long until a new code for ``purpose`` may be asked for (0: now)."""
    return wait_after(_LAST.first(target, purpose)[0], now, limits)


def wait_after(last, now=None, limits=LIMITS):
    """:func:`seconds_until_resend` for the newest code made at ``last`` (None: none)."""
    if last is None:
        return 0
    last = OneTimeCode.created_at.python_value(last)  # SQLite's MAX() gives text
    return max(0, int((limits.resend_after - ((now or utcnow()) - last)).total_seconds() + 0.999))


def verify(target, purpose, typed, secret, now=None, limits=LIMITS, accept=None, then=None):
    """Check ``typed`` against the open code; return the code row, now used.

    ``accept``, when given, is asked once the code is right and before it is used up: an
    exception it returns is raised instead, and the code stays open with its try given
    back (a new password refused after a right code does not cost the person the code).

    ``then``, when given, is called with the used code in the same transaction, and what
    it returns is returned instead: writes that stand or fall with the code's use (the
    account it opens), committed once. An exception it raises undoes both (the code stays
    open, its try given back) and goes on to the caller.

    :raises CodeError: with the reason, in Russian, for the person.
    """
    now = now or utcnow()
    typed = re.sub(r"[\s\-\u2010-\u2015]", "", str(typed or ""))  # « 003 259», «003-259»
    if not re.fullmatch(rf"\d{{{limits.digits}}}", typed):
        raise Malformed(limits.digits)
    with write_transaction():
        outcome = _check(target, purpose, typed, secret, now, limits, accept)
        if then is not None and not isinstance(outcome, Exception):
            outcome = then(outcome)
    # raised outside the transaction, so a wrong try stays counted
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _check(target, purpose, typed, secret, now, limits, accept=None):
    """Return the used code row, or the CodeError to raise once committed.

    A try is reserved before the code is compared: one conditional UPDATE takes it only
    while tries are left, so parallel guesses can never exceed ``tries_per_code`` on
    either database (it holds the row until commit). A right code gives its try back.
    """
    row = _RESERVE.first(target, purpose, now, now - HOUR, limits.tries_per_code,
                         limits.wrong_tries_per_hour, limits.wrong_tries_per_hour_all)
    if row is None:
        return _why_not_reserved(target, purpose, now, limits)
    if hmac.compare_digest(row.code_hash, _digest(secret, row.salt, typed)):
        if accept is not None and (refusal := accept()) is not None:
            _give_back_try(row)
            return refusal  # the code stays open for the corrected answer
        # single use: the reserved try holds the row (or SQLite's write lock) until commit, so
        # a request with the same code waits, then finds it closed; the try is given back
        _CLOSE.run_later(now, "used", 1, row.id)
        return row
    remaining = max(0, limits.tries_per_code - row.wrong_tries)  # this try counted
    if remaining == 0:
        _close(row, now, "tries")
    return Wrong(remaining)


def _why_not_reserved(target, purpose, now, limits):
    """The refusal when no try could be reserved, told as it was before the UPDATE looked:
    the hour's wrong tries used up, no open code, the open one expired (closed now), or its
    tries used up or it closed by a parallel request meanwhile."""
    every = _recent(target, now)
    if (sum(c.wrong_tries for c in every if c.purpose == purpose) >= limits.wrong_tries_per_hour
            or sum(c.wrong_tries for c in every) >= limits.wrong_tries_per_hour_all):
        return Locked()
    row = next((c for c in every if c.purpose == purpose and c.closed_at is None), None)
    row = row or _open_code(target, purpose)  # an open one older than the hour: expired
    if row is None:
        return NoCode()
    if row.expires_at <= now:
        _close(row, now, "expired")
        return Expired()
    return NoCode()


def _close(row, now, reason):
    """Close an open code, with the transaction's COMMIT (a parallel request may have
    closed it first: no matter)."""
    _CLOSE.run_later(now, reason, 0, row.id)


def _give_back_try(row):
    OneTimeCode.update(wrong_tries=OneTimeCode.wrong_tries - 1).where(
        OneTimeCode.id == row.id).execute()


def _open_code(target, purpose):
    return OneTimeCode.get_or_none(OneTimeCode.id == _newest_open(target, purpose))
