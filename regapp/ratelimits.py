"""Several rate limits counted in one round trip to the limiter's storage (issue 15).

Flask-Limiter counts a request's limits one at a time, one round trip each to Redis: an
inline check, the portal's most frequent request (one a field a person leaves), counted
four (two windows per address and per session), a third of its CPU with limits on, and
a registration's form four more. :func:`within_all` counts them as Flask-Limiter's fixed
window does (its strategy here: ``INCR`` and ``EXPIRE`` by the ``limits`` package's own
script, on the same storage) in one pipeline (``views.common.limit_view``).
"""

from __future__ import annotations

from limits.storage import RedisStorage


def within_all(limiter, hits):
    """Count one hit on each ``(item, identifiers)``; whether every one is within its
    amount. Every limit is counted, a breached one too (a prober's windows all fill)."""
    if not limiter.enabled:
        return True
    keyed = [(item.key_for(*identifiers), item.get_expiry(), item.amount)
             for item, identifiers in hits]
    storage = limiter.storage
    if isinstance(storage, RedisStorage):
        counts = _counted_on_redis(storage, [(key, expiry) for key, expiry, _ in keyed])
    else:  # in memory (one process): nothing to save
        counts = [storage.incr(key, expiry) for key, expiry, _ in keyed]
    return all(int(count) <= amount
               for count, (_, _, amount) in zip(counts, keyed, strict=True))


def _counted_on_redis(storage, keys):
    """Each key's window counted by the storage's own script, by its digest: a pipeline
    given the script itself asks Redis whether it has it first (a round trip more)."""
    from redis.exceptions import NoScriptError  # Redis is an extra: here only when it is used

    script, connection = storage.lua_incr_expire, storage.get_connection()
    for _ in range(2):
        batch = connection.pipeline(transaction=False)
        for key, expiry in keys:
            batch.evalsha(script.sha, 1, storage.prefixed_key(key), expiry, 1)
        try:
            return batch.execute()
        except NoScriptError:  # Redis restarted empty: nothing counted; loaded, again
            connection.script_load(script.script)
    raise NoScriptError("the limiter's script would not stay loaded")
