"""Several rate limits counted at once (issue 15): an inline check's four windows in one
round trip to Redis, counted as Flask-Limiter's fixed window counts."""

import pytest
from limits import parse_many

from regapp.ratelimits import within_all

pytestmark = pytest.mark.settings(RATELIMIT_ENABLED=True)


def _hits(who):
    return [(item, ("test", who)) for item in parse_many("3/minute;10/hour")]


def test_every_window_is_counted_and_the_first_breach_refuses(app):
    limiter = app.extensions["regapp.limiter"]
    assert [within_all(limiter, _hits("a")) for _ in range(4)] == [True, True, True, False]
    assert within_all(limiter, _hits("b"))  # another key has its own windows
    hour = parse_many("10/hour")[0]
    assert limiter.limiter.get_window_stats(hour, "test", "a").remaining == 6  # all 4 counted


def test_with_limits_off_nothing_is_counted(app):
    limiter = app.extensions["regapp.limiter"]
    limiter.enabled = False
    try:
        assert all(within_all(limiter, _hits("c")) for _ in range(5))
    finally:
        limiter.enabled = True


@pytest.mark.postgres_only
def test_on_redis_the_windows_go_in_one_round_trip(app, monkeypatch):
    from redis.connection import Connection

    limiter = app.extensions["regapp.limiter"]
    limiter.storage.get_connection().script_flush()  # as after a restart: no script loaded
    assert within_all(limiter, _hits("d"))  # loaded again, and counted once
    assert limiter.limiter.get_window_stats(parse_many("3/minute")[0], "test", "d").remaining == 2
    sent, real = [], Connection.send_packed_command
    monkeypatch.setattr(Connection, "send_packed_command",
                        lambda self, *a, **kw: (sent.append(1), real(self, *a, **kw))[1])
    within_all(limiter, _hits("d") + _hits("e"))  # four windows
    assert len(sent) == 1
