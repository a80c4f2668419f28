"""The shared normalizers, over ru-data-rules.md's cases (R8, R9, R14, R16)."""

import datetime as dt

import pytest

from regapp.normalize import (
    Invalid,
    check_name_part,
    display_name,
    email_key,
    name_key,
    normalize_email,
    normalize_phone,
    parse_birth_date,
    parse_date,
    policy_key,
)

TODAY = dt.date(2026, 11, 25)


# -- names (R14): typed fields vs roster fields, match or not -------------------------

NAME_CASES = [
    # (typed, roster, match, case number in ru-data-rules.md §10)
    (("Семенов", "Петр", "Алексеевич"), ("Семёнов", "Пётр", "Алексеевич"), True),  # 1
    (("СЕМЁНОВ", "пётр", "АлексеевиЧ"), ("семенов", "петр", "алексеевич"), True),  # 2
    (("Семе\u0308нов", "Петр", ""), ("Семёнов", "Петр", ""), True),  # 3
    (("И\u0306ошкин", "Иван", ""), ("Йошкин", "Иван", ""), True),  # 4
    (("Иошкин", "Иван", ""), ("Йошкин", "Иван", ""), False),  # 5
    (("Петров - Водкин", "Кузьма", ""), ("Петров-Водкин", "Кузьма", ""), True),  # 6
    (("Петров–Водкин", "Кузьма", ""), ("Петров-Водкин", "Кузьма", ""), True),  # 7 en dash
    (("Петров\u2011Водкин", "Кузьма", ""), ("Петров-Водкин", "Кузьма", ""), True),  # 7 U+2011
    (("Петров Водкин", "Кузьма", ""), ("Петров-Водкин", "Кузьма", ""), True),  # 8 (R14)
    (("Д’Артаньян", "Шарль", ""), ("Д'Артаньян", "Шарль", ""), True),  # 9
    (("Мамедов", "Али Гасан", "оглы"), ("Мамедов", "Али", "Гасан оглы"), True),  # 10
    (("Мамедов Али", "Гасан оглы", ""), ("Мамедов", "Али", "Гасан оглы"), True),  # 11
    (("Мамедов", "Али", "Гасан"), ("Мамедов", "Али", "Гасан оглы"), False),  # 12
    (("Али", "Мамедов", "Гасан оглы"), ("Мамедов", "Али", "Гасан оглы"), False),  # 13
    (("Асанбек уулу", "Нурлан", ""), ("Асанбек уулу", "Нурлан", ""), True),  # 14
    (("Иванов", "Иван", ""), ("Иванов", "Иван", "Иванович"), False),  # 15
    (("Смит", "Джон", ""), ("Смит", "Джон", "-"), True),  # 16
    (("Смит", "Джон", ""), ("Смит", "Джон", "нет"), True),  # 16
    (("Ивaнов", "Иван", ""), ("Иванов", "Иван", ""), True),  # 17 Latin a
    (("Петров", "Сергей", ""), ("Петров", "Cергей", ""), True),  # 18 Latin C in roster
    (("Ivanov", "Ivan", "Ivanovich"), ("Иванов", "Иван", "Иванович"), False),  # 19
    (("Bdfyjd", "Bdfy", "Bdfyjdbx"), ("Иванов", "Иван", "Иванович"), False),  # 20
    (("Иванов\u00a0", "\u200bИван", ""), ("Иванов", "Иван", ""), True),  # 21
    (("Мамедов", "Али", "Гасан  оглы"), ("Мамедов", "Али", "Гасан оглы"), True),  # 22
    (("Иванов", "Иван", "И."), ("Иванов", "Иван", "Иванович"), False),  # 23
    (("Ким", "Мин Су", ""), ("Ким", "Минсу", ""), False),  # 24
]


@pytest.mark.parametrize("typed, listed, match", NAME_CASES)
def test_name_key_matches_as_r14_says(typed, listed, match):
    assert (name_key(*typed) == name_key(*listed)) is match


def test_name_too_long_is_a_field_error():  # case 25
    with pytest.raises(Invalid, match="100"):
        check_name_part("Я" * 101)


@pytest.mark.parametrize("value, message", [
    ("Ivanov", "кириллицей"),
    ("Иванов2", "Цифры"),
    ("", "Заполните"),
    ("Иван@", "Допустимы"),
])
def test_name_part_refusals_say_why(value, message):
    with pytest.raises(Invalid, match=message):
        check_name_part(value)


@pytest.mark.parametrize("stored, shown", [
    ("АЛИ", "Али"),
    ("ГАСАН ОГЛЫ", "Гасан оглы"),  # case 26: never str.title()
    ("петров-водкин", "Петров-Водкин"),
    ("МакДональд", "МакДональд"),  # mixed case: as the roster wrote it
])
def test_display_name_recases_only_single_case_names(stored, shown):
    assert display_name(stored) == shown


# -- phones (R9) ----------------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "+7 (916) 123-45-67", "89161234567", "9161234567", "79161234567", "8-916-1234567",
    "+7 (8916) 123-45-67", "810 7 916 123 45 67", "＋７ ９１６ １２３ ４５ ６７",
    "+٧ ٩١٦ ١٢٣ ٤٥ ٦٧", 79161234567.0, "+7\u2011916\u2011123\u20114567",
])
def test_usual_forms_of_a_mobile_give_e164(typed):  # case 27, 35
    assert normalize_phone(typed) == "+79161234567"


