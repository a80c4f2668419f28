"""Several rate limits counted in one round trip to the limiter's storage (issue 15).

Flask-Limiter counts a request's limits one at a time, one round trip each to Redis: an
inline check, the portal's most frequent request (one a field a person leaves), counted
four (two windows per address and per session), a third of its CPU with limits on, and
a registration's form four more. :class:`Windows` counts them as Flask-Limiter's fixed
window does (its strategy here: ``INCR`` and ``EXPIRE`` by the ``limits`` package's own
script, on the same storage) in one pipeline (``views.common.limit_view``), and takes
them back as one.

Redis gone (restarted, unreachable) is not a reason to refuse anybody a page: the
windows are then counted in the process's memory, each process limiting alone as
Flask-Limiter's own fallback does, and Redis is asked again every :data:`RETRY` seconds.
"""

from __future__ import annotations

import logging
import time

from limits.storage import MemoryStorage, RedisStorage

log = logging.getLogger("regapp.ratelimits")

#: seconds between two tries of a storage that did not answer
RETRY = 15


class Windows:
    """The portal's rate-limit windows on Flask-Limiter's storage (``limiter``)."""

    def __init__(self, limiter):
        self.limiter = limiter
        self.memory = None  # the fallback, made when first needed
        self.retry_at = 0.0

    def within_all(self, hits):
        """Count one hit on each ``(item, identifiers)``; whether every one is within its
        amount. Every limit is counted, a breached one too (a prober's windows all fill)."""
        if not self.limiter.enabled:
            return True
        keyed = [(item.key_for(*identifiers), item.get_expiry(), item.amount)
                 for item, identifiers in hits]
        counts = self._counted([(key, expiry) for key, expiry, _ in keyed])
        return all(int(count) <= amount
                   for count, (_, _, amount) in zip(counts, keyed, strict=True))

    def give_back(self, hits):
        """Take back the hit :meth:`within_all` counted on each window (a refusal that is
        the person's own doing), in the windows that still stand: one that ended meanwhile
        is not started one lower (a try more in it)."""
        if self.limiter.enabled:
            self._counted([(item.key_for(*identifiers), item.get_expiry())
                           for item, identifiers in hits], give_back=True)

    def _counted(self, keys, give_back=False):
        """Each ``(key, expiry)`` window counted (or a hit given back): its counts, on the
        limiter's storage or, while it does not answer, in this process's memory."""
        storage = self.limiter.storage
        if not isinstance(storage, RedisStorage):  # in memory already: one process
            return _in_memory(storage, keys, give_back)
        if time.monotonic() >= self.retry_at:
            from redis.exceptions import RedisError  # an extra: here only when it is used

            try:
                return _counted_on_redis(storage, keys, give_back)
            except RedisError as exc:
                self.retry_at = time.monotonic() + RETRY
                log.warning("rate limits counted in this process alone for %s s: their "
                            "storage did not answer (%s)", RETRY, type(exc).__name__)
        self.memory = self.memory or MemoryStorage()
        return _in_memory(self.memory, keys, give_back)


def _in_memory(storage, keys, give_back):
    """:meth:`Windows._counted` on a storage in this process (``decr`` leaves an ended
    window ended)."""
    if give_back:
        return [storage.decr(key) for key, _ in keys]
    return [storage.incr(key, expiry) for key, expiry in keys]


#: a hit given back on Redis where its window still stands (``limits`` has no script for it)
GIVE_BACK = """if redis.call("exists", KEYS[1]) == 1 then return redis.call("decr", KEYS[1]) end
return 0"""


def _counted_on_redis(storage, keys, give_back=False):
    """Each key's window counted by the storage's own script (or a hit given back by
    :data:`GIVE_BACK`), by its digest: a pipeline given the script itself asks Redis
    whether it has it first (a round trip more)."""
    from redis.exceptions import NoScriptError

    connection = storage.get_connection()
    script = connection.register_script(GIVE_BACK) if give_back else storage.lua_incr_expire
    for _ in range(2):
        batch = connection.pipeline(transaction=False)
        for key, expiry in keys:
            batch.evalsha(script.sha, 1, storage.prefixed_key(key),
                          *(() if give_back else (expiry, 1)))
        try:
            return batch.execute()
        except NoScriptError:  # Redis restarted empty: nothing counted; loaded, again
            connection.script_load(script.script)
    raise NoScriptError("the limiter's script would not stay loaded")
