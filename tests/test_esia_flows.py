"""Gosuslugi end to end (R19–R21): the app's real client against the fake ESIA over real HTTP."""

import re
import urllib.parse

import pytest

from regapp import create_app, migrations
from regapp.db import database
from regapp.esia import protocol as wire
from regapp.models import Account
from regapp.roster import import_roster
from regapp.texts import text
from tests.conftest import BASE_SETTINGS, IsolatedClient
from tests.esia_helpers import NoRedirects, ServedFakeEsia, sign_in
from tests.helpers import GOOD, Auth, csrf
from tests.rosters import person, write_csv


@pytest.fixture
def esia(fake_esia_materials):
    with ServedFakeEsia(fake_esia_materials.folder,
                        redirect_prefix="https://regapp.example.com/esia/") as served:
        yield served


def make_app(tmp_path, monkeypatch, esia, **extra):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({**BASE_SETTINGS, "QA_MODE": False, "ESIA_PROVIDER": "esia",
                      "ESIA_SIGNER": "gost", **esia.settings(), **extra})
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture
def app(tmp_path, monkeypatch, esia):
    app = make_app(tmp_path, monkeypatch, esia)
    with app.app_context():
        migrations.upgrade()
        rows = [person("P1", last="Петров", first="Александр", patronymic="Иванович",
                       born="14.03.1985", phone="+7 916 123-45-67", email="a.petrov@example.com")]
        import_roster(app.extensions["regapp.adapters"].roster_source("csv"),
                      write_csv(tmp_path / "r.csv", rows))
        yield app
    if not database.is_closed():
        database.close()


@pytest.fixture
def client(app):
    return app.test_client()


def gosuslugi(client, start, oid=None, decline=False, password=None):
    """Press the banner, pick a person at the fake, come back; return the app's last answer.

    With ``password``, the start is the account page's form that asks for it (linking).
    """
    if password is None:
        to_esia = client.get(start)
    else:
        page = client.get("/account").get_data(as_text=True)
        to_esia = client.post(start, data={"csrf_token": csrf(page), "password": password})
    assert to_esia.status_code == 303
    back = sign_in(NoRedirects(), to_esia.headers["Location"], oid=oid, decline=decline)
    location = urllib.parse.urlsplit(back.headers["Location"])
    assert location.netloc == "regapp.example.com" and location.path == "/esia/back"
    return client.get(f"{location.path}?{location.query}")


def register_with_code(client, outbox_path, **fields):
    page = client.get("/register").get_data(as_text=True)
    data = {"csrf_token": csrf(page), "birth_date": "14.03.1985", "phone": "89161234567",
            "email": "a.petrov@example.com", "password": GOOD, "confirmation": GOOD,
            "terms": "y", "pd": "y", "terms_version": "1", "pd_version": "1",
            "marketing_version": "1"}
    for name in ("last_name", "first_name", "patronymic"):
        data[name] = re.search(rf'id="{name}" name="{name}" type="text" value="([^"]*)"',
                               page).group(1)
    data.update(fields)
    assert client.post("/register", data=data).headers["Location"] == "/register/code"
    from regapp.qa import outbox

    code = re.search(r"\b(\d{6})\b", outbox.read(outbox_path)[0]["text"]).group(1)
    code_page = client.get("/register/code").get_data(as_text=True)
    return client.post("/register/code", data={"csrf_token": csrf(code_page), "code": code})


