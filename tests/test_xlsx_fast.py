"""The XLSX roster's fast reader (python-calamine in a child process) gives what openpyxl
gives, and leaves to openpyxl whatever it cannot read (issue 15).

Hypothesis writes workbooks of the cells HR files hold (text, whole and fractional
numbers, dates, booleans, empty cells) and the odd ones around them; each is read both
ways through the roster source, and the fast way must have read it itself.
"""

import datetime as dt
import logging
import os
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from regapp_plugins import roster_xlsx, xlsx_fast
from regapp_plugins.roster_xlsx import XlsxRosterSource

from regapp import roster, roster_rows
from regapp.adapters import RosterUnreadable
from regapp.normalize import Invalid
from tests.helpers import ends
from tests.rosters import (
    PEOPLE,
    RU_HEADER,
    SPREADSHEET,
    as_shared_strings,
    rewritten,
    typed_xlsx_people,
    with_shared_strings,
    write_xlsx,
)

FAST = XlsxRosterSource({})
STREAMING = XlsxRosterSource({"ROSTER_XLSX_FAST_MEMORY": 0})

texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12).map(
    lambda text: ILLEGAL_CHARACTERS_RE.sub("", text)).filter(lambda t: not t.startswith("="))
cells = st.one_of(
    st.none(), texts, st.sampled_from([c for row in PEOPLE for c in row]),
    st.integers(-(2**62), 2**62), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.dates(dt.date(1900, 3, 1), dt.date(9999, 12, 31)),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(9999, 12, 30)).map(
        lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)),
    st.sampled_from([79161234567, 79161234567.0, "8 916 123-45-67", " Иванов ", "1.5",
                     1234567890123456, 9007199254740993]))
headers = st.one_of(st.just(RU_HEADER), st.lists(st.one_of(st.none(), texts), max_size=12))


def _workbook(path, header, rows, at=(1, 1), epoch_1904=False):
    workbook = Workbook()
    sheet = workbook.active
    if epoch_1904:
        from openpyxl.utils.datetime import CALENDAR_MAC_1904

        workbook.epoch = CALENDAR_MAC_1904
    for row_number, cells_of_row in enumerate([header, *rows], start=at[0]):
        for column, value in enumerate(cells_of_row, start=at[1]):
            sheet.cell(row_number, column, value)
    workbook.save(path)
    return str(path)


def _both(path):
    """What the source gives either way, each row :func:`_typed`, a refusal as its text."""
    outcomes = []
    for source in (FAST, STREAMING):
        try:
            outcomes.append([(line, _typed(row)) for line, row in source.read(path)])
        except RosterUnreadable as refusal:
            outcomes.append(str(refusal))
    return outcomes


def _typed(row):
    """``(name, type, value)`` for each cell of ``row``: 1.0 == 1 in Python, but a name read
    as «1.0» is not «1». A cell of ASCII spaces alone counts as empty: calamine reads it so,
    and every field reads it so anyway (:func:`_checked`)."""
    typed = []
    for name, value in row.items():
        if isinstance(value, str) and value.strip(" \t\r\n") == "":
            value = None
        typed.append((name, type(value), value))
    return typed


def _read(path, slice_bytes):
    return list(xlsx_fast.lines(path, roster_xlsx.DEFAULT_FAST_MEMORY, slice_bytes))


def _checked(path, source):
    """Each row as the import checks it: its fields, or why it is refused."""
    try:
        rows = list(source.read(path))
    except RosterUnreadable as refusal:
        return str(refusal)
    mapping = roster.column_map(list(rows[0][1])) if rows else {}
    checked = []
    for line, row in rows:
        try:
            checked.append((line, roster_rows.parse_row(row, mapping)))
        except Invalid as refusal:
            checked.append((line, str(refusal)))
    return checked


@settings(max_examples=30, deadline=None)
@given(headers, st.lists(st.lists(cells, max_size=12), max_size=6),
       st.sampled_from([(1, 1), (1, 3), (3, 1)]), st.booleans(), st.booleans())
