"""Roster import (R1–R3): formats, encodings, bad rows, unreadable files, idempotence."""

import datetime as dt
import json
import threading

import pytest

from regapp import roster_workers, roster_writers
from regapp.adapters import RosterUnreadable
from regapp.models import RosterRecord
from regapp.roster import import_roster
from tests.helpers import ends
from tests.rosters import (
    EN_HEADER,
    PEOPLE,
    RU_HEADER,
    far_corner,
    person,
    typed_xlsx_people,
    write_csv,
    write_xlsx,
)


def load(app, path, source=None, **kw):
    reader = app.extensions["regapp.adapters"].roster_source(source, path)
    return import_roster(reader, path, **kw)


def stored():
    return {r.policy_key: r for r in RosterRecord.select()}


def assert_people_loaded():
    assert sorted(r.policy_number for r in stored().values()) == ["ДМС-101", "ДМС-102", "ДМС-103"]
    petrov = RosterRecord.get(RosterRecord.policy_number == "ДМС-101")
    assert (petrov.last_name, petrov.first_name, petrov.patronymic) == ("Петров", "Александр", "Иванович")
    assert petrov.birth_date == dt.date(1985, 3, 14)
    assert petrov.phone == "+79161234567"
    assert petrov.valid_from == dt.date(2025, 1, 1) and petrov.valid_to is None
    semenova = RosterRecord.get(RosterRecord.policy_number == "ДМС-102")
    assert semenova.name_key == "семенова алена петровна"
    assert semenova.phone == "+79037654321"
    mamedov = RosterRecord.get(RosterRecord.policy_number == "ДМС-103")
    assert mamedov.birth_date == dt.date(1988, 11, 21) and mamedov.phone is None
    assert mamedov.patronymic == "Гасан оглы"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_csv_in_every_encoding_and_separator(app, tmp_path, encoding, delimiter):  # R2
    path = write_csv(tmp_path / "roster.csv", PEOPLE, encoding=encoding, delimiter=delimiter)
    report = load(app, path)
    assert (report.added, report.rejected) == (3, [])
    assert_people_loaded()


def test_english_headers(app, tmp_path):
    report = load(app, write_csv(tmp_path / "r.csv", PEOPLE, header=EN_HEADER))
    assert report.added == 3
    assert_people_loaded()


def test_headers_in_any_order_and_case_with_unknown_columns(app, tmp_path):
    header = ["Табельный номер"] + [h.upper() for h in reversed(RU_HEADER)]
    rows = [["77"] + list(reversed(row)) for row in PEOPLE]
    assert load(app, write_csv(tmp_path / "r.csv", rows, header=header)).added == 3
    assert_people_loaded()


@pytest.mark.parametrize("landline_first", [False, True])
def test_a_landline_column_beside_the_mobile_one_is_left_unread_and_said(app, tmp_path,
                                                                         landline_first):
    # both headers name the phone (INTERFACES.md); the later column replaced the earlier
    # unsaid, a landline after the mobile had every row refused as «не мобильный»
    header = RU_HEADER + ["Телефон"]
    rows = [row + ["8 (495) 123-45-67"] for row in PEOPLE]
    if landline_first:
        header, rows = header[-1:] + header[:-1], [row[-1:] + row[:-1] for row in rows]
    report = load(app, write_csv(tmp_path / "r.csv", rows, header=header))
    assert (report.added, report.rejected) == (3, [])
    assert_people_loaded()
    assert report.warnings == [{"line": 1, "reason": "столбец «Телефон» не прочитан: вместо "
                                                     "него прочитан «Мобильный телефон»"}]


@pytest.mark.parametrize("write", [write_csv, write_xlsx])
def test_a_column_named_twice_is_read_once_and_said(app, tmp_path, write):
    # a row maps each name to its cell: the second «Телефон» replaced the first unsaid
    header = ["Телефон"] + RU_HEADER[:5] + ["Телефон"] + RU_HEADER[6:]
    rows = [[row[5]] + row[:5] + ["8 (495) 123-45-67"] + row[6:] for row in PEOPLE]
    report = load(app, write(tmp_path / f"r.{write.__name__[6:]}", rows, header=header))
    assert (report.added, report.rejected) == (3, [])
    assert_people_loaded()
    assert report.warnings == [{"line": 1, "reason": "столбец «Телефон (2)» не прочитан: "
                                                     "вместо него прочитан «Телефон»"}]