def test_register_with_gosuslugi_then_sign_in_with_it(app, client):  # R19, R20, R21
    back = gosuslugi(client, "/esia/start/register", oid="1000000001")
    assert back.headers["Location"] == "/register"
    page = client.get("/register").get_data(as_text=True)
    assert "Данные получены с Госуслуг" in page
    for value in ('value="Петров"', 'value="Александр"', 'value="Иванович"'):
        assert value in page
    done = register_with_code(client, app.config["OUTBOX_PATH"])
    assert done.headers["Location"] == "/account"
    assert Account.get().esia_id == "1000000001"
    account_page = client.get("/account").get_data(as_text=True)
    assert "Госуслуги</dt>" in account_page and "связаны" in account_page
    client.post("/logout", data={"csrf_token": csrf(account_page)})
    assert "Войти через Госуслуги" in client.get("/login").get_data(as_text=True)
    signed_in = gosuslugi(client, "/esia/start/login", oid="1000000001")
    assert signed_in.headers["Location"] == "/account"
    assert "Александр" in client.get("/account").get_data(as_text=True)


def test_declining_returns_to_the_form_with_a_message(client):
    back = gosuslugi(client, "/esia/start/register", decline=True)
    assert back.headers["Location"] == "/register"
    page = client.get("/register").get_data(as_text=True)
    assert text("esia.declined.register") in page and 'value="Петров"' not in page


def test_declining_at_sign_in_or_linking_says_what_fits_there(client, account, auth):  # issue 14
    back = gosuslugi(client, "/esia/start/login", decline=True)
    page = client.get(back.headers["Location"]).get_data(as_text=True)
    assert text("esia.declined.login") in page
    assert "Можно зарегистрироваться и без них" not in page
    auth.login()
    back = gosuslugi(client, "/esia/start/link", decline=True, password=GOOD)
    page = client.get(back.headers["Location"]).get_data(as_text=True)
    assert text("esia.declined.link") in page and "Можно зарегистрироваться" not in page


def test_a_received_person_is_said_once_with_a_way_to_pick_another(client):  # issue 14
    gosuslugi(client, "/esia/start/register", oid="1000000001")
    page = client.get("/register").get_data(as_text=True)
    assert page.count("Данные получены с Госуслуг") == 1
    assert re.search(r"Данные получены с Госуслуг: [^<]*\S\.</p>", page)  # no « .»
    assert "Выбрать другую учётную запись Госуслуг" in page


def test_an_unconfirmed_account_is_refused_with_an_explanation(client):
    gosuslugi(client, "/esia/start/register", oid="1000000002")
    assert text("esia.untrusted") in client.get("/register").get_data(as_text=True)


def test_a_tampered_signature_is_refused_by_the_fake(tmp_path, monkeypatch, esia):
    from regapp.qa.fake_esia import ensure_materials

    other = ensure_materials(tmp_path / "other-keys")
    app = make_app(tmp_path, monkeypatch, esia, ESIA_KEY_PATH=str(other.client_key))
    with app.app_context():
        migrations.upgrade()
        client = app.test_client()
        to_esia = client.get("/esia/start/register")
        answer = NoRedirects().open(to_esia.headers["Location"])
        location = urllib.parse.urlsplit(answer.headers["Location"])
        params = dict(urllib.parse.parse_qsl(location.query))
        assert wire.error_code(params["error_description"]) == "007053"
        client.get(f"{location.path}?{location.query}")
        assert "ESIA-007053" in client.get("/register").get_data(as_text=True)


def test_an_unregistered_return_address_gets_007023(tmp_path, monkeypatch, esia):
    app = make_app(tmp_path, monkeypatch, esia, PUBLIC_URL="https://elsewhere.example.com")
    with app.app_context():
        migrations.upgrade()
        to_esia = app.test_client().get("/esia/start/register")
        answer = NoRedirects().open(to_esia.headers["Location"])
        assert answer.status == 400 and "ESIA-007023" in answer.read().decode()


def test_a_replayed_return_is_not_accepted(client):
    to_esia = client.get("/esia/start/register")
    back = sign_in(NoRedirects(), to_esia.headers["Location"], oid="1000000001")
    path = urllib.parse.urlsplit(back.headers["Location"])
    url = f"{path.path}?{path.query}"
    client.get(url)
    replay = client.get(url)
    assert replay.headers["Location"] == "/"
    assert text("esia.expired") in client.get("/").get_data(as_text=True)