@example(RU_HEADER, typed_xlsx_people(), (1, 1), False, False)
@example(RU_HEADER, typed_xlsx_people(), (1, 1), True, False)
@example(RU_HEADER, typed_xlsx_people(), (1, 1), False, True)
def test_the_fast_reader_gives_what_openpyxl_gives(tmp_path_factory, header, rows, at,
                                                   epoch_1904, shared):
    # Excel's 1904 calendar holds nothing before it starts (openpyxl writes a negative day)
    assume(not epoch_1904 or not any(
        isinstance(cell, dt.date) and (cell.year, cell.month, cell.day) < (1904, 1, 2)
        for row in rows for cell in row))
    path = _workbook(tmp_path_factory.mktemp("x") / "r.xlsx", header, rows, at, epoch_1904)
    if shared:  # text as Excel writes it
        rewritten(path, as_shared_strings)
    inexact = any(isinstance(cell, (int, float)) and not isinstance(cell, bool)
                  and abs(cell) >= 2**53 for row in [header, *rows] for cell in row)
    try:
        whole = list(xlsx_fast.lines(path, roster_xlsx.DEFAULT_FAST_MEMORY))
    except xlsx_fast.FastReadFailed:
        whole = None
    assert (whole is None) is inexact  # left to openpyxl only where calamine may round
    if whole is not None:  # a row or two a slice: what a big sheet's slices give
        assert _read(path, slice_bytes=300) == whole
    fast, streaming = _both(path)
    assert fast == streaming
    if header == RU_HEADER:
        assert _checked(path, FAST) == _checked(path, STREAMING)


#: what Excel writes and openpyxl does not: shared strings (one in runs, one with its
#: reading in phonetic runs, one kept with its spaces), a formula's cached text and number,
#: an ISO date cell, a boolean, an inline string in runs
EXCEL_STRINGS = (f'<sst {SPREADSHEET} count="4" uniqueCount="4"><si><t>ДМС-201</t></si>'
                 '<si><r><t>Ива</t></r><r><rPr><b/></rPr><t>нов</t></r></si>'
                 '<si><t>Иван</t><rPh sb="0" eb="1"><t>イ</t></rPh></si>'
                 '<si><t xml:space="preserve"> ООО «Ромашка» </t></si></sst>')
EXCEL_ROW = ('<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c>'
             '<c r="C2" t="s"><v>2</v></c><c r="D2" t="str"><f>A1</f><v>Иванович</v></c>'
             '<c r="E2" t="d"><v>1985-02-01T00:00:00</v></c>'
             '<c r="F2"><f>1+1</f><v>79161234567</v></c><c r="G2" t="b"><v>1</v></c>'
             '<c r="H2" t="s"><v>3</v></c><c r="I2" t="inlineStr"><is><r><t>01.01.</t></r>'
             '<r><t>2025</t></r></is></c></row>')


def _as_excel_writes(parts):
    with_shared_strings(parts, EXCEL_STRINGS)
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    parts["xl/worksheets/sheet1.xml"] = re.sub(r'<row r="2".*?</row>', EXCEL_ROW, sheet).encode()


def test_cells_as_excel_writes_them_read_the_same_either_way(tmp_path):
    path = rewritten(write_xlsx(tmp_path / "excel.xlsx", PEOPLE), _as_excel_writes)
    list(xlsx_fast.lines(path, roster_xlsx.DEFAULT_FAST_MEMORY))  # read, not left to openpyxl
    fast, streaming = _both(path)
    assert fast == streaming
    expected = ["ДМС-201", "Иванов", "Иван", "Иванович", dt.datetime(1985, 2, 1), 79161234567,
                True, " ООО «Ромашка» ", "01.01.2025", None]
    assert fast[0] == (2, [(name, type(value), value)
                           for name, value in zip(RU_HEADER, expected, strict=True)])


def test_excel_cells_in_slices_read_as_whole(tmp_path):
    # a big sheet's slices carry their shared strings in their cells: runs, phonetic
    # reading and spaces as they were, a cell written with its type first or with spaces
    def as_excel_writes_many(parts):
        _as_excel_writes(parts)
        sheet = parts["xl/worksheets/sheet1.xml"]
        parts["xl/worksheets/sheet1.xml"] = sheet.replace(
            b'<c r="C2" t="s"><v>2</v></c>', b'<c r="C2" t="s" s="0"> <v>2</v> </c>')

    path = rewritten(write_xlsx(tmp_path / "excel.xlsx", PEOPLE), as_excel_writes_many)
    whole = _read(path, slice_bytes=2**30)
    assert _read(path, slice_bytes=200) == whole and len(whole) == 4
    assert whole[1][1][:3] == ["ДМС-201", "Иванов", "Иван"]