def test_xlsx_with_text_cells(app, tmp_path):
    report = load(app, write_xlsx(tmp_path / "roster.xlsx", PEOPLE))
    assert (report.added, report.rejected) == (3, [])
    assert_people_loaded()


def test_xlsx_with_number_and_date_cells(app, tmp_path):  # case 35, 48
    report = load(app, write_xlsx(tmp_path / "roster.xlsx", typed_xlsx_people()))
    assert (report.added, report.rejected) == (3, [])
    assert_people_loaded()


BAD_ROWS = [
    (person("", born="01.02.1985"), "нет номера полиса"),
    (person("P2", last=""), "фамилия"),
    (person("P3", born="31.04.1990"), "Такой даты нет"),
    (person("P4", born="01.02.85"), "ДД.ММ.ГГГГ"),
    (person("P5", phone="+7 916 123"), "телефон"),
    (person("P6", email="ivan@@example.com"), "несколько"),
    (person("P7", email="ivan.example.com"), "e-mail"),
    (person("P8", email="a@x.ru; b@y.ru"), "несколько адресов"),
    (person("P9", start="01.01.2026", end="01.01.2025"), "окончания раньше"),
    (person("P10", last="Иванов2"), "цифры"),
    (person("P11", end="32.12.2025"), "дата окончания"),
]


def test_bad_rows_are_reported_with_line_and_reason_while_good_rows_load(app, tmp_path):
    rows = [PEOPLE[0]] + [row for row, _ in BAD_ROWS] + [PEOPLE[1]]
    report = load(app, write_csv(tmp_path / "r.csv", rows))
    assert report.added == 2
    assert [r["line"] for r in report.rejected] == list(range(3, 3 + len(BAD_ROWS)))
    for rejected, (_, reason) in zip(report.rejected, BAD_ROWS, strict=True):
        assert reason.lower() in rejected["reason"].lower(), rejected
    assert set(stored()) == {r.policy_key for r in RosterRecord.select()} and len(stored()) == 2


@pytest.mark.parametrize("landline", ["+7 495 123-45-67", "8 800 100-88-00"])
def test_a_landline_loads_the_row_without_a_phone_and_warns(app, tmp_path, landline):  # R15
    report = load(app, write_csv(tmp_path / "r.csv", [
        person("P5", phone=landline, email="ivan@example.com")]))
    assert report.added == 1 and report.rejected == []
    assert report.warnings == [{"line": 2, "reason": f"телефон «{landline}» не мобильный: строка "
                                "загружена без телефона, найти человека можно по e-mail"}]
    record = RosterRecord.get()
    assert (record.phone, record.email) == (None, "ivan@example.com")


def test_a_policy_number_repeated_in_the_file_is_refused_not_overwritten(app, tmp_path):
    rows = [PEOPLE[0], person("дмс 101", last="Другой"), PEOPLE[1]]
    report = load(app, write_csv(tmp_path / "r.csv", rows), batch_size=1)
    assert report.added == 2
    assert report.rejected == [{"line": 3, "reason": "номер полиса повторяется: он уже есть в строке 2"}]
    assert RosterRecord.get(RosterRecord.policy_number == "ДМС-101").last_name == "Петров"


