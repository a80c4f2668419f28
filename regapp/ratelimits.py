"""Several rate limits counted in one round trip to the limiter's storage (issue 15).

Flask-Limiter counts a request's limits one at a time, one round trip each to Redis: an
inline check, the portal's most frequent request (one a field a person leaves), counted
four (two windows per address and per session), a third of its CPU with limits on, and
a registration's form four more. :func:`within_all` counts them as Flask-Limiter's fixed
window does (its strategy here: ``INCR`` and ``EXPIRE`` by the ``limits`` package's own
script, on the same storage) in one pipeline (``views.common.limit_view``), and
:func:`give_back` takes them back as one.
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
    counts = _counted(limiter.storage, [(key, expiry) for key, expiry, _ in keyed], 1)
    return all(int(count) <= amount
               for count, (_, _, amount) in zip(counts, keyed, strict=True))


def give_back(limiter, hits):
    """Take back the hit :func:`within_all` counted on each window (a refusal that is the
    person's own doing). A window that ended meanwhile starts one lower: a try more in it."""
    if limiter.enabled:
        _counted(limiter.storage,
                 [(item.key_for(*identifiers), item.get_expiry()) for item, identifiers in hits],
                 -1)


def _counted(storage, keys, amount):
    """Each ``(key, expiry)`` window moved by ``amount``: its counts."""
    if isinstance(storage, RedisStorage):
        return _counted_on_redis(storage, keys, amount)
    return [storage.incr(key, expiry, amount) for key, expiry in keys]  # in memory: one process


def _counted_on_redis(storage, keys, amount):
    """Each key's window counted by the storage's own script, by its digest: a pipeline
    given the script itself asks Redis whether it has it first (a round trip more)."""
    from redis.exceptions import NoScriptError  # Redis is an extra: here only when it is used

    script, connection = storage.lua_incr_expire, storage.get_connection()
    for _ in range(2):
        batch = connection.pipeline(transaction=False)
        for key, expiry in keys:
            batch.evalsha(script.sha, 1, storage.prefixed_key(key), expiry, amount)
        try:
            return batch.execute()
        except NoScriptError:  # Redis restarted empty: nothing counted; loaded, again
            connection.script_load(script.script)
    raise NoScriptError("the limiter's script would not stay loaded")