def test_shared_strings_are_found_by_number_however_written():
    strings = xlsx_fast._SharedStrings(
        b'<sst><si><t>a</t></si><si/><si /><si><r><t>b</t></r><r><t>c</t></r></si></sst>')
    sheet = (b'<row r="1"><c r="A1" t="s"><v>3</v></c><c r="B1" t="s"><v>2</v></c>'
             b'<c r="C1" t="s" s="2"> <v>0</v> </c></row>')
    assert strings.written_in(sheet) == (
        b'<row r="1"><c r="A1" t="inlineStr"><is><r><t>b</t></r><r><t>c</t></r></is></c>'
        b'<c r="B1" t="inlineStr"><is></is></c><c r="C1" t="inlineStr" s="2"><is><t>a</t>'
        b'</is></c></row>')
    with pytest.raises(xlsx_fast._Left):  # a number past the strings
        strings.written_in(b'<c r="A1" t="s"><v>4</v></c>')
    with pytest.raises(xlsx_fast._Left):  # a way of writing one not known here
        strings.written_in(b"<c r='A1' t='s'><v>0</v></c>")


def test_a_slice_holds_its_own_strings_not_all_of_them(tmp_path, monkeypatch):
    # 1,000,000 rows as Excel saves them: 68 MiB of shared strings, copied into each
    # slice, ended the child past its cap at the first (openpyxl then read for 5 minutes)
    path = rewritten(_big(tmp_path / "big.xlsx"), as_shared_strings)
    with zipfile.ZipFile(path) as archive:
        strings = archive.getinfo("xl/sharedStrings.xml").file_size
    made = []
    real = xlsx_fast._zipped
    monkeypatch.setattr(xlsx_fast, "_zipped", lambda parts, part, sheet: made.append(
        sum(map(len, parts.values()))) or real(parts, part, sheet))
    rows = list(xlsx_fast._rows(path, 16 * 2**10))
    assert len(made) > 5 and max(made) < strings / 5
    assert [(line, cells) for line, _, cells in rows[:2]] == [
        (1, RU_HEADER), (2, ["ДМС-00000", *PEOPLE[0][1:]])]
    assert _read(path, slice_bytes=16 * 2**10) == _read(path, slice_bytes=2**30)


def test_a_shared_string_past_the_strings_is_left_to_openpyxl(tmp_path):
    def past(parts):
        parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
            b'<c r="A2" t="s"><v>0</v></c>', b'<c r="A2" t="s"><v>999</v></c>')

    path = rewritten(rewritten(write_xlsx(tmp_path / "r.xlsx", PEOPLE), _as_excel_writes),
                      past)
    with pytest.raises(xlsx_fast.FastReadFailed) as stop:
        _read(path, slice_bytes=200)
    assert stop.value.code == 3
    fast, streaming = _both(path)
    assert fast == streaming


@pytest.mark.parametrize("error", [
    b'<c r="D2" t="e"><v>#N/A</v></c>',
    b'<c r="D2" s="0" t="e"><f>VLOOKUP(A2,\xd0\xa1\xd0\xbf\xd1\x80!A:B,2,0)</f><v>#N/A</v></c>',
    b'<c r="D2" t="e"><f t="shared" si="0"/><v>#N/A</v></c>'])
def test_an_error_cell_reads_as_its_text_which_refuses_the_row(tmp_path, error):
    # calamine reads #N/A as an empty cell: a patronymic lost from a failed lookup would
    # load as none, where the row must be refused with its reason (an Excel list with a
    # VLOOKUP's #N/A went to openpyxl whole, ten times slower)
    cell = '<c r="D2" t="inlineStr"><is><t>Иванович</t></is></c>'.encode()

    def failed_lookup(parts):
        assert cell in parts["xl/worksheets/sheet1.xml"]
        parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
            cell, error)

    path = rewritten(write_xlsx(tmp_path / "e.xlsx", PEOPLE), failed_lookup)
    read = _read(path, slice_bytes=2**30)  # the fast reader's own, not openpyxl's
    assert read[1][1][3] == "#N/A" and _read(path, slice_bytes=200) == read
    fast, streaming = _both(path)
    assert fast == streaming
    rows = dict(FAST.read(path))
    assert rows[2]["Отчество"] == "#N/A" and rows[3]["Отчество"] == "Петровна"
    assert _checked(path, FAST)[0] == _checked(path, STREAMING)[0]


def test_an_error_cell_written_otherwise_is_left_to_openpyxl(tmp_path):
    def odd(parts):
        parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
            '<c r="D2" t="inlineStr"><is><t>Иванович</t></is></c>'.encode(),
            b"<c r='D2' t='e'><v>#N/A</v></c>")

    path = rewritten(write_xlsx(tmp_path / "e.xlsx", PEOPLE), odd)
    with pytest.raises(xlsx_fast.FastReadFailed) as stop:
        _read(path, slice_bytes=2**30)
    assert stop.value.code == 3
    assert dict(FAST.read(path))[2]["Отчество"] == "#N/A"


