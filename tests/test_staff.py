"""The staff console (issue 16): SSO sign-in over a real OpenID Connect round trip, the roles,
support's lookup and actions, the audit trail.

The provider is the fake one (``regapp fake-oidc``) running in a process of its own on
loopback; the console fetches its metadata and keys and redeems its code over HTTP.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from peewee import IntegrityError, OperationalError

from regapp import audit, create_app, migrations
from regapp.db import database
from regapp.models import Account, AuditEvent, RosterRecord
from regapp.roster import import_roster
from regapp.staff import access
from regapp.testing.peers import free_port
from tests.helpers import csrf
from tests.rosters import person, write_csv
from tests.test_instances import Browser

SECRET = "console-secret-for-tests"


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """``regapp fake-oidc`` in its own process: its metadata URL."""
    folder = tmp_path_factory.mktemp("fake-oidc")
    port = free_port()
    env = {**os.environ, "REGAPP_INSTANCE_PATH": str(folder), "REGAPP_QA_MODE": "true",
           "REGAPP_PUBLIC_URL": "https://regapp.example.com"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "regapp"), "fake-oidc", "--port", str(port),
         "--client-secret", SECRET], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no fake provider: {process.stdout.read()}") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def console(app, provider):
    """The app's settings pointed at the provider in the other process."""
    app.config.update(STAFF_OIDC_METADATA_URL=provider, STAFF_OIDC_CLIENT_ID="regapp-staff",
                      STAFF_OIDC_CLIENT_SECRET=SECRET,
                      STAFF_OPERATOR_GROUPS="regapp-operators",
                      STAFF_SUPPORT_GROUPS="regapp-support, regapp-helpdesk")
    return _app_like(app)


def _app_like(app):
    """A fresh app with the same instance and settings (the console is wired at start)."""
    fresh = create_app({k: v for k, v in app.config.items() if k.isupper()})
    return fresh


def sign_in(client, who, mischief=""):
    """The whole round trip; the console's answer to the provider's redirect."""
    page = client.get("/staff/login").get_data(as_text=True)
    to_provider = client.post("/staff/login", data={"csrf_token": csrf(page)})
    assert to_provider.status_code == 302, to_provider.get_data(as_text=True)[:300]
    authorize = to_provider.headers["Location"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    browser = Browser()
    status, _, form = browser.get(authorize)
    assert status == 200 and "Тестовый SSO" in form
    status, headers, _ = browser.post(authorize, {"who": who, "mischief": mischief})
    assert status == 302, status
    back = urllib.parse.urlsplit(headers["Location"])
    assert back.path == "/staff/callback"
    return client.get(f"/staff/callback?{back.query}")


def test_support_signs_in_looks_a_person_up_and_the_look_is_audited(console):
    with console.app_context():
        migrations.upgrade()
        _roster(console)
    client = console.test_client()
    answer = sign_in(client, "support")
    assert answer.status_code == 303 and answer.headers["Location"] == "/staff/"
    home = client.get("/staff/")
    assert "Поиск застрахованного" in home.get_data(as_text=True)
    assert home.headers["Cache-Control"] == "no-store"
    found = client.get("/staff/support?q=ДМС-1").get_data(as_text=True)
    assert "Семёнова" in found and "Отправить приглашение заново" in found
    assert client.get("/staff/audit").status_code == 403  # support is not an operator
    with console.app_context():
        trail = [(e.staff, e.action, e.subject) for e in audit.events()]
    assert trail[:2] == [("qa-support", "view", "ДМС-1"), ("qa-support", "sign_in", "")]


def test_an_operator_reads_the_audit_trail_but_not_peoples_data(console):
    client = console.test_client()
    with console.app_context():
        migrations.upgrade()
    assert sign_in(client, "operator").status_code == 303
    assert client.get("/staff/support?q=ДМС-1").status_code == 403
    page = client.get("/staff/audit")
    assert page.status_code == 200 and "Ольга Операторова" in page.get_data(as_text=True)


@pytest.mark.parametrize(("mischief", "words"), [
    ("tampered", "Подпись ID-токена не сходится"),
    ("nonce", "ID-токен не для этого входа"),
    ("expired", "просрочен"),
    ("no_groups", "нет доступа к кабинету сотрудника"),
])
def test_a_forged_or_useless_id_token_signs_nobody_in(console, mischief, words):
    client = console.test_client()
    with console.app_context():
        migrations.upgrade()
    answer = sign_in(client, "support", mischief)
    assert answer.status_code == 403 and words in answer.get_data(as_text=True)
    assert client.get("/staff/").headers["Location"] == "/staff/login"


def test_a_member_of_no_staff_group_is_refused(console):
    client = console.test_client()
    with console.app_context():
        migrations.upgrade()
    answer = sign_in(client, "nobody")
    assert answer.status_code == 403 and "нет доступа" in answer.get_data(as_text=True)


def test_a_callback_without_this_browsers_state_is_refused(console):
    client = console.test_client()
    with console.app_context():
        migrations.upgrade()
    answer = client.get("/staff/callback?code=anything&state=someone-elses")
    assert answer.status_code == 403 and "не к этому входу" in answer.get_data(as_text=True)


def test_support_actions_need_a_reason_and_are_audited(console):
    with console.app_context():
        migrations.upgrade()
        record = _roster(console)
        account = Account.create(record=record, phone="+79161234567", email="a@example.com",
                                 email_key="a@example.com", password_hash="x", esia_id="1000")
    client = console.test_client()
    sign_in(client, "support")
    page = client.get("/staff/support?q=ДМС-1").get_data(as_text=True)
    token = csrf(page)
    refused = client.post("/staff/support/unlink", data={
        "csrf_token": token, "subject": "ДМС-1", "target": account.id, "reason": ""})
    assert refused.status_code == 303
    with console.app_context():
        assert Account.get_by_id(account.id).esia_id == "1000"
    done = client.post("/staff/support/unlink", data={
        "csrf_token": token, "subject": "ДМС-1", "target": account.id,
        "reason": "звонок 12345: потерян доступ к Госуслугам"})
    assert done.status_code == 303
    with console.app_context():
        assert Account.get_by_id(account.id).esia_id is None
        event = audit.events().first()
    assert (event.action, event.subject, event.reason) == (
        "unlink_esia", "ДМС-1", "звонок 12345: потерян доступ к Госуслугам")


def test_the_console_has_its_own_session_and_csrf(console):
    client = console.test_client()
    with console.app_context():
        migrations.upgrade()
    sign_in(client, "support")
    staff_cookie = client.get_cookie("regapp_staff", path="/staff")
    assert staff_cookie is not None and staff_cookie.path == "/staff"
    # the portal's pages do not see the staff session: its sign-out is not the console's
    assert "Кабинет сотрудника" not in client.get("/").get_data(as_text=True)
    portal_form = client.get("/register").get_data(as_text=True)
    staff_page = client.get("/staff/").get_data(as_text=True)
    assert csrf(portal_form) != csrf(staff_page)


def test_without_settings_the_console_is_off(tmp_path, monkeypatch):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "QUEUE": "immediate", "SECRET_KEY": "x",
                      "PUBLIC_URL": "https://regapp.example.com", "SMS_GATEWAY": "fake",
                      "EMAIL_SENDER": "fake", "QA_MODE": False})
    with app.app_context():
        migrations.upgrade()
    assert app.test_client().get("/staff/").status_code == 404


