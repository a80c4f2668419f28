"""The real ESIA client against the fake ESIA over real HTTP (R19, R22): wire and errors."""

import datetime as dt
import urllib.parse

import pytest

from regapp.adapters import EsiaError
from regapp.esia import protocol as wire
from tests.esia_helpers import REDIRECT, NoRedirects, ServedFakeEsia, query, sign_in


@pytest.fixture(scope="module")
def esia(tmp_path_factory):
    with ServedFakeEsia(tmp_path_factory.mktemp("esia")) as served:
        yield served


@pytest.fixture
def browser():
    return NoRedirects()


def test_confirmed_person_round_trip(esia, browser):
    client = esia.client()
    url = client.authorization_url("5e0c0d3c-1111-4c1e-9a8e-3f6f8d2a1b7c", REDIRECT)
    params = query(url)
    assert url.startswith(esia.base_url + "/aas/oauth2/v2/ac?")
    assert params["response_type"] == "code" and params["access_type"] == "online"
    assert len(params["client_certificate_hash"]) == 64
    assert wire.parse_timestamp(params["timestamp"]).utcoffset() == dt.timedelta(hours=3)
    back = sign_in(browser, url, oid="1000000001")
    assert back.status == 302
    location = query(back.headers["Location"])
    assert location["state"] == params["state"] and location["code"]
    person = client.fetch_person(location["code"], REDIRECT)
    assert (person.oid, person.last_name, person.first_name, person.middle_name) == (
        "1000000001", "Петров", "Александр", "Иванович")
    assert person.trusted and person.birth_date == "14.03.1985"


def test_unconfirmed_and_no_patronymic_persons(esia, browser):
    client = esia.client()
    for oid, trusted, middle in (("1000000002", False, "Петровна"), ("1000000003", True, "")):
        back = sign_in(browser, client.authorization_url("s", REDIRECT), oid=oid)
        person = client.fetch_person(query(back.headers["Location"])["code"], REDIRECT)
        assert (person.trusted, person.middle_name) == (trusted, middle)


def test_declining_returns_007004(esia, browser):
    back = sign_in(browser, esia.client().authorization_url("s1", REDIRECT), decline=True)
    location = query(back.headers["Location"])
    assert location["error"] == "access_denied" and location["state"] == "s1"
    assert location["error_description"].startswith("ESIA-007004")


def test_the_person_who_declines(esia, browser):
    back = sign_in(browser, esia.client().authorization_url("s2", REDIRECT), oid="1000000005")
    assert wire.error_code(query(back.headers["Location"])["error_description"]) == "007004"


def tampered(url, **change):
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query))
    params.update(change)
    for name, value in change.items():
        if value is None:
            params.pop(name)
    return parts._replace(query=urllib.parse.urlencode(params)).geturl()


@pytest.mark.parametrize("change, code", [
    ({"client_secret": "AAAA" * 22}, "007053"),  # a tampered client_secret
    ({"state": "another-state"}, "007053"),  # the signed string no longer matches
    ({"client_certificate_hash": "00" * 32}, "007053"),
    ({"client_certificate_hash": None}, "007014"),
    ({"timestamp": "2020.01.01 00:00:00 +0300"}, "007015"),
    ({"timestamp": "01.01.2026 10:00"}, "007015"),
])
def test_the_fake_refuses_bad_authorization_requests(esia, browser, change, code):
    url = tampered(esia.client().authorization_url("s3", REDIRECT), **change)
    response = browser.open(url)
    assert response.status == 302
    location = query(response.headers["Location"])
    assert wire.error_code(location["error_description"]) == code
    if code == "007014":
        assert "[client_certificate_hash]" in location["error_description"]


def test_an_unregistered_redirect_uri_gets_007023_and_no_redirect(esia, browser):
    response = browser.open(esia.client().authorization_url("s", "https://evil.example/cb"))
    assert response.status == 400 and "ESIA-007023" in response.read().decode()


def test_a_redirect_uri_with_a_line_break_is_refused_not_a_500(esia, browser):  # wapiti
    url = tampered(esia.client().authorization_url("s", REDIRECT), timestamp="x",
                   redirect_uri=REDIRECT + "\nSet-Cookie: x=1")
    response = browser.open(url)
    assert response.status == 400 and "ESIA-007023" in response.read().decode()


def test_a_code_works_once(esia, browser):
    client = esia.client()
    code = query(sign_in(browser, client.authorization_url("s", REDIRECT), oid="1000000001")
                 .headers["Location"])["code"]
    client.fetch_person(code, REDIRECT)
    with pytest.raises(EsiaError) as caught:
        client.fetch_person(code, REDIRECT)
    assert caught.value.code == "007011"


def test_a_token_request_with_an_old_timestamp_gets_007015(esia, browser):
    client = esia.client()
    code = query(sign_in(browser, client.authorization_url("s", REDIRECT), oid="1000000001")
                 .headers["Location"])["code"]
    with pytest.raises(EsiaError) as caught:
        client.exchange(code, REDIRECT, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert caught.value.code == "007015"


def test_tokens_signed_by_someone_else_are_refused(esia, browser, tmp_path):
    from regapp.qa.fake_esia import ensure_materials

    other = ensure_materials(tmp_path / "other")
    client = esia.client(ESIA_TOKEN_CERT_PATH=str(other.esia_cert))
    code = query(sign_in(browser, client.authorization_url("s", REDIRECT), oid="1000000001")
                 .headers["Location"])["code"]
    with pytest.raises(EsiaError, match="not valid"):
        client.fetch_person(code, REDIRECT)


def test_tokens_for_another_issuer_are_refused(esia, browser):
    client = esia.client(ESIA_ISSUER="http://esia.gosuslugi.ru/")
    code = query(sign_in(browser, client.authorization_url("s", REDIRECT), oid="1000000001")
                 .headers["Location"])["code"]
    with pytest.raises(EsiaError, match="not valid"):
        client.fetch_person(code, REDIRECT)


def test_signatures_in_any_base64_variant_are_read():
    raw = bytes(range(64))
    import base64

    for text in (base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode(),
                 wire.encode_signature(raw)):
        assert wire.decode_signature(text) == raw