def test_sign_in_with_gosuslugi_and_no_account_explains(client):
    back = gosuslugi(client, "/esia/start/login", oid="1000000003")
    assert back.headers["Location"] == "/login"
    assert text("esia.no_account") in client.get("/login").get_data(as_text=True)


def _other_account(esia_id):
    from regapp.models import RosterRecord

    other = RosterRecord.create(policy_number="P2", policy_key="p2", last_name="Смит",
                                first_name="Джон", name_key="смит джон",
                                birth_date=RosterRecord.get().birth_date)
    return Account.create(record=other, phone="+79030000000", email="j@example.com",
                          email_key="j@example.com", password_hash="x", esia_id=esia_id)


def test_link_and_unlink_from_the_account_and_one_account_per_esia_id(app, client):  # R20, R29
    register_with_code(client, app.config["OUTBOX_PATH"], last_name="Петров",
                       first_name="Александр", patronymic="Иванович")
    assert Account.get().esia_id is None
    linked = gosuslugi(client, "/esia/start/link", oid="1000000001", password=GOOD)
    assert linked.headers["Location"] == "/account" and Account.get().esia_id == "1000000001"
    page = client.get("/account").get_data(as_text=True)
    client.post("/esia/unlink", data={"csrf_token": csrf(page), "password": GOOD})
    assert Account.get().esia_id is None
    _other_account("1000000001")
    gosuslugi(client, "/esia/start/link", oid="1000000001", password=GOOD)
    assert "уже связана с другим личным кабинетом" in client.get("/account").get_data(as_text=True)
    assert Account.get(Account.phone == "+79161234567").esia_id is None


def test_another_persons_gosuslugi_cannot_be_linked(app, client):  # issue 12, R14
    register_with_code(client, app.config["OUTBOX_PATH"], last_name="Петров",
                       first_name="Александр", patronymic="Иванович")
    gosuslugi(client, "/esia/start/link", oid="1000000004", password=GOOD)  # Тер-Петросян
    page = client.get("/account").get_data(as_text=True)
    assert "не совпадают с данными вашего полиса" in page
    assert Account.get().esia_id is None


def test_gosuslugi_linked_elsewhere_is_said_on_return_and_registration_goes_on(app, client):
    _other_account("1000000001")  # issue 12: caught on return, not after the SMS code
    gosuslugi(client, "/esia/start/register", oid="1000000001")
    page = client.get("/register").get_data(as_text=True)
    assert "уже связана с другим личным кабинетом" in page and 'value="Петров"' not in page
    done = register_with_code(client, app.config["OUTBOX_PATH"], last_name="Петров",
                              first_name="Александр", patronymic="Иванович")
    assert done.headers["Location"] == "/account"
    assert Account.get(Account.phone == "+79161234567").esia_id is None


def test_gosuslugi_of_another_person_is_said_before_the_sms(app, client):  # issue 12
    from regapp.models import Message

    gosuslugi(client, "/esia/start/register", oid="1000000003")  # Смит Джон, born 1979
    page = client.get("/register").get_data(as_text=True)
    data = {"csrf_token": csrf(page), "last_name": "Петров", "first_name": "Александр",
            "patronymic": "Иванович", "birth_date": "14.03.1985", "phone": "89161234567",
            "email": "a.petrov@example.com", "password": GOOD, "confirmation": GOOD,
            "terms": "y", "pd": "y", "terms_version": "1", "pd_version": "1",
            "marketing_version": "1"}
    told = client.post("/register", data=data)
    assert told.status_code == 200 and "не будет связан с Госуслугами" in told.get_data(as_text=True)
    assert Message.select().where(Message.channel == "sms").count() == 0
    assert client.post("/register", data=data).headers["Location"] == "/register/code"