def test_repeats_far_apart_and_a_second_load_count_right_across_rounds(app, tmp_path):
    """The writers work a batch (SQLite) or a round (PostgreSQL) at a time: a number seen
    rounds earlier is still a repeat, and a second load tells updated from unchanged."""
    rows = [person(f"R{n:03d}", last="Иванов", first="Иван",
                   born="01.02.1985", phone=f"+7 916 000-{n:02d}-00", email=f"r{n}@example.com")
            for n in range(25)]
    rows += [person("R003", last="Поздний"), person("R024", last="Последний")]
    report = load(app, write_csv(tmp_path / "r.csv", rows), batch_size=1)
    assert (report.added, report.updated, report.unchanged) == (25, 0, 0)
    assert report.rejected == [
        {"line": 27, "reason": "номер полиса повторяется: он уже есть в строке 5"},
        {"line": 28, "reason": "номер полиса повторяется: он уже есть в строке 26"}]
    assert RosterRecord.select().where(RosterRecord.last_name != "Иванов").count() == 0
    rows[7] = person("R007", last="Иванова", first="Иван",
                     born="01.02.1985", phone="+7 916 000-07-00", email="r7@example.com")
    again = load(app, write_csv(tmp_path / "r2.csv", rows), batch_size=1)
    assert (again.added, again.updated, again.unchanged, len(again.rejected)) == (0, 1, 24, 2)
    assert RosterRecord.get(RosterRecord.policy_number == "R007").last_name == "Иванова"


@pytest.mark.postgres_only
def test_a_first_load_goes_straight_in_and_a_number_already_there_turns_to_the_upsert(
        app, tmp_path, monkeypatch):
    """Issue 15: batches are copied straight into the records while none of their numbers
    is stored; from the first batch with one (stored before, or earlier in the file) on,
    rows are staged and upserted, with the same counts, values, order and repeats."""
    monkeypatch.setattr(roster_workers, "CHUNK", 5)
    went, straight = [], roster_writers.PostgresWriter._copied_into_table
    monkeypatch.setattr(roster_writers.PostgresWriter, "_copied_into_table",
                        lambda writer, text: went.append(straight(writer, text)) or went[-1])
    load(app, write_csv(tmp_path / "old.csv", [person("OLD", last="Старый")]))
    rows = [person(f"N{n:02d}") for n in range(10)]
    rows += [person("OLD", last="Новый"), person("N03", last="Повтор")]
    rows += [person(f"M{n}") for n in range(3)]
    report = load(app, write_csv(tmp_path / "r.csv", rows), batch_size=1)
    assert went == [True, True, True, False]
    assert (report.added, report.updated, report.unchanged) == (13, 1, 0)
    assert report.rejected == [{"line": 13, "reason": "номер полиса повторяется: он уже есть в строке 5"}]
    records = list(RosterRecord.select().order_by(RosterRecord.id))
    assert [r.policy_number for r in records] == ["OLD", *(f"N{n:02d}" for n in range(10)), "M0", "M1", "M2"]
    assert [r.last_name for r in records[:5]] == ["Новый", "Иванов", "Иванов", "Иванов", "Иванов"]
    assert records[1].birth_date == dt.date(1985, 2, 1) and records[1].created_at == records[-1].created_at


def test_extra_cells_from_a_separator_in_a_value_reject_the_row(app, tmp_path):
    path = tmp_path / "r.csv"
    write_csv(path, [PEOPLE[0]])
    with open(path, "a", encoding="utf-8") as f:
        f.write("P2;Иванов;Иван;;01.02.1985;;a@x.ru; b@y.ru;;;\n")
    report = load(app, str(path))
    assert report.added == 1
    assert report.rejected[0]["line"] == 3 and "разделители" in report.rejected[0]["reason"]


def test_placeholder_patronymic_and_multiline_quoted_cell_keep_line_numbers(app, tmp_path):
    path = tmp_path / "r.csv"
    rows = [person("P1", patronymic="-", employer="ООО «Ромашка»\nфилиал"),
            person("P2", born="nonsense")]
    write_csv(path, rows)
    report = load(app, str(path))
    assert report.added == 1 and report.rejected[0]["line"] == 4
    assert RosterRecord.get(RosterRecord.policy_number == "P1").patronymic == ""


