"""Sessions live on the server (issue 12, ASVS V7): a copied cookie dies at sign-out, the
key changes at sign-in and at changes of privilege, sessions end when unused or old."""

import base64
import datetime as dt

import pytest

from regapp.models import WebSession
from tests.helpers import Auth, csrf


def cookie(client):
    return client.get_cookie("session").value


def test_the_cookie_holds_a_random_key_and_nothing_else(client, account):
    page = client.get("/login/forgot").get_data(as_text=True)
    client.post("/login/forgot", data={"csrf_token": csrf(page), "phone": "+79161234567"})
    value = cookie(client)
    assert len(value) == 43 and "." not in value  # not Flask's signed, readable cookie
    readable = base64.urlsafe_b64decode(value + "=")
    assert b"7916" not in readable and b"recovery" not in readable
    assert WebSession.select().count() == 1


def test_a_copied_cookie_dies_at_sign_out(app, client, account):
    auth = Auth(client)
    auth.login()
    thief = app.test_client()
    thief.set_cookie("session", cookie(client))
    assert thief.get("/account").status_code == 200  # the copy works while the owner is in
    auth.logout()
    assert thief.get("/account").status_code == 303
    assert WebSession.select().where(WebSession.account == account).count() == 0


def test_the_key_changes_at_sign_in(client, account):
    client.get("/login")
    before = cookie(client)
    Auth(client).login()
    assert cookie(client) != before
    assert WebSession.get_or_none(WebSession.id == _hash(before)) is None


@pytest.mark.parametrize("field, age", [("last_seen_at", dt.timedelta(minutes=31)),
                                        ("created_at", dt.timedelta(hours=13))])
def test_a_session_ends_unused_or_old(client, account, field, age):
    Auth(client).login()
    row = WebSession.get()
    WebSession.update({getattr(WebSession, field): getattr(row, field) - age}).execute()
    assert client.get("/account").status_code == 303


def test_an_active_session_is_kept_alive(client, account):
    Auth(client).login()
    earlier = WebSession.get().created_at - dt.timedelta(minutes=20)
    WebSession.update(created_at=earlier, last_seen_at=earlier).execute()
    assert client.get("/account").status_code == 200
    row = WebSession.get()
    assert row.last_seen_at > row.created_at  # touched: the idle clock starts again


def test_the_account_lists_its_sessions_and_ends_another(app, client, account):
    laptop = app.test_client()
    Auth(laptop).login()
    Auth(client).login()
    page = client.get("/account", headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) "
                                           "Chrome/130.0 Mobile"}).get_data(as_text=True)
    assert page.count("Завершить") == 1 and "это устройство" in page
    other = WebSession.select().where(WebSession.id != _hash(cookie(client))).get()
    client.post(f"/account/sessions/{other.public_id}/end", data={"csrf_token": csrf(page)})
    assert laptop.get("/account").status_code == 303
    assert client.get("/account").status_code == 200


def test_another_accounts_session_cannot_be_ended(app, client, account):
    from regapp import sessions

    Auth(client).login()
    row = WebSession.get()
    assert not sessions.end(None, row.public_id)
    assert WebSession.select().count() == 1


def test_a_passing_visitor_leaves_no_session_behind(client):
    client.get("/")
    client.get("/documents/terms/1")
    assert WebSession.select().count() == 0
    assert client.get_cookie("session") is None  # nothing said, no key given


def test_a_form_page_gives_a_key_and_stores_nothing(client):  # issue 15: a bot's GETs
    for path in ("/register", "/login", "/login/forgot", "/register"):
        client.get(path)
    assert WebSession.select().count() == 0
    key = cookie(client)
    assert len(key) == 44 and key.startswith("v")  # one visitor's key all along


def test_a_token_holds_with_its_own_key_only(app, client):
    page = client.get("/login/forgot").get_data(as_text=True)
    stranger = app.test_client()
    stranger.get("/login/forgot")  # a key of its own
    made_up, made_up_visitor = app.test_client(), app.test_client()
    made_up.set_cookie("session", "A" * 43)  # keys nobody was given
    made_up_visitor.set_cookie("session", "v" + "A" * 43)
    for other in (stranger, made_up, made_up_visitor, app.test_client()):
        refused = other.post("/login/forgot", data={"csrf_token": csrf(page),
                                                    "phone": "+79161234567"})
        assert refused.status_code == 400
    assert WebSession.select().count() == 0


def test_what_is_kept_goes_under_a_new_key_never_a_planted_one(app, client):
    planted = "v" + "B" * 43  # a key someone set in the person's browser, and kept
    client.set_cookie("session", planted)
    page = client.get("/login/forgot").get_data(as_text=True)
    assert cookie(client) == planted  # nothing said: a key the browser holds is not sent
    client.post("/login/forgot", data={"csrf_token": csrf(page), "phone": "+79161234567"})
    key = cookie(client)
    assert key != planted and WebSession.get().id == _hash(key)  # the phone, under a new key
    assert client.get("/login/forgot/code").status_code == 200  # the person's step
    planter = app.test_client()
    planter.set_cookie("session", planted)
    assert planter.get("/login/forgot/code").status_code == 303  # not the planter's


def _hash(key):
    from regapp.tokens import hash_token

    return hash_token(key)


def test_ended_sessions_are_forgotten_by_the_hourly_task(app, client, account):
    from regapp.queue import forget

    Auth(client).login()
    row = WebSession.get()
    WebSession.update(last_seen_at=row.last_seen_at - dt.timedelta(hours=1)).execute()
    assert forget(app.config)[0] == 1 and WebSession.select().count() == 0


def test_a_new_key_makes_the_stored_row_the_new_one(client, account):  # issue 15
    page = client.get("/login/forgot").get_data(as_text=True)
    client.post("/login/forgot", data={"csrf_token": csrf(page), "phone": "+79161234567"})
    before = WebSession.get(WebSession.id == _hash(cookie(client)))
    Auth(client).login()
    after = WebSession.get(WebSession.id == _hash(cookie(client)))
    assert [row.id for row in WebSession.select()] == [after.id]  # one row: the new key's
    assert (after.account_id, after.public_id != before.public_id) == (account.id, True)


def test_a_new_key_for_a_row_gone_meanwhile_is_stored_anew(app):  # the purge got there first
    from regapp.sessions import ServerSession, ServerSessions

    gone = WebSession(id="gone", public_id="p", data="{}", created_at=dt.datetime(2026, 1, 1),
                      last_seen_at=dt.datetime(2026, 1, 1))
    session = ServerSession({"account_id": None, "x": 1}, key="old-key", row=gone)
    session.regenerate()
    with app.test_request_context("/"):
        ServerSessions()._store(session, dt.datetime(2026, 11, 27, 9, 0), app)
    stored = WebSession.get(WebSession.id == _hash(session.key))
    assert (stored.data, session.key != "old-key") == ('{"account_id": null, "x": 1}', True)
