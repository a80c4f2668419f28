"""The roster matcher (R14, R15), table-driven over ru-data-rules.md's cases and more."""

import datetime as dt

import pytest

from regapp.matching import Typed, find
from regapp.models import RosterRecord
from regapp.normalize import email_key, name_key, normalize_phone

TODAY = dt.date(2026, 11, 25)
BORN = dt.date(1985, 2, 1)


def add(policy, last, first, patronymic="", born=BORN, phone=None, email=None,
        start=None, end=None, employer="ООО «Ромашка»"):
    return RosterRecord.create(
        policy_number=policy, policy_key=policy.lower(), last_name=last, first_name=first,
        patronymic=patronymic, name_key=name_key(last, first, patronymic), birth_date=born,
        phone=normalize_phone(phone) if phone else None, email=email,
        email_key=email_key(email) if email else None, employer=employer,
        valid_from=start, valid_to=end)


def typed(last, first, patronymic="", born=BORN, phone=None, email=None):
    return Typed(name_key(last, first, patronymic), born,
                 normalize_phone(phone) if phone else None, email_key(email) if email else None)


PHONE, EMAIL = "+79161234567", "ivan@example.com"

CASES = [
    # (roster names, typed names, match?, reason when not)
    (("Семёнов", "Пётр", "Алексеевич"), ("Семенов", "Петр", "Алексеевич"), True, None),
    (("Мамедов", "Али", "Гасан оглы"), ("Мамедов", "Али Гасан", "оглы"), True, None),
    (("Мамедов", "Али", "Гасан оглы"), ("Мамедов оглы", "Али", "Гасан"), False, "no_such_person"),
    (("Мамедов", "Али", "Гасан оглы"), ("Мамедов", "Али", "Гасан-оглы"), True, None),  # R14
    (("Алиева", "Лейла", "Гасан кызы"), ("Алиева Лейла", "Гасан", "кызы"), True, None),
    (("Асанбек уулу", "Нурлан", ""), ("Асанбек", "уулу Нурлан", ""), True, None),
    (("Петров-Водкин", "Кузьма", "Сергеевич"), ("Петров - Водкин", "Кузьма", "Сергеевич"), True, None),
    (("Петров-Водкин", "Кузьма", "Сергеевич"), ("Петров Водкин", "Кузьма", "Сергеевич"), True, None),  # R14
    (("Иванов", "Иван", "Иванович"), ("Ивaнов", "Иван", "Иванович"), True, None),  # Latin a
    (("Смит", "Джон", ""), ("Смит", "Джон", ""), True, None),  # no patronymic
    (("Иванов", "Иван", "Иванович"), ("Иванов", "Иван", ""), False, "no_such_person"),
    (("Д'Артаньян", "Шарль", ""), ("Д’Артаньян", "Шарль", ""), True, None),
]


@pytest.mark.parametrize("listed, typed_names, matches, reason", CASES)
def test_names_as_one_word_sequence(app, listed, typed_names, matches, reason):  # R14
    add("P1", *listed, phone=PHONE)
    result = find(typed(*typed_names, phone=PHONE), TODAY)
    assert (result.record is not None) is matches
    assert result.reason == reason


def test_wrong_birth_date(app):
    add("P1", "Иванов", "Иван", "Иванович", phone=PHONE)
    result = find(typed("Иванов", "Иван", "Иванович", born=dt.date(1985, 1, 2), phone=PHONE), TODAY)
    assert (result.record, result.reason) == (None, "wrong_birth_date")


@pytest.mark.parametrize("start, end", [
    (None, dt.date(2026, 11, 24)),  # ended yesterday
    (dt.date(2026, 11, 26), None),  # starts tomorrow
])
def test_ended_and_future_policies_do_not_match(app, start, end):
    add("P1", "Иванов", "Иван", "Иванович", phone=PHONE, start=start, end=end)
    result = find(typed("Иванов", "Иван", "Иванович", phone=PHONE), TODAY)
    assert (result.record, result.reason) == (None, "policy_inactive")


def test_policy_active_on_its_last_day(app):
    add("P1", "Иванов", "Иван", "Иванович", phone=PHONE, start=TODAY, end=TODAY)
    assert find(typed("Иванов", "Иван", "Иванович", phone=PHONE), TODAY).record


@pytest.mark.parametrize("phone, email, phone_ok, email_ok", [
    ("+7 916 123-45-67", None, True, False),
    ("+7 903 000-00-00", "IVAN@Example.com", False, True),
    ("89161234567", "ivan@example.com", True, True),
])
def test_phone_and_or_email_must_equal_the_roster(app, phone, email, phone_ok, email_ok):  # R15
    add("P1", "Иванов", "Иван", "Иванович", phone=PHONE, email=EMAIL)
    result = find(typed("Иванов", "Иван", "Иванович", phone=phone, email=email), TODAY)
    assert (result.phone_matches, result.email_matches) == (phone_ok, email_ok)


def test_both_contacts_differ(app):
    add("P1", "Иванов", "Иван", "Иванович", phone=PHONE, email=EMAIL)
    result = find(typed("Иванов", "Иван", "Иванович", phone="+79030000000",
                        email="other@example.com"), TODAY)
    assert (result.record, result.reason) == (None, "contacts_differ")


def test_two_employees_with_the_same_name_and_birth_date(app):
    add("P1", "Иванов", "Иван", "Иванович", phone=PHONE, email=EMAIL)
    other = add("P2", "Иванов", "Иван", "Иванович", phone="+79037654321", email="i2@example.com")
    result = find(typed("Иванов", "Иван", "Иванович", phone="+79037654321"), TODAY)
    assert result.record.id == other.id and result.phone_matches


def test_one_person_on_two_employers_rosters_prefers_the_best_agreement(app):
    add("A1", "Иванов", "Иван", "Иванович", phone=PHONE, email="ivan@a.example.com",
        employer="А", end=dt.date(2027, 1, 1))
    both = add("B1", "Иванов", "Иван", "Иванович", phone=PHONE, email=EMAIL, employer="Б",
               end=dt.date(2026, 12, 31))
    result = find(typed("Иванов", "Иван", "Иванович", phone=PHONE, email=EMAIL), TODAY)
    assert result.record.id == both.id and result.phone_matches and result.email_matches


def test_an_ended_record_does_not_shadow_an_active_one(app):
    add("OLD", "Иванов", "Иван", "Иванович", phone=PHONE, end=dt.date(2020, 1, 1))
    active = add("NEW", "Иванов", "Иван", "Иванович", phone=PHONE)
    assert find(typed("Иванов", "Иван", "Иванович", phone=PHONE), TODAY).record.id == active.id


def test_names_keyed_before_r14s_hyphen_rule_are_keyed_again(app):  # issue 14
    import datetime as dt

    from regapp import migrations
    from regapp.db import database
    from regapp.models import RosterRecord, SchemaVersion

    RosterRecord.create(policy_number="П-1", policy_key="п1", last_name="Петров-Водкин",
                        first_name="Кузьма", name_key="петров-водкин кузьма",
                        birth_date=dt.date(1978, 11, 5))
    SchemaVersion.update(version=11).execute()  # as a database of the last release
    assert migrations.apply(database) >= 12
    assert RosterRecord.get().name_key == "петров водкин кузьма"