def test_reimport_is_idempotent_and_updates_only_what_changed(app, tmp_path):  # R3
    path = write_csv(tmp_path / "r.csv", PEOPLE)
    first = load(app, path)
    before = {k: r.updated_at for k, r in stored().items()}
    again = load(app, path)
    assert (first.added, again.added, again.updated, again.unchanged) == (3, 0, 0, 3)
    assert {k: r.updated_at for k, r in stored().items()} == before
    changed = [row[:] for row in PEOPLE]
    changed[1][6] = "alena.new@example.com"
    changed[2][9] = "31.12.2025"  # people leave through an end date (R3)
    third = load(app, write_csv(tmp_path / "r2.csv", changed))
    assert (third.added, third.updated, third.unchanged) == (0, 2, 1)
    assert RosterRecord.get(RosterRecord.policy_number == "ДМС-102").email == "alena.new@example.com"


def test_import_never_deletes(app, tmp_path):  # R3
    load(app, write_csv(tmp_path / "r.csv", PEOPLE))
    report = load(app, write_csv(tmp_path / "r2.csv", PEOPLE[:1]))
    assert (report.unchanged, len(stored())) == (1, 3)


def test_dry_run_counts_and_changes_nothing(app, tmp_path):
    path = write_csv(tmp_path / "r.csv", PEOPLE + [person("P9", born="31.04.1990")])
    report = load(app, path, dry_run=True)
    assert (report.added, len(report.rejected)) == (3, 1)
    assert stored() == {}
    assert load(app, path).added == 3


def test_a_check_counts_as_the_load_does(app, tmp_path):
    """Added, updated, unchanged, repeated within a batch and across batches: the check
    (which on SQLite writes nothing) says what the load then does."""
    load(app, write_csv(tmp_path / "before.csv", PEOPLE))
    rows = [PEOPLE[0], [*PEOPLE[1][:1], "Другая", *PEOPLE[1][2:]], person("P1"), person("P2"),
            person("P1", last="Повтор"), person("P3"), PEOPLE[0], person("P4")]
    path = write_csv(tmp_path / "r.csv", rows)
    checked = load(app, path, dry_run=True, batch_size=2)
    assert (checked.added, checked.updated, checked.unchanged, len(checked.rejected)) == (
        4, 1, 1, 2)
    assert load(app, path, batch_size=2).as_json() == checked.as_json()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("dry_run", [True, False], ids=["check", "load"])
def test_reading_a_list_on_sqlite_holds_no_other_writer_up(app, tmp_path, monkeypatch, dry_run):
    """SQLite has one writer at a time: a check or a load of a large list held every other
    (a sign-in, a registration) until it ended, past their wait of 10 s. Another process
    writes and commits while the list is half-read; the load then writes beside it."""
    import sqlite3

    from regapp import roster

    load(app, write_csv(tmp_path / "before.csv", PEOPLE))
    monkeypatch.setattr(roster, "PROGRESS_EVERY", 2)
    other = sqlite3.connect(app.config["DATABASE"].removeprefix("sqlite:///"), timeout=0)
    wrote = []

    def meanwhile(rows):
        with other:  # the write lock, now or «database is locked»
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE roster_record SET employer = ? WHERE policy_number = ?",
                          (f"Другой {rows}", PEOPLE[2][0]))
        wrote.append(rows)

    rows = [[*PEOPLE[0][:1], "Другая", *PEOPLE[0][2:]], *(person(f"P{n}") for n in range(6))]
    report = load(app, write_csv(tmp_path / "r.csv", rows), dry_run=dry_run, batch_size=2,
                  progress=meanwhile)
    assert wrote and (report.added, report.updated, report.unchanged) == (6, 1, 0)
    other.close()
    after = {r.policy_number: r for r in stored().values()}
    assert after[PEOPLE[2][0]].employer == f"Другой {wrote[-1]}"
    assert len(after) == (3 if dry_run else 9)
    assert (after[PEOPLE[0][0]].last_name == "Другая") is not dry_run


@pytest.mark.parametrize("content, reason", [
    (b"", "пуст"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "не текстовый"),
    ("Фамилия;Имя\nИванов;Иван\n".encode(), "Номер полиса"),
])
def test_unreadable_csv_changes_nothing(app, tmp_path, content, reason):
    load(app, write_csv(tmp_path / "ok.csv", PEOPLE[:1]))
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(RosterUnreadable, match=reason):
        load(app, str(path))
    assert len(stored()) == 1


