"""Contract: a roster source (R2, R3)."""

import inspect

import pytest

from regapp.adapters import RosterSource, RosterUnreadable
from regapp.roster import column_map, parse_row

ROWS = [
    {"Номер полиса": "ДМС-2025-000101", "Фамилия": "Семёнова", "Имя": "Алёна",
     "Отчество": "Петровна", "Дата рождения": "02.07.1990", "Мобильный телефон": "+7 916 123-45-67",
     "E-mail": "alena@example.com", "Страхователь": "ООО «Ромашка»",
     "Дата начала": "01.01.2025", "Дата окончания": "31.12.2026"},
    {"Номер полиса": "0012345", "Фамилия": "Мамедов", "Имя": "Али", "Отчество": "Гасан оглы",
     "Дата рождения": "1988-11-21", "Мобильный телефон": "89031234567", "E-mail": "",
     "Страхователь": "АО «Вектор»", "Дата начала": "", "Дата окончания": ""},
    {"Номер полиса": "ДМС-3", "Фамилия": "Смит", "Имя": "Джон", "Отчество": "",
     "Дата рождения": "05.05.1979", "Мобильный телефон": "", "E-mail": "john@example.com",
     "Страхователь": "", "Дата начала": "", "Дата окончания": ""},
]


def test_declares_its_name_and_contract(roster_adapter):
    roster_adapter.assert_declared(RosterSource)
    assert isinstance(roster_adapter.cls.suffixes, tuple)


def test_rows_come_back_as_written_with_their_lines(roster_adapter):
    with roster_adapter.environment("write") as (source, env):
        rows = source.read(env.write(ROWS))
        assert inspect.isgenerator(rows) or hasattr(rows, "__next__"), "rows must be read lazily"
        read = list(rows)
    assert [line for line, _ in read] == [2, 3, 4]
    mapping = column_map(read[0][1].keys())
    expected = [parse_row(row, column_map(row.keys())) for row in ROWS]
    assert [parse_row(row, mapping) for _, row in read] == expected


def test_a_missing_roster_is_unreadable(roster_adapter, tmp_path):
    with roster_adapter.environment("write") as (source, env):
        with pytest.raises(RosterUnreadable):
            list(source.read(str(tmp_path / "no-such-roster")))