def test_an_error_cell_in_another_sheet_leaves_nothing_to_openpyxl(tmp_path):
    from openpyxl import load_workbook

    path = write_xlsx(tmp_path / "two.xlsx", PEOPLE)
    workbook = load_workbook(path)
    workbook.create_sheet("Справочник")["A1"] = "=NA()"
    workbook.save(path)
    rewritten(path, lambda parts: parts.update({"xl/worksheets/sheet2.xml": parts[
        "xl/worksheets/sheet2.xml"].replace(b"<c r=\"A1\"", b"<c r=\"A1\" t=\"e\"")}))
    with zipfile.ZipFile(path) as archive:
        assert b't="e"' in archive.read("xl/worksheets/sheet2.xml")
    assert [line for line, _ in _read(path, slice_bytes=2**30)] == [1, 2, 3, 4]


def test_a_sheet_past_the_memory_cap_is_read_by_openpyxl(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", PEOPLE)
    with pytest.raises(xlsx_fast.FastReadFailed):
        list(xlsx_fast.lines(path, 8 * 2**20))  # less than Python itself takes
    capped = XlsxRosterSource({"ROSTER_XLSX_FAST_MEMORY": 8 * 2**20})
    assert list(capped.read(path)) == list(STREAMING.read(path)) != []


def test_a_reader_that_stops_midway_is_followed_by_openpyxl_from_the_next_line(
        tmp_path, monkeypatch):
    # a child killed after two lines (out of memory, a restart): nothing read twice, none lost
    path = write_xlsx(tmp_path / "r.xlsx", PEOPLE)
    real = xlsx_fast.lines

    def stops(location, memory):
        given = real(location, memory)
        for _ in range(3):  # the header and two people
            line, cells = next(given)
            yield line, cells
        given.close()
        raise xlsx_fast.FastReadFailed(line, -9)

    monkeypatch.setattr(xlsx_fast, "lines", stops)
    assert list(FAST.read(path)) == list(STREAMING.read(path))
    assert [line for line, _ in FAST.read(path)] == [2, 3, 4]


def _children():
    """This process's children still running (a zombie is not)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.append(stat.parent.name)
    return found


def test_the_child_is_gone_when_the_reader_is_left(tmp_path):
    # an import that stops at a bad file's refusal, or a job cancelled, leaves no reader
    path = _big(tmp_path / "big.xlsx")  # more than the pipe holds: the child still writes
    before = set(_children())  # servers an earlier test in this process started
    lines = xlsx_fast.lines(path, roster_xlsx.DEFAULT_FAST_MEMORY)
    next(lines)
    assert set(_children()) - before
    lines.close()
    assert set(_children()) - before == set()


def test_no_interpreter_to_start_leaves_the_workbook_to_openpyxl(tmp_path, monkeypatch):
    # embedded Python (sys.executable empty), or no process left to start: read all the same
    path = write_xlsx(tmp_path / "r.xlsx", PEOPLE)
    monkeypatch.setattr(xlsx_fast.sys, "executable", str(tmp_path / "no-python"))
    with pytest.raises(xlsx_fast.FastReadFailed):
        next(xlsx_fast.lines(path, roster_xlsx.DEFAULT_FAST_MEMORY))
    assert [line for line, _ in FAST.read(path)] == [2, 3, 4]


def test_a_child_killed_midway_loses_no_row_and_repeats_none(tmp_path, caplog):
    # the real fault: SIGKILL while rows are still to come (the pipe holds a few batches)
    import signal

    caplog.set_level(logging.INFO, "regapp_plugins.roster_xlsx")
    path = write_xlsx(tmp_path / "big.xlsx", [
        [f"ДМС-{n:05d}", *PEOPLE[n % 3][1:]] for n in range(5 * xlsx_fast.BATCH)])
    before = set(_children())
    rows = FAST.read(path)
    read = [next(rows)]
    (child,) = set(_children()) - before
    os.kill(int(child), signal.SIGKILL)
    read.extend(rows)
    assert read == list(STREAMING.read(path))
    assert [line for line, _ in read] == list(range(2, 5 * xlsx_fast.BATCH + 2))
    stopped = re.search(r"stopped after line (\d+), exit code -9", caplog.text)
    assert stopped and 2 <= int(stopped[1]) < 5 * xlsx_fast.BATCH  # midway, not at the end


def _big(path, count=3000):
    return write_xlsx(path, [[f"ДМС-{n:05d}", *PEOPLE[n % 3][1:]] for n in range(count)])


def test_a_big_sheet_is_read_a_slice_at_a_time_as_it_would_be_whole(tmp_path):
    # a million rows would take calamine about 1 GiB whole, past the cap: read in slices,
    # each a workbook of its own, the memory holds one
    path = _big(tmp_path / "big.xlsx")
    with zipfile.ZipFile(path) as archive:
        index, part = xlsx_fast._first_worksheet(archive)
        slices = list(xlsx_fast._slices(archive, part, 64 * 2**10))
    assert (index, part) == (0, "xl/worksheets/sheet1.xml") and len(slices) > 5
    for piece in slices:  # each a sheet of whole rows, without the whole's dimension
        assert b"<dimension" not in piece and piece.endswith(b"</row></sheetData></worksheet>")
    whole = _read(path, slice_bytes=2**30)
    assert _read(path, slice_bytes=64 * 2**10) == whole
    assert [line for line, _ in whole] == list(range(1, 3002))


def test_rows_that_do_not_say_their_number_are_not_sliced(tmp_path):
    # their place is their order: a second slice would count them from 1 again
    def unnumbered(parts):
        parts["xl/worksheets/sheet1.xml"] = re.sub(
            rb'<row r="\d+"', b"<row", parts["xl/worksheets/sheet1.xml"])

    path = rewritten(_big(tmp_path / "big.xlsx"), unnumbered)
    with pytest.raises(xlsx_fast.FastReadFailed) as stop:
        _read(path, slice_bytes=64 * 2**10)
    assert stop.value.code == 3 and stop.value.last_line > 1  # the first slice was read
    assert len(_read(path, slice_bytes=2**30)) == 3001  # whole, calamine counts them itself
    assert list(FAST.read(path)) == list(STREAMING.read(path))


def test_a_child_that_hangs_is_killed_and_openpyxl_reads(tmp_path, monkeypatch):
    # python-calamine out of memory while making Python's rows panicked and hung, the
    # import waiting on it for ever
    hangs = tmp_path / "hangs"
    hangs.write_text("#!/bin/sh\nexec sleep 600\n")
    hangs.chmod(0o755)
    path = write_xlsx(tmp_path / "r.xlsx", PEOPLE)
    monkeypatch.setattr(xlsx_fast.sys, "executable", str(hangs))
    monkeypatch.setattr(xlsx_fast, "IDLE_SECONDS", 1)
    stop = ends(lambda: next(xlsx_fast.lines(path, roster_xlsx.DEFAULT_FAST_MEMORY)), 30)
    assert isinstance(stop, xlsx_fast.FastReadFailed) and stop.code == -9
    assert [line for line, _ in FAST.read(path)] == [2, 3, 4]


def test_a_slice_mostly_empty_cells_is_left_to_openpyxl(tmp_path):
    # a far cell in a big sheet's last slice: its grid would be taken at once
    from openpyxl import load_workbook

    path = _big(tmp_path / "big.xlsx")
    workbook = load_workbook(path)
    workbook.active["K1048576"] = "Иванов"
    workbook.save(path)
    with pytest.raises(xlsx_fast.FastReadFailed) as stop:
        _read(path, slice_bytes=64 * 2**10)
    assert stop.value.code == 3 and stop.value.last_line > 1


def test_the_imports_own_pauses_do_not_count_as_the_childs_silence(tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(xlsx_fast, "IDLE_SECONDS", 1)
    path = _big(tmp_path / "big.xlsx")  # more than the pipe holds: the child waits on us
    lines = xlsx_fast.lines(path, roster_xlsx.DEFAULT_FAST_MEMORY)
    read = [next(lines)]
    time.sleep(3)  # a batch of rows written to the database, slowly
    read.extend(lines)
    assert len(read) == 3001


def test_a_big_workbook_gets_cpu_time_for_its_size(tmp_path):
    # a million rows as Excel saves them took a minute of the child's two on a slow day: a
    # slower machine would have stopped it midway, and openpyxl read the rest for minutes
    path = _big(tmp_path / "big.xlsx", count=20_000)
    with zipfile.ZipFile(path) as archive:
        mib = sum(item.file_size for item in archive.infolist()) // 2**20
    assert mib >= 5
    assert xlsx_fast._cpu_seconds(path) == xlsx_fast.CPU_SECONDS + mib
    (tmp_path / "not.xlsx").write_bytes(b"not a workbook")
    assert xlsx_fast._cpu_seconds(tmp_path / "not.xlsx") == xlsx_fast.CPU_SECONDS