def test_a_decoding_error_half_way_rolls_back_what_was_loaded(app, tmp_path, monkeypatch):
    """Many batches are on their way to the database when the error comes (on PostgreSQL,
    from another thread): none of them is kept."""
    monkeypatch.setattr(roster_workers, "CHUNK", 100)
    path = tmp_path / "r.csv"
    good = [person(f"P{n}") for n in range(3000)]
    write_csv(path, good)
    with open(path, "ab") as f:
        f.write("P-bad;Иванов;Иван;;01.02.1985;;;;;\n".encode("cp1251"))
    with pytest.raises(RosterUnreadable, match="кодировке"):
        load(app, str(path), batch_size=100)
    assert not [t for t in threading.enumerate() if t.name.startswith("roster-copy")]
    assert stored() == {}


def test_a_quote_never_closed_is_named_with_its_line(app, tmp_path):
    # the csv module read on to its field limit and said so in English, with no line
    path = write_csv(tmp_path / "r.csv", PEOPLE[:1])
    with open(path, "a", encoding="utf-8") as f:
        f.write('"ДМС-102;Семёнова;Алёна;;02.07.1990;;;;;\n')
        f.write("ДМС-103;Мамедов;Али;;21.11.1988;;;;;\n" * 20_000)
    with pytest.raises(RosterUnreadable) as refused:
        load(app, path)
    assert str(refused.value).startswith("строка 3: значение длиннее 131 072 знаков, скорее "
                                         "всего, в ней открыта и не закрыта кавычка")
    assert stored() == {}


