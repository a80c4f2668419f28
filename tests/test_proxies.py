"""HTTPS and proxies (issue 11, R28): CSRF's origin check over HTTPS, PROXY_HOPS, HSTS."""

import pytest
from flask import request

from tests.helpers import csrf

HTTPS = "https://regapp.example.com"


def login_post(client, **headers):
    page = client.get("/login", base_url=HTTPS).get_data(as_text=True)
    return client.post("/login", base_url=HTTPS, headers=headers,
                       data={"csrf_token": csrf(page), "phone": "89160000000", "password": "x"})


def test_a_same_origin_post_over_https_passes_csrf(client):
    assert login_post(client, Referer=HTTPS + "/login").status_code == 200


@pytest.mark.parametrize("referer", ["https://evil.example/login", "http://regapp.example.com/login",
                                     None])
def test_a_post_from_another_origin_is_refused(client, referer):
    headers = {"Referer": referer} if referer else {}
    assert login_post(client, **headers).status_code == 400


def test_pages_keep_their_referer_to_this_origin_only(client):
    assert client.get("/", base_url=HTTPS).headers["Referrer-Policy"] == "same-origin"


def _echo(app):
    app.add_url_rule("/_who", "who", lambda: f"{request.remote_addr} {request.scheme}")


FORGED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def test_without_trusted_proxies_forged_headers_change_nothing(app, client):
    _echo(app)
    answer = client.get("/_who", headers=FORGED, environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert answer.get_data(as_text=True) == "198.51.100.4 http"


@pytest.mark.settings(PROXY_HOPS=1)
def test_one_trusted_proxy_gives_the_client_address_and_scheme(app, client):
    _echo(app)
    answer = client.get("/_who", headers=FORGED, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.get_data(as_text=True) == "203.0.113.9 https"


@pytest.mark.settings(PROXY_HOPS=1)
def test_a_trusted_proxy_takes_only_its_own_hop(app, client):  # the client cannot forge more
    _echo(app)
    headers = {"X-Forwarded-For": "10.9.9.9, 203.0.113.9"}
    answer = client.get("/_who", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.get_data(as_text=True).split()[0] == "203.0.113.9"


@pytest.mark.settings(PROXY_HOPS=1, RATELIMIT_ENABLED=True)
def test_rate_limits_count_the_client_behind_the_proxy(app, client):
    statuses = []
    for n in range(25):
        ip = "203.0.113.9" if n < 22 else "203.0.113.10"
        page = client.get("/login").get_data(as_text=True)
        statuses.append(client.post("/login", headers={"X-Forwarded-For": ip},
                                    environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                    data={"csrf_token": csrf(page), "phone": f"8916000{n:04d}",
                                          "password": "x"}).status_code)
    assert 429 in statuses[:22] and statuses[22:] == [200, 200, 200]


def test_hsts_when_the_public_url_is_https(client):  # BASE_SETTINGS' PUBLIC_URL is https
    assert "max-age=" in client.get("/").headers["Strict-Transport-Security"]


def test_the_session_cookie_is_secure_when_the_public_url_is_https(client):  # wapiti's flag
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.settings(PUBLIC_URL="http://127.0.0.1:5000")
def test_no_hsts_on_plain_http(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


@pytest.mark.parametrize("path", ["/", "/login", "/register", "/register/code"])
def test_pages_are_never_stored_by_a_cache(client, path):  # issue 12
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_the_account_page_is_never_stored(signed_in):
    assert signed_in.get("/account").headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    response = client.get("/static/vendor/htmx.min.js")
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()


@pytest.mark.settings(RATELIMIT_ENABLED=True)
def test_one_phone_written_three_ways_is_one_rate_limit(client):  # issue 12
    ways = ["+7 916 123-45-67", "89161234567", "9161234567"]
    statuses = []
    for n in range(11):
        page = client.get("/login").get_data(as_text=True)
        statuses.append(client.post("/login", environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
                                    data={"csrf_token": csrf(page), "phone": ways[n % 3],
                                          "password": "x"}).status_code)
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
