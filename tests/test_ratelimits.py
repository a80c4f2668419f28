"""Several rate limits counted at once (issue 15): an inline check's four windows in one
round trip to Redis, counted as Flask-Limiter's fixed window counts."""

import pytest
from limits import parse_many

from regapp.testing.peers import free_port
from tests.helpers import csrf

pytestmark = pytest.mark.settings(RATELIMIT_ENABLED=True)


def _hits(who):
    return [(item, ("test", who)) for item in parse_many("3/minute;10/hour")]


def _windows(app):
    windows = app.extensions["regapp.windows"]
    return windows, windows.limiter


def test_every_window_is_counted_and_the_first_breach_refuses(app):
    windows, limiter = _windows(app)
    assert [windows.within_all(_hits("a")) for _ in range(4)] == [True, True, True, False]
    assert windows.within_all(_hits("b"))  # another key has its own windows
    hour = parse_many("10/hour")[0]
    assert limiter.limiter.get_window_stats(hour, "test", "a").remaining == 6  # all 4 counted


def test_a_try_given_back_leaves_every_window_as_before(app):  # Redis on PostgreSQL's pass
    windows, limiter = _windows(app)
    hour = parse_many("10/hour")[0]
    windows.within_all(_hits("g"))
    for _ in range(5):  # refusals that are the person's own doing
        assert windows.within_all(_hits("g"))
        windows.give_back(_hits("g"))
    assert limiter.limiter.get_window_stats(hour, "test", "g").remaining == 9
    assert [windows.within_all(_hits("g")) for _ in range(3)] == [True, True, False]


def test_a_try_given_back_after_its_window_ended_leaves_the_next_one_whole(app):
    """The window counted as the request started ended before the refusal: the next
    window is not started one lower (a try more in it). Redis on PostgreSQL's pass."""
    windows, limiter = _windows(app)
    assert windows.within_all(_hits("h"))
    for item in parse_many("3/minute;10/hour"):  # both windows ended meanwhile
        limiter.limiter.clear(item, "test", "h")
    windows.give_back(_hits("h"))
    assert [windows.within_all(_hits("h")) for _ in range(4)] == [True, True, True, False]


def test_with_limits_off_nothing_is_counted(app):
    windows, limiter = _windows(app)
    limiter.enabled = False
    try:
        assert all(windows.within_all(_hits("c")) for _ in range(5))
    finally:
        limiter.enabled = True


@pytest.mark.postgres_only
def test_on_redis_the_windows_go_in_one_round_trip(app, monkeypatch):
    from redis.connection import Connection

    windows, limiter = _windows(app)
    limiter.storage.get_connection().script_flush()  # as after a restart: no script loaded
    assert windows.within_all(_hits("d"))  # loaded again, and counted once
    assert limiter.limiter.get_window_stats(parse_many("3/minute")[0], "test", "d").remaining == 2
    sent, real = [], Connection.send_packed_command
    monkeypatch.setattr(Connection, "send_packed_command",
                        lambda self, *a, **kw: (sent.append(1), real(self, *a, **kw))[1])
    windows.within_all(_hits("d") + _hits("e"))  # four windows
    assert len(sent) == 1


@pytest.mark.settings(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
def test_redis_gone_the_windows_are_counted_in_memory_and_redis_asked_again(
        app, client, monkeypatch, caplog):
    """Redis gone refuses nobody a page (every POST ended in a 500): each process limits
    alone meanwhile, and asks Redis again after a while; the staff console too."""
    from regapp import ratelimits

    windows, _ = _windows(app)
    assert [windows.within_all(_hits("m")) for _ in range(4)] == [True, True, True, False]
    assert "counted in this process alone" in caplog.text
    assert client.get("/staff/").status_code == 303  # to the sign-in, Flask-Limiter's look
    asked = []
    monkeypatch.setattr(ratelimits, "_counted_on_redis", lambda *a: asked.append(1) or [1, 1])
    windows.within_all(_hits("m"))
    assert asked == []  # not before RETRY seconds
    monkeypatch.setattr(windows, "retry_at", 0.0)
    assert windows.within_all(_hits("m")) and asked == [1]


def test_the_staff_console_limits_every_request_even_a_look(app, client):
    """A stolen staff session cannot page through everyone: 120 looks a minute."""
    from tests.test_staff import signed_in_as

    support = signed_in_as(app, client, "support")
    statuses = [support.get("/staff/").status_code for _ in range(121)]
    assert statuses[:120] == [200] * 120 and statuses[120] == 429


def test_flask_limiter_looks_only_where_it_keeps_limits(app, client, signed_in, monkeypatch):
    """A portal page and a submit counted in one round trip, a view that may give a try
    back too: Flask-Limiter's look for limits costs them nothing; the staff console keeps
    its limits."""
    from tests.test_staff import signed_in_as

    limiter = app.extensions["regapp.limiter"]
    looked, real = [], limiter.limit_manager.resolve_limits
    monkeypatch.setattr(limiter.limit_manager, "resolve_limits",
                        lambda *a, **kw: (looked.append(1), real(*a, **kw))[1])
    page = client.get("/register")
    client.post("/register", data={"csrf_token": csrf(page.get_data(as_text=True))})
    page = signed_in.get("/account").get_data(as_text=True)
    signed_in.post("/account/email", data={"csrf_token": csrf(page), "value": "a@b.ru"})
    assert looked == []
    signed_in_as(app, client, "support").get("/staff/")
    assert looked


def test_a_view_that_may_give_a_try_back_keeps_its_limit(signed_in):
    """Five changes of contact a minute (a wrong password counts), where typing the
    current contact gives its try back."""
    statuses = []
    for _ in range(6):
        page = signed_in.get("/account").get_data(as_text=True)
        statuses.append(signed_in.post("/account/email", data={
            "csrf_token": csrf(page), "value": "new@example.org", "password": "wrong"}).status_code)
    assert statuses[:5] == [200] * 5 and statuses[5] == 429, statuses
