"""The staff console asks the provider again (``STAFF_RECHECK_SECONDS``): a member taken out
of the staff groups, or disabled in the directory, loses the console at their next request
after that, not when their session would have ended (issue 16's gap, ASVS V7.4).

The provider is the fake one in a process of its own (``regapp fake-oidc``); QA's members
page there changes the directory as an administrator would.
"""

import contextlib
import json
import threading
import time
import urllib.parse
import urllib.request

import pytest

from regapp import audit, migrations
from regapp.staff import access, sso
from regapp.testing.peers import free_port
from tests.helpers import csrf
from tests.test_instances import Browser
from tests.test_staff import _app_like, provider, sign_in, signed_in_as  # noqa: F401

#: the test members' groups as the fake provider starts with them
AT_START = {"support": ["regapp-support"], "operator": ["regapp-operators"],
            "both": ["regapp-operators", "regapp-support"]}


@pytest.fixture
def directory(provider):  # noqa: F811
    """``change(who, groups, disabled=False)`` on the provider's members page; everyone
    put back as they started afterwards."""
    members = provider.removesuffix("/.well-known/openid-configuration") + "/members"

    def change(who, groups, disabled=False):
        fields = [("who", who), *(("groups", g) for g in groups)]
        if disabled:
            fields.append(("disabled", "on"))
        body = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(urllib.request.Request(members, body), timeout=10) as page:
            assert page.status == 200  # the redirect back to the page, followed
            return page.read().decode()

    yield change
    for who, groups in AT_START.items():
        change(who, groups)


@pytest.fixture
def console(app, provider):  # noqa: F811
    """The console pointed at the provider, asking it again after a second."""
    app.config.update(STAFF_OIDC_METADATA_URL=provider, STAFF_OIDC_CLIENT_ID="regapp-staff",
                      STAFF_OIDC_CLIENT_SECRET="console-secret-for-tests",
                      STAFF_OPERATOR_GROUPS="regapp-operators",
                      STAFF_SUPPORT_GROUPS="regapp-support", STAFF_RECHECK_SECONDS=1)
    fresh = _app_like(app)
    with fresh.app_context():
        migrations.upgrade()
    return fresh


def _after_the_look_is_due():
    time.sleep(1.1)


def _trail(app):
    with app.app_context():
        return [(e.staff, e.action, e.reason) for e in audit.events()]


def test_a_member_taken_out_of_the_staff_groups_is_signed_out_at_the_next_look(
        console, directory):
    client = console.test_client()
    assert sign_in(client, "support").status_code == 303
    page = directory("support", ["accounting"])
    assert 'value="regapp-support" id="support-regapp-support">' in page  # unticked
    _after_the_look_is_due()
    answer = client.get("/staff/support?q=ДМС-1")
    assert answer.status_code == 303 and answer.headers["Location"] == "/staff/login"
    login = client.get("/staff/login").get_data(as_text=True)
    assert "нет доступа к кабинету сотрудника" in login
    assert client.get("/staff/").headers["Location"] == "/staff/login"  # the session ended
    who, action, reason = _trail(console)[0]
    assert (who, action) == ("qa-support", "signed_out_by_provider")
    assert "нет доступа" in reason
    # and signing in again is refused, the provider's groups being what they are now
    assert sign_in(client, "support").status_code == 403


def test_a_member_disabled_in_the_directory_is_signed_out(console, directory):
    client = console.test_client()
    sign_in(client, "operator")
    directory("operator", ["regapp-operators"], disabled=True)
    _after_the_look_is_due()
    # a job page's poll (htmx) is told to load the sign-in page whole
    poll = client.get("/staff/jobs/1", headers={"HX-Request": "true"})
    assert poll.status_code == 204
    assert json.loads(poll.headers["HX-Location"])["path"] == "/staff/login"
    assert "больше не подтверждает ваш вход" in client.get("/staff/login").get_data(as_text=True)
    assert client.get("/staff/audit").headers["Location"] == "/staff/login"


