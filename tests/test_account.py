"""The personal account (R23, R24, R11; issue 6)."""

import re

import pytest

from regapp import passwords
from regapp.models import Account, RosterRecord
from regapp.roster import import_roster
from tests.rosters import person, write_csv

GOOD = "correct horse battery staple"


@pytest.fixture
def account(app, tmp_path):
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"), write_csv(
        tmp_path / "r.csv", [person("P1", last="Петров", first="Александр", patronymic="Иванович",
                                    phone="+7 916 123-45-67", email="a.petrov@example.com",
                                    employer="ООО «Ромашка»")]))
    return Account.create(record=RosterRecord.get(), phone="+79161234567",
                          email="a.petrov@example.com", email_key="a.petrov@example.com",
                          email_confirmed=True, password_hash=passwords.hash_password(GOOD))


def csrf(page):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def login(client, phone="+79161234567", password=GOOD):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"csrf_token": csrf(page), "phone": phone,
                                       "password": password})


def test_sign_out_everywhere_ends_other_sessions(app, account):
    phone, laptop = app.test_client(), app.test_client()
    assert login(phone).headers["Location"] == "/account"
    assert login(laptop).headers["Location"] == "/account"
    page = laptop.get("/account").get_data(as_text=True)
    laptop.post("/logout/everywhere", data={"csrf_token": csrf(page)})
    assert phone.get("/account").status_code == 303  # signed out over there too
    assert laptop.get("/account").status_code == 303
    assert login(phone).headers["Location"] == "/account"  # and can sign in again