def test_the_audit_trail_is_append_only_in_the_database(app):
    audit.record({"sub": "s", "name": "n", "roles": ["support"]}, "view", subject="x")
    with pytest.raises((IntegrityError, OperationalError, Exception)) as refused:
        AuditEvent.update(reason="tidied").execute()
    assert "append-only" in str(refused.value)
    database.rollback() if database.in_transaction() else None
    with pytest.raises(Exception) as refused:
        AuditEvent.delete().execute()
    assert "append-only" in str(refused.value)


def test_audit_export_prints_the_trail(app, cli):
    audit.record({"sub": "qa-support", "name": "С", "roles": ["support"]}, "view",
                 subject="ДМС-1", reason="звонок")
    result = cli("audit", "export", "--json")
    row = json.loads(result.output.splitlines()[-1])
    assert (row["staff"], row["action"], row["subject"], row["reason"]) == (
        "qa-support", "view", "ДМС-1", "звонок")


def _roster(app):
    path = write_csv(Path(app.instance_path) / "r.csv", [person("ДМС-1", last="Семёнова", first="Алёна")])
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"), str(path))
    return RosterRecord.get()


def signed_in_as(app, client, role):
    """A client whose staff session holds a member with ``role``, put there directly (the
    sign-in itself is the round trip above): for the pages' own tests."""
    with client.session_transaction("/staff/") as staff_session:
        staff_session["staff"] = {"sub": f"qa-{role}", "name": role, "email": "",
                                  "roles": [role]}
        staff_session[access.CONFIRMED_AT] = time.time()  # the provider's look is not due
    return client


def test_an_insured_persons_session_reaches_no_staff_page(app, client):
    with client.session_transaction("/") as person_session:  # the portal's own session
        # even holding what a staff session holds, the portal's session is not the console's
        person_session["staff"] = {"sub": "x", "name": "x", "email": "", "roles": ["support"]}
    for path in ("/staff/", "/staff/support?q=x", "/staff/audit", "/staff/funnel"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["Location"] == "/staff/login", path
    assert client.get_cookie("regapp_staff", path="/staff") is None


def test_an_action_on_an_account_gone_meanwhile_is_said_not_failed(app, client):
    page_client = signed_in_as(app, client, "support")
    page = page_client.get("/staff/").get_data(as_text=True)
    for kind in ("end-sessions", "unlink"):
        answer = page_client.post(f"/staff/support/{kind}", data={
            "csrf_token": csrf(page), "subject": "ДМС-1", "target": "999999",
            "reason": "звонок: проверка"})
        assert answer.status_code == 303, kind


@pytest.mark.parametrize("query", ["-", "№", "   ", "x" * 500, "@", "+"])
def test_any_search_text_gets_a_page(app, client, query):
    answer = signed_in_as(app, client, "support").get(
        "/staff/support?" + urllib.parse.urlencode({"q": query}))
    assert answer.status_code == 200


def test_the_fake_provider_refuses_a_sign_in_request_it_cannot_serve(provider):
    """QA opening the provider's page without the console's request (no client, no PKCE)
    meets its refusal, as at a real provider, not a server error."""
    authorize = provider.removesuffix("/.well-known/openid-configuration") + "/authorize"
    status, _, page = Browser().get(authorize + "?response_type=code&client_id=nobody")
    assert status == 400 and "Запрос входа отклонён" in page