def test_roles_follow_the_groups_and_the_refresh_token_given_each_time_is_kept(
        console, directory):
    client = console.test_client()
    sign_in(client, "both")
    assert client.get("/staff/audit").status_code == 200
    _after_the_look_is_due()
    # the first look spends the sign-in's refresh token: the second needs the new one
    assert client.get("/staff/audit").status_code == 200
    directory("both", ["regapp-support"])
    _after_the_look_is_due()
    assert client.get("/staff/audit").status_code == 403  # no longer an operator
    assert client.get("/staff/support?q=ДМС-1").status_code == 200  # still support
    assert _trail(console)[1][:2] == ("qa-lead", "roles_changed")


def test_a_request_racing_the_look_keeps_the_member_the_other_confirmed(
        console, monkeypatch):
    """Two requests of one browser due at once: the first to ask spends the refresh token
    (the fake gives a new one each time), the other's ask is refused; it reads what the
    first stored instead of signing the member out."""
    client = console.test_client()
    sign_in(client, "support")
    other = console.test_client()
    other.set_cookie("regapp_staff", client.get_cookie("regapp_staff", path="/staff").value,
                     path="/staff")
    asked, real = [], sso.recheck

    def racing(*args):
        if not asked:  # the other request asks first, while this one waits on the network
            asked.append(True)
            racer = threading.Thread(target=lambda: asked.append(other.get("/staff/")))
            racer.start()
            racer.join()
        return real(*args)

    monkeypatch.setattr(sso, "recheck", racing)
    _after_the_look_is_due()
    answer = client.get("/staff/")
    assert asked[1].status_code == 200 and answer.status_code == 200
    assert "signed_out_by_provider" not in [action for _, action, _ in _trail(console)]


def test_a_provider_down_leaves_the_console_working_for_one_look_then_not(console):
    client = console.test_client()
    sign_in(client, "support")
    metadata = console.extensions["regapp.staff_sso"].server_metadata
    metadata["token_endpoint"] = f"http://127.0.0.1:{free_port()}/token"  # nobody listens
    _after_the_look_is_due()
    with _token_requests(console) as asked:
        assert client.get("/staff/").status_code == 200  # kept: a moment's outage
        assert client.get("/staff/").status_code == 200  # not asked again at once
    assert len(asked) == 1
    time.sleep(1.0)  # two intervals since the provider last confirmed the member
    assert client.get("/staff/").headers["Location"] == "/staff/login"
    assert "Служба входа давно не отвечает" in client.get("/staff/login").get_data(as_text=True)


@contextlib.contextmanager
def _token_requests(app):
    """Each refresh the console sends its provider, in a list."""
    client = app.extensions["regapp.staff_sso"]
    real, asked = client.fetch_access_token, []

    def counted(**kwargs):
        asked.append(kwargs)
        return real(**kwargs)

    client.fetch_access_token = counted
    try:
        yield asked
    finally:
        del client.fetch_access_token


def test_without_a_refresh_token_the_member_signs_in_again_at_the_look(app):
    app.config["STAFF_RECHECK_SECONDS"] = 60
    client = signed_in_as(app, app.test_client(), "support")  # no refresh token kept
    assert client.get("/staff/").status_code == 200
    with client.session_transaction("/staff/") as staff_session:
        staff_session[access.CONFIRMED_AT] -= 61
    assert client.get("/staff/").headers["Location"] == "/staff/login"
    assert "не даёт проверить ваш доступ" in client.get("/staff/login").get_data(as_text=True)


def test_with_the_look_off_a_member_keeps_the_console_until_the_session_ends(app):
    app.config["STAFF_RECHECK_SECONDS"] = 0
    client = signed_in_as(app, app.test_client(), "support")
    with client.session_transaction("/staff/") as staff_session:
        staff_session[access.CONFIRMED_AT] -= 10 * 3600
    assert client.get("/staff/").status_code == 200


def test_a_disabled_member_cannot_sign_in_at_the_provider(console, directory):
    directory("support", ["regapp-support"], disabled=True)
    client = console.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    authorize = client.post("/staff/login", data={"csrf_token": csrf(page)}).headers["Location"]
    browser = Browser()
    status, _, form = browser.get(authorize)
    assert status == 200 and "Сергей Поддержкин" in form
    status, _, refused = browser.post(authorize, {"who": "support", "mischief": ""})
    assert status == 403 and "Учётная запись отключена" in refused