def test_without_a_provider_the_buttons_are_hidden(tmp_path, monkeypatch):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({**BASE_SETTINGS, "QA_MODE": False})
    with app.app_context():
        migrations.upgrade()
        client = app.test_client()
        assert "Госуслуг" not in client.get("/register").get_data(as_text=True)
        assert "Войти через Госуслуги" not in client.get("/login").get_data(as_text=True)
        assert client.get("/esia/start/register").status_code == 404


def test_a_spent_code_ends_in_a_message_with_007011(app, client, esia):
    to_esia = client.get("/esia/start/register")
    back = sign_in(NoRedirects(), to_esia.headers["Location"], oid="1000000001")
    location = urllib.parse.urlsplit(back.headers["Location"])
    code = dict(urllib.parse.parse_qsl(location.query))["code"]
    esia.client().fetch_person(code, "https://regapp.example.com/esia/back")  # someone used it
    client.get(f"{location.path}?{location.query}")
    assert "ESIA-007011" in client.get("/register").get_data(as_text=True)


@pytest.mark.parametrize("code, spoil", [
    ("007015", lambda url: re.sub(r"timestamp=[^&]+", "timestamp=2020.01.01+00%3A00%3A00+%2B0300", url)),
    ("007014", lambda url: re.sub(r"&client_certificate_hash=[^&]+", "", url)),
])
def test_refused_requests_end_in_a_message_with_their_code(client, code, spoil):
    to_esia = client.get("/esia/start/register")
    answer = NoRedirects().open(spoil(to_esia.headers["Location"]))
    location = urllib.parse.urlsplit(answer.headers["Location"])
    client.get(f"{location.path}?{location.query}")
    assert f"ESIA-{code}" in client.get("/register").get_data(as_text=True)


def test_on_the_invitation_form_another_persons_gosuslugi_is_said_on_return(app, client):
    from regapp import invitations
    from regapp.qa import outbox

    invitations.send_invitations()  # issue 12: Петров's link, Тер-Петросян's Gosuslugi
    mail = next(m for m in outbox.read(app.config["OUTBOX_PATH"]) if "/invite/" in m["text"])
    token = re.search(r"/invite/([\w-]+)", mail["text"]).group(1)
    back = gosuslugi(client, f"/esia/start/invite?token={token}", oid="1000000004")
    assert back.headers["Location"] == f"/invite/{token}"
    page = client.get(f"/invite/{token}").get_data(as_text=True)
    assert "не будет связан с Госуслугами" in page and "Данные получены" not in page
    good = gosuslugi(client, f"/esia/start/invite?token={token}", oid="1000000001")
    assert "Данные получены" in client.get(good.headers["Location"]).get_data(as_text=True)


def test_linking_and_unlinking_ask_for_the_password_and_tell_the_owner(app, client):  # issue 12
    from regapp.qa import outbox

    register_with_code(client, app.config["OUTBOX_PATH"], last_name="Петров",
                       first_name="Александр", patronymic="Иванович")
    page = client.get("/account").get_data(as_text=True)
    refused = client.post("/esia/start/link", data={"csrf_token": csrf(page), "password": "x"})
    assert refused.headers["Location"] == "/account"
    assert "Неверный пароль" in client.get("/account").get_data(as_text=True)
    assert client.get("/esia/start/link").status_code in (404, 405)  # no way round the form
    other_device = app.test_client()
    Auth(other_device).login()
    gosuslugi(client, "/esia/start/link", oid="1000000001", password=GOOD)
    assert Account.get().esia_id == "1000000001"
    told = [m for m in outbox.read(app.config["OUTBOX_PATH"])
            if "подключён вход через Госуслуги" in m["text"]]
    assert {m["to"] for m in told} == {"+79161234567"}  # the e-mail is not confirmed yet
    assert other_device.get("/account").status_code == 303
    page = client.get("/account").get_data(as_text=True)
    client.post("/esia/unlink", data={"csrf_token": csrf(page), "password": "wrong"})
    assert Account.get().esia_id == "1000000001"
