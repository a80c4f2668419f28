"""Registration without a link as plain steps (R13–R18, R31)."""

import datetime as dt
import re

import pytest

from regapp import email_confirmation, otp, registration, self_registration
from regapp.models import Account, Message, Refusal, RosterRecord
from regapp.roster import import_roster
from regapp.texts import text
from tests.helpers import GOOD
from tests.rosters import person, write_csv

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def roster(app, tmp_path):
    rows = [person("P1", last="Петров", first="Александр", patronymic="Иванович",
                   born="14.03.1985", phone="+7 916 123-45-67", email="a.petrov@example.com"),
            person("P2", last="Мамедов", first="Али", patronymic="Гасан оглы", born="21.11.1988",
                   phone="", email="ali@example.com")]
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"),
                  write_csv(tmp_path / "r.csv", rows))


def data(**change):
    values = {"last_name": "Петров", "first_name": "Александр", "patronymic": "Иванович",
              "birth_date": "14.03.1985", "phone": "+7 916 123-45-67",
              "email": "a.petrov@example.com", "password": GOOD, "confirmation": GOOD,
              "consents": {"terms": (True, "1"), "pd": (True, "1"), "marketing": (False, "1")}}
    values.update(change)
    return values


def begin(app, **change):
    cleaned, errors = self_registration.check_form(data(**change), today=TODAY)
    assert errors == {}
    return self_registration.start(cleaned, GOOD, app.config,
                                   registration.Client("198.51.100.1", "UA"), today=TODAY)


def code_for(outbox, channel):
    return re.search(r"\b(\d{6})\b", [e for e in outbox() if e["channel"] == channel][-1]["text"]).group(1)


def test_roster_phone_completes_after_sms_and_mails_a_confirmation_link(app, roster, outbox):  # R17
    pending = begin(app)
    account = registration.complete(pending, code_for(outbox, "sms"), app.config)
    assert account.email == "a.petrov@example.com" and not account.email_confirmed
    mail = [e for e in outbox() if e["channel"] == "email"][-1]
    assert mail["subject"] == "Подтвердите E-mail"
    token = re.search(r"/email/confirm/([\w-]+)", mail["text"]).group(1)
    assert email_confirmation.find(token)[1] == "ok"
    assert email_confirmation.confirm(token) == "confirmed"
    assert Account.get_by_id(account.id).email_confirmed
    assert email_confirmation.confirm(token) == "used"  # only once (R33)


def test_other_phone_needs_the_email_code_too(app, roster, outbox):  # R17
    pending = begin(app, phone="+7 903 765-43-21")
    assert registration.complete(pending, code_for(outbox, "sms"), app.config) is None
    assert Account.select().count() == 0
    mail = [e for e in outbox() if e["channel"] == "email"][-1]
    assert mail["subject"] == "Код подтверждения E-mail" and len(re.findall(r"\d{6}", mail["text"])) == 1
    account = registration.complete_email(pending, code_for(outbox, "email"), app.config)
    assert account.email_confirmed and account.phone == "+79037654321"
    assert not [e for e in outbox() if e.get("subject") == "Подтвердите E-mail"]


def test_email_code_cannot_come_before_the_sms_code(app, roster, outbox):
    pending = begin(app, phone="+7 903 765-43-21")
    with pytest.raises(registration.Refused):
        registration.complete_email(pending, "123456", app.config)


def test_no_phone_in_the_roster_still_matches_by_email(app, roster, outbox):  # R15
    pending = begin(app, last_name="Мамедов", first_name="Али", patronymic="Гасан оглы",
                    birth_date="1988-11-21", phone="+7 916 000-11-22", email="ALI@example.com")
    assert pending.email_code_required


@pytest.mark.parametrize("change, reason", [
    ({"last_name": "Сидоров"}, "no_such_person"),
    ({"birth_date": "15.03.1985"}, "wrong_birth_date"),
    ({"phone": "+7 903 000-00-00", "email": "other@example.com"}, "contacts_differ"),
])
def test_no_match_is_one_message_no_sms_and_a_kept_reason(app, roster, change, reason):  # R15, R31
    cleaned, errors = self_registration.check_form(data(**change), today=TODAY)
    assert errors == {}
    with pytest.raises(self_registration.NotFound) as caught:
        self_registration.start(cleaned, GOOD, app.config, today=TODAY)
    assert str(caught.value).startswith("Мы не нашли вас среди застрахованных с действующим полисом")
    assert "8-800-100-88-00" in str(caught.value)
    assert Message.select().count() == 0
    assert Refusal.get().reason == reason


@pytest.mark.parametrize("change, field, message", [
    ({"last_name": ""}, "last_name", "Заполните"),
    ({"first_name": "Ivan"}, "first_name", "кириллицей"),
    ({"birth_date": "31.04.1990"}, "birth_date", "Такой даты нет"),
    ({"birth_date": "26.11.2010"}, "birth_date", "с 18 лет"),
    ({"phone": "8 800 100-88-00"}, "phone", "не мобильный"),
    ({"email": "ivan@mаil.ru"}, "email", "раскладку"),
    ({"confirmation": "x"}, "confirmation", "не совпадают"),
])
def test_field_errors(app, roster, change, field, message):
    _, errors = self_registration.check_form(data(**change), today=TODAY)
    assert message in errors[field]


def test_phone_and_email_must_be_free(app, roster, outbox):  # R16
    record = RosterRecord.get(RosterRecord.policy_number == "P2")
    Account.create(record=record, phone="+79161234567", email="A.Petrov@Example.com",
                   email_key="a.petrov@example.com", password_hash="x",
                   email_confirmed=True)  # issue 12: only a confirmed address is taken
    cleaned, errors = self_registration.check_form(data(), today=TODAY)
    assert errors["phone"] == text("phone.taken") and errors["email"] == text("email.taken")
    self_registration.note_taken(errors, cleaned, registration.Client("198.51.100.1"))
    assert {r.reason for r in Refusal.select()} == {"phone_taken", "email_taken"}


def test_unconfirmed_address_gets_nothing_but_its_confirmation(app, roster, outbox):  # R18
    from regapp import messaging
    from regapp.db import database

    pending = begin(app)
    registration.complete(pending, code_for(outbox, "sms"), app.config)
    with database.atomic():
        notice = messaging.queue_email("a.petrov@example.com", "Новости", "…", kind="notice")
    messaging.dispatch([notice.id])
    assert Message.get_by_id(notice.id).status == "refused"
    assert [e["subject"] for e in outbox() if e["channel"] == "email"] == ["Подтвердите E-mail"]


def test_wrong_email_code_counts(app, roster, outbox):
    pending = begin(app, phone="+7 903 765-43-21")
    registration.complete(pending, code_for(outbox, "sms"), app.config)
    wrong = f"{(int(code_for(outbox, 'email')) + 1) % 10**6:06d}"
    with pytest.raises(otp.Wrong):
        registration.complete_email(pending, wrong, app.config)
    assert Account.select().count() == 0