@pytest.mark.parametrize("typed, message", [
    ("+7 495 123-45-67", "не мобильный"),  # 28
    ("8 812 123-45-67", "не мобильный"),  # 29
    ("8 800 100-88-00", "не мобильный"),  # 30
    ("+7 701 123 45 67", "страны"),  # 31
    ("7011234567", "страны"),  # 31
    ("+7 916 123 45 67 доб. 12", "добавочного"),  # 32
    ("+7 916 ABC DEFG", "только цифры"),  # 33
    ("+7 916 123 45 6", "Проверьте номер"),  # 34
    ("+7 916 123 45 678", "Проверьте номер"),  # 34
    ("7.91612E+10", "Excel"),
    ("89161234567; 89031234567", "несколько"),
    ("", "Укажите"),
])
def test_phones_that_cannot_take_an_sms_are_refused(typed, message):
    with pytest.raises(Invalid, match=message):
        normalize_phone(typed)


def test_kazakh_mobiles_pass_only_where_the_deployment_allows():
    assert normalize_phone("+7 701 123 45 67", regions=("RU", "KZ")) == "+77011234567"


# -- e-mail (R5, R16) ---------------------------------------------------------------

@pytest.mark.parametrize("typed, listed, match", [
    ("Ivan.Petrov@Corp.RU", "ivan.petrov@corp.ru", True),  # 38
    ("ivan@почта.рф", "ivan@xn--80a1acny.xn--p1ai", True),  # 39
    ("ivan.petrov@gmail.com", "ivanpetrov@gmail.com", False),  # 40
    ("ivan+dms@corp.ru", "ivan@corp.ru", False),  # 41
    ("  ivan@corp.ru ", "ivan@corp.ru", True),  # 44: spaces around are trimmed
])
def test_email_keys_compare_case_insensitively_and_nothing_more(typed, listed, match):
    assert (normalize_email(typed)[1] == normalize_email(listed)[1]) is match


def test_email_keeps_the_address_as_typed_for_sending():
    address, key = normalize_email("Ivan.Petrov@Corp.RU")
    assert address == "Ivan.Petrov@corp.ru" and key == "ivan.petrov@corp.ru"
    assert email_key("Ivan@ПОЧТА.рф") == "ivan@xn--80a1acny.xn--p1ai"


@pytest.mark.parametrize("typed, message", [
    ("ivan@mаil.ru", "раскладку"),  # 42: Cyrillic а in a Latin label
    ("ivan@gmail.сom", "раскладку"),  # Cyrillic с in the top-level domain
    ("иван@почта.рф", "Проверьте E-mail"),  # 43
    ("mailto:ivan@corp.ru", "Проверьте E-mail"),  # 44
    ("Ivan <ivan@corp.ru>", "Проверьте E-mail"),  # 44
    ("a@x.ru; b@y.ru", "несколько"),  # 47
    ("ivan..petrov@corp.ru", "Проверьте E-mail"),
    ("", "Укажите"),
])
def test_bad_emails_are_refused_with_a_reason(typed, message):
    with pytest.raises(Invalid, match=message):
        normalize_email(typed)


# -- dates --------------------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "01.02.1985", "1.2.1985", "1985-02-01", "01/02/1985", dt.date(1985, 2, 1),
    dt.datetime(1985, 2, 1, 0, 0), 31079,  # an Excel serial
    dt.datetime(1985, 2, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=3))),  # 52: no shift
    "01021985", "01 02 1985", "01.02.1985.",  # issue 14: a numeric keypad has no dot
])
def test_dates_in_every_accepted_form(typed):  # 48, 49, 52
    assert parse_date(typed) == dt.date(1985, 2, 1)


@pytest.mark.parametrize("typed, message", [
    ("01.02.85", "ДД.ММ.ГГГГ"),  # 50
    ("29.02.2001", "Такой даты нет"),  # 51
    ("31.04.1990", "Такой даты нет"),  # 51
    ("26.11.2026", "будущем"),  # 51: tomorrow
    ("01.01.1899", "год рождения"),  # 51
    ("1 февраля 1985", "ДД.ММ.ГГГГ"),
])
def test_impossible_or_implausible_birth_dates_are_refused(typed, message):
    with pytest.raises(Invalid, match=message):
        parse_birth_date(typed, today=TODAY)


def test_self_registration_age_floor():
    with pytest.raises(Invalid, match="с 18 лет"):
        parse_birth_date("26.11.2008", today=TODAY, min_age=18)
    assert parse_birth_date("25.11.2008", today=TODAY, min_age=18) == dt.date(2008, 11, 25)


# -- policy numbers (R8) --------------------------------------------------------------

@pytest.mark.parametrize("typed, listed, match", [
    ("ab 123–456", "АВ123456", True),  # 53
    ("№ 0012345", "0012345", True),  # 54
    ("0012345", "12345", False),  # 55
    ("дмс-2025-000101", "ДМС 2025 000101", True),
    ("ДМС-2025-000101", "DMC-2025-000101", False),  # Д and М-look-alike differ from D
    (12345.0, "12345", True),  # an Excel number cell
    ("O123", "0123", False),  # never fold О↔0
])
def test_policy_keys(typed, listed, match):
    assert (policy_key(typed) == policy_key(listed)) is match


def test_empty_policy_is_refused():
    with pytest.raises(Invalid, match="полиса ДМС"):
        policy_key(" № ")
