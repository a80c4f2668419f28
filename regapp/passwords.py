"""The password policy (R10) and argon2id hashing (R28).

NIST SP 800-63B's way: length first (8 at least, up to 128 accepted), no
composition rules, and a strength estimator (zxcvbn, score 3 or more) that
also knows the person's own name, phone and policy number. :func:`hints`
gives the rules as ticks for the form; :func:`check` is what a submit
enforces; both read the same rules.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn_rs_py import zxcvbn

from regapp.priority import yield_cores
from regapp.texts import text as say

MIN_LENGTH = 8
MAX_LENGTH = 128
MIN_SCORE = 3
_hasher = PasswordHasher()  # argon2id with the library's current parameters


#: one argon2id computation at a time in a process, on a thread that yields the cores to
#: pages (argon2's lane threads inherit it): each already runs its lanes on every core and
#: takes 64 MiB, so a dozen at once (gthread workers under a rush) would only thrash the
#: caches and the memory (issue 15)
def _hashing_thread():
    return concurrent.futures.ThreadPoolExecutor(1, "argon2id", initializer=yield_cores)


_hashing = _hashing_thread()


def _after_fork():
    """A forked child (gunicorn's preload, a process pool) has no threads: its own."""
    global _hashing
    _hashing = _hashing_thread()


os.register_at_fork(after_in_child=_after_fork)


@dataclass(frozen=True)
class Hint:
    """One rule as the form shows it: met or not yet."""

    key: str
    text: str
    met: bool


#: the estimate's cost grows faster than the length (1.7 ms at 72, 3.1 at 128): the first
#: 72 characters of a longer password are plenty, as the original zxcvbn limits them too
ESTIMATOR_MAX = 72


def _context_words(context):
    """The person's own data, and its pieces, that a password must not lean on."""
    words = set()
    for value in context or ():
        text = str(value or "").casefold()
        words.add(text)
        words.update(w for w in re.split(r"[\s\-+()]+", text) if len(w) >= 3)
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 6:
            words.update({digits, digits[-10:], digits[-7:], digits[-4:]})
    return sorted(w for w in words if w)


def _leans_on_context(password, words):
    lowered = password.casefold()
    return any(len(w) >= 4 and w in lowered for w in words)


def hints(password, context=()):
    """The rules, each ticked or not, for the hints under the field."""
    password = password or ""
    long_enough = MIN_LENGTH <= len(password) <= MAX_LENGTH
    words = _context_words(context)
    personal = bool(password) and _leans_on_context(password, words)
    strong = long_enough and not personal and _strong(password, words)
    return [
        Hint("length", say("password.hint.length", least=MIN_LENGTH), long_enough),
        Hint("personal", say("password.hint.personal"), bool(password) and not personal),
        Hint("strength", say("password.hint.strength"), strong),
    ]


def unticked():
    """The hints of a whole page: it never sends a typed password back, so its fields come
    empty and no rule may show as met (issue 14: ✓✓✓ beside empty fields)."""
    return hints("")


def check(password, context=(), estimate=True):
    """Return None when the password may be used, else the reason in plain words.
    ``estimate=False`` leaves out the strength estimate (a millisecond and more of CPU),
    for a caller that makes it once later with fuller context (issue 15)."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return say("password.too_short", least=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return say("password.too_long", most=MAX_LENGTH)
    words = _context_words(context)
    if _leans_on_context(password, words):
        return say("password.personal")
    if estimate and not _strong(password, words):
        return say("password.weak")
    return None


def _strong(password, words):
    return int(zxcvbn(password[:ESTIMATOR_MAX], words).score) >= MIN_SCORE


def warm():
    """Build the strength estimator's dictionaries now: zxcvbn builds them on its first
    call, 11 ms holding the GIL, and a fresh worker's first submit stalled every thread of
    it (the slowest inline checks of issue 15's load were in a load's first second)."""
    _strong("warm up", [])


def hash_password(password):
    """An argon2id hash to store."""
    return _hashing.submit(_hasher.hash, password).result()


def verify_password(stored_hash, password):
    """Whether ``password`` matches; never raises for a wrong or broken hash."""
    try:
        return _hashing.submit(_hasher.verify, stored_hash, password).result()
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash):
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
