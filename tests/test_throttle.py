"""Sign-in lock-out: grows with failures, resets on success, tells nothing (issue 6)."""

import datetime as dt

from regapp import throttle
from tests.helpers import GOOD, Auth, csrf

T0 = dt.datetime(2026, 11, 25, 9, 0)
KEYS = throttle.keys("+79161234567", "203.0.113.7")


def login(client, **kwargs):
    return Auth(client).login(**kwargs)


def at(seconds):
    return T0 + dt.timedelta(seconds=seconds)


def test_the_wait_grows_after_the_free_tries(app):
    for n in range(5):
        assert throttle.wait_seconds(KEYS, at(n)) == 0
        throttle.failed(KEYS, at(n))
    assert throttle.wait_seconds(KEYS, at(5)) == 29  # 30 s from the fifth failure
    throttle.failed(KEYS, at(40))
    assert throttle.wait_seconds(KEYS, at(40)) == 60
    throttle.failed(KEYS, at(100))
    assert throttle.wait_seconds(KEYS, at(100)) == 120
    for n in range(10):
        throttle.failed(KEYS, at(1000 + n))
    assert throttle.wait_seconds(KEYS, at(1009)) == 15 * 60  # the ceiling


def test_thousands_of_failures_keep_the_ceiling(app):  # issue 13: wapiti found a 500
    from regapp.models import SignInThrottle

    throttle.failed(KEYS, at(0))
    SignInThrottle.update(failures=100_000).execute()  # a scanner's night from one address
    throttle.failed(KEYS, at(1))
    assert throttle.wait_seconds(KEYS, at(1)) == 15 * 60


def test_success_resets_the_phone(app):
    for n in range(6):
        throttle.failed(KEYS, at(n))
    throttle.succeeded(KEYS)
    other_address = throttle.keys("+79161234567", "198.51.100.1")
    assert throttle.wait_seconds(other_address, at(7)) == 0


def test_old_failures_are_forgotten(app):
    for n in range(5):
        throttle.failed(KEYS, at(n))
    throttle.failed(KEYS, at(13 * 3600))
    assert throttle.wait_seconds(KEYS, at(13 * 3600)) == 0


def test_an_address_guessing_many_phones_is_slowed(app):
    for n in range(19):
        throttle.failed(throttle.keys(f"+7916000{n:04d}", "203.0.113.9"), at(n))
    fresh_phone = throttle.keys("+79169999999", "203.0.113.9")
    assert throttle.wait_seconds(fresh_phone, at(21)) == 0
    throttle.failed(fresh_phone, at(21))
    assert throttle.wait_seconds(throttle.keys("+79168888888", "203.0.113.9"), at(22)) > 0


def test_locked_sign_in_says_so_for_accounts_and_strangers_alike(app, account):  # noqa: F811
    client = app.test_client()
    for _ in range(5):
        login(client, password="wrong password entirely")
    locked = login(client).get_data(as_text=True)  # even the right password waits
    assert "Слишком много неудачных попыток" in locked
    stranger = app.test_client()
    for _ in range(5):
        login(stranger, phone="+79031234567", password="wrong password entirely")
    assert "Слишком много неудачных попыток" in login(stranger, phone="+79031234567").get_data(
        as_text=True)


def test_a_busy_address_never_refuses_a_right_password(app, account):  # issue 12: one NAT
    for n in range(25):  # colleagues behind one office address mistype their own phones
        throttle.failed(throttle.keys(f"+7916000{n:04d}", "203.0.113.7"))
    assert throttle.wait_seconds({"address": "address:203.0.113.7"}) > 0
    client = app.test_client()
    answer = client.post("/login", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                         data=_form(client, GOOD))
    assert answer.headers["Location"] == "/account"
    stranger = app.test_client()
    wrong = stranger.post("/login", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                          data=_form(stranger, "not it"))
    assert "Слишком много неудачных попыток" in wrong.get_data(as_text=True)  # friction


def _form(client, password):
    page = client.get("/login").get_data(as_text=True)
    return {"csrf_token": csrf(page), "phone": "+79161234567", "password": password}