def test_a_broken_xlsx_is_unreadable(app, tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(RosterUnreadable):
        load(app, str(path))


def test_cli_json_output_and_exit_codes(app, cli, tmp_path):
    path = write_csv(tmp_path / "r.csv", PEOPLE + [person("P9", born="31.02.1990")])
    result = cli(*["roster", "import", path, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["added"], data["updated"], data["unchanged"]) == (3, 0, 0)
    assert data["rejected"] == [{"line": 5, "reason": "дата рождения «31.02.1990»: Такой даты нет: 31.02.1990"}]
    again = json.loads(cli(*["roster", "import", path, "--json"]).output)
    assert (again["added"], again["unchanged"]) == (0, 3)
    missing = cli(*["roster", "import", str(tmp_path / "none.csv"), "--json"])
    assert missing.exit_code == 2 and "error" in json.loads(missing.output.splitlines()[0])


def test_cli_human_output_and_dry_run(app, cli, tmp_path):
    path = write_csv(tmp_path / "r.csv", PEOPLE + [person("P9", born="31.04.1990")])
    result = cli(*["roster", "import", path, "--dry-run"])
    assert result.exit_code == 0
    assert "добавлено 3" in result.output and "строка 5:" in result.output
    assert stored() == {}


def test_cli_unknown_format_lists_sources(app, cli, tmp_path):
    path = tmp_path / "r.ods"
    path.write_bytes(b"x")
    result = cli(*["roster", "import", str(path)])
    assert result.exit_code == 2 and "csv, xlsx" in result.output


def test_mixed_script_names_load_with_a_warning(app, tmp_path):
    report = load(app, write_csv(tmp_path / "r.csv", [person("P1", first="Cергей")]))
    assert report.added == 1
    assert report.warnings and report.warnings[0]["line"] == 2


def _bomb(path, strings_size):
    """An XLSX whose shared strings unpack to ``strings_size`` bytes from a few KiB."""
    import zipfile

    write_xlsx(path, PEOPLE)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", "<sst>" + "A" * strings_size + "</sst>")
    return str(path)


@pytest.mark.settings(ROSTER_XLSX_MAX_SHARED_STRINGS=2**20, ROSTER_XLSX_MAX_UNPACKED=8 * 2**20)
def test_an_xlsx_that_would_unpack_too_far_is_refused_before_parsing(app, tmp_path):  # issue 13
    import os

    bomb = _bomb(tmp_path / "bomb.xlsx", 3 * 2**20)
    assert os.path.getsize(bomb) < 64 * 2**10
    source = app.extensions["regapp.adapters"].roster_source("xlsx")
    with pytest.raises(RosterUnreadable, match="распаковывается"):
        import_roster(source, bomb)
    assert RosterRecord.select().count() == 0


@pytest.mark.parametrize("corner", ["XFD1048576", "K1048576", "A1048576"])
def test_an_xlsx_with_a_cell_in_the_far_corner_is_refused_not_read_forever(app, tmp_path,
                                                                         corner):
    # issue 15: openpyxl makes up every cell between the table and the corner (seventeen
    # billion for XFD1048576, from 9 KiB); the reader counted them all, at full CPU, for hours
    path = far_corner(tmp_path / "far.xlsx", corner)
    source = app.extensions["regapp.adapters"].roster_source("xlsx")
    outcome = ends(lambda: list(source.read(path)))
    assert isinstance(outcome, RosterUnreadable) and "пустые клетки" in str(outcome), outcome
    with pytest.raises(RosterUnreadable, match="удалите строки и столбцы за таблицей"):
        import_roster(source, path)
    assert RosterRecord.select().count() == 0


def test_an_xlsx_is_read_as_wide_as_its_header(app, tmp_path):
    path = far_corner(tmp_path / "wide.xlsx", "XFD3")  # beside ДМС-102, under no header
    source = app.extensions["regapp.adapters"].roster_source("xlsx")
    rows = list(source.read(path))
    assert [line for line, _ in rows] == [2, 3, 4]
    assert all(list(row) == RU_HEADER for _, row in rows)
    assert load(app, path).added == 3


def test_an_xlsx_loses_no_row_its_dimension_leaves_out(app, tmp_path):
    # issue 15: openpyxl reads a sheet up to the size its <dimension> element states; a
    # writer that left it at two rows had the third person dropped without a word
    import zipfile

    good = zipfile.ZipFile(write_xlsx(tmp_path / "good.xlsx", PEOPLE))
    path = tmp_path / "stale.xlsx"
    with good, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in good.infolist():
            data = good.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b'<dimension ref="A1:J4"' in data
                data = data.replace(b'ref="A1:J4"', b'ref="A1:J2"')
            out.writestr(item, data)
    assert load(app, str(path)).added == 3
    assert_people_loaded()


def test_an_xlsx_without_a_stylesheet_reads_as_any_other(app, tmp_path):
    # openpyxl warns and uses its defaults; the warning was an error under the suite's filter
    # and a line in the worker's log for each such file
    import zipfile

    good = zipfile.ZipFile(write_xlsx(tmp_path / "good.xlsx", PEOPLE))
    path = tmp_path / "plain.xlsx"
    with good, zipfile.ZipFile(path, "w") as out:
        for item in good.infolist():
            out.writestr(item, b"<styleSheet/>" if item.filename == "xl/styles.xml"
                         else good.read(item))
    assert load(app, str(path)).added == 3


def test_an_xlsx_date_past_the_calendar_is_the_rows_reason(app, tmp_path):
    path = tmp_path / "far.xlsx"
    write_xlsx(path, PEOPLE + [person("ДМС-104")])
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    workbook.active["E5"] = 1e20
    workbook.active["E5"].number_format = "DD.MM.YYYY"
    workbook.save(path)
    report = load(app, str(path))
    assert report.added == 3
    assert [(r["line"], "дата рождения" in r["reason"]) for r in report.rejected] == [(5, True)]


def test_an_xlsx_without_a_sheet_says_so(app, tmp_path):
    import re
    import zipfile

    good = zipfile.ZipFile(write_xlsx(tmp_path / "good.xlsx", PEOPLE))
    path = tmp_path / "empty.xlsx"
    with good, zipfile.ZipFile(path, "w") as out:
        for item in good.infolist():
            data = good.read(item)
            if item.filename == "xl/workbook.xml":
                data = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data)
            out.writestr(item, data)
    with pytest.raises(RosterUnreadable, match="^в файле нет ни одного листа$"):
        load(app, str(path))


def test_openpyxl_parses_through_defusedxml():  # issue 13: no XML entity expansion
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML
