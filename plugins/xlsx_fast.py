"""The XLSX roster's fast reader: python-calamine, in a process of its own (issue 15).

calamine reads a workbook about twenty times faster than openpyxl, but it holds the whole
sheet (about 1 KiB a row) and a workbook of a few KiB with a cell in the sheet's far
corner makes it ask for hundreds of GiB at once, which ends its process. So it runs in a
child whose address space is capped (``ROSTER_XLSX_FAST_MEMORY``; its CPU time too),
and hands the rows back as lines of JSON (nothing that runs code, as pickle would). A
sheet past ``SLICE_BYTES`` of XML is read a slice of rows at a time, each slice a
workbook of its own with the original's styles and its cells' own text written in them
(Excel keeps text apart, in shared strings: a copy of all of them in every slice took
the memory and the time), so the child holds a slice, never the sheet. A sheet with an
error cell (#N/A: calamine reads it as empty, where the row must be refused with it) is
read so too, each error written in as the text it shows. Whatever it cannot do, a slice
too big for the cap, a workbook it cannot read, a cell written in a way not known here, a
number a float may have rounded, the child's end midway, leaves the rest to openpyxl,
which streams and decides every refusal.

Cells reach the import as openpyxl gives them: an empty cell as ``None``, a whole number
as ``int``, a date as a ``datetime``; a cell of ASCII spaces alone as empty (calamine's
reading, and every field's).

On a workbook no spreadsheet program writes the two may part, neither reading anything
the file does not hold: calamine places a cell by its own reference where openpyxl
trusts its row's (a row numbered 99999999999 around cell A2), and gives the text of a
number or date cell that holds none where openpyxl calls the whole file damaged.

    python -m regapp_plugins.xlsx_fast WORKBOOK MEMORY_BYTES
"""

import array
import datetime as dt
import io
import json
import os
import posixpath
import re
import resource
import subprocess
import sys
import threading
import time
import zipfile

#: an error cell in a sheet's XML: <c r="A1" t="e">
_ERROR_CELL = re.compile(rb"""\st\s*=\s*["']e["']""")
#: an error cell, its formula if any, and its value: <c r="D2" t="e"><f>…</f><v>#N/A</v></c>
_ERROR_VALUE = re.compile(rb'<c\b([^>]*?)\st="e"([^>]*)>(?:\s*<f\b[^>]*?(?:/>|>.*?</f>))?'
                          rb'\s*<v>([^<]*)</v>\s*</c>', re.S)
_DIMENSION = re.compile(rb"<dimension\b[^>]*>")
#: a row that does not say its number (its place is its order)
_ROW_UNNUMBERED = re.compile(rb"<row(?![^>]*\sr\s*=)[\s>/]")
#: a shared string's text: <si>…</si> (<si/>: none)
_SHARED_STRING = re.compile(rb"<si(?:\s[^>/]*)?(?:/>|>(.*?)</si>)", re.S)
#: a cell that shows a shared string, from its type on as Excel writes it: t="s"><v>17</v>
_SHARED_VALUE = re.compile(rb' t="s"><v>(\d+)</v>')
#: the same written any other way: <c r="A2" t="s" s="1"> <v>17</v> </c>
_SHARED_CELL = re.compile(rb'<c\b([^>]*?)\st="s"([^>]*)>\s*<v>\s*(\d+)\s*</v>\s*</c>')
_SHARED_LEFT = re.compile(rb"""\st\s*=\s*["']s["']""")
#: a sheet whose XML is larger is read a slice of rows at a time (about 25,000 rows)
SLICE_BYTES = 16 * 2**20
#: a slice's cells, empty ones included, taken at once (25,000 rows of 160 columns)
SLICE_CELLS = 4 * 2**20
#: a child that says nothing for this long has hung (a pyo3 panic out of memory does)
IDLE_SECONDS = 30
_CHUNK = 2**20
#: the child's CPU time: two minutes, and a second more for each MiB the workbook unpacks
#: to (a million rows as Excel saves them, 400 MiB, took a minute on a slow day): a
#: workbook that keeps calamine far longer than its size asks is left to openpyxl, which
#: refuses what should be
CPU_SECONDS = 120
CPU_SECONDS_A_MIB = 1
#: numbers from here on are not exact in a float, where openpyxl reads a whole one
#: written in full (a 16-digit policy number) as the exact ``int``: left to openpyxl
_EXACT = 2**53
_END = "end"
#: rows a line of JSON: one parse and one write each, not one a row
BATCH = 1000


class FastReadFailed(Exception):
    """The fast reader stopped: ``last_line`` is the last line it gave (0: none), ``code``
    how its process ended (3: it left the sheet to openpyxl; -6: over its memory cap)."""

    def __init__(self, last_line, code):
        super().__init__(f"stopped after line {last_line}, exit code {code}")
        self.last_line = last_line
        self.code = code


def lines(location, memory, slice_bytes=SLICE_BYTES):
    """``(line, cells)`` for the first worksheet's rows that hold a cell, from a child
    process reading with calamine; raises :class:`FastReadFailed` when it could not."""
    try:  # -P: nothing in the working folder stands in for a module the child imports
        child = subprocess.Popen(
            [sys.executable, "-P", "-m", __name__, str(location), str(memory), str(slice_bytes)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            env={**os.environ, "MALLOC_ARENA_MAX": "1"})  # one arena: its reservations count
    except OSError as exc:  # no interpreter to start (an embedded one), no process left
        raise FastReadFailed(0, exc.errno) from None
    last, watch = 0, _Watch(child)
    try:
        while (text := watch.read(child.stdout)) is not None:
            try:
                batch = json.loads(text, object_hook=_decoded)
            except ValueError:  # a line cut short: the child ended as it wrote
                break
            if batch == _END:
                return
            for last, cells in batch:
                yield last, cells
        child.stdout.close()
        raise FastReadFailed(last, _ended(child))
    finally:
        watch.over.set()
        child.kill()
        child.stdout.close()
        child.wait()


class _Watch:
    """Kills the child once the reader has waited :data:`IDLE_SECONDS` for its next line
    (time the import spends on the rows it has does not count), its output then ending
    as a death's would."""

    def __init__(self, child):
        self.child, self.waiting_since, self.over = child, None, threading.Event()
        threading.Thread(target=self._watch, name="xlsx-fast-watch", daemon=True).start()

    def read(self, stream):
        """The child's next line, or ``None`` at its end."""
        self.waiting_since = time.monotonic()
        try:
            return stream.readline() or None
        finally:
            self.waiting_since = None

    def _watch(self):
        while not self.over.wait(1):
            since = self.waiting_since
            if since is not None and time.monotonic() - since > IDLE_SECONDS:
                self.child.kill()
                return


def _ended(child):
    """How the child ended, given a moment to end once its output is closed."""
    try:
        return child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        return None


def _decoded(value):
    kind, text = next(iter(value.items()))
    if kind == "datetime":
        return dt.datetime.fromisoformat(text)
    if kind == "time":
        return dt.time.fromisoformat(text)
    return dt.timedelta(seconds=text)


def _encoded(value):
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):  # openpyxl reads every date as a datetime
        return {"datetime": dt.datetime(value.year, value.month, value.day).isoformat()}
    if isinstance(value, dt.time):
        return {"time": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"timedelta": value.total_seconds()}
    raise TypeError(type(value).__name__)


class _Left(Exception):
    """What calamine cannot be trusted with, from here on left to openpyxl: a number it may
    have rounded, a workbook with no worksheet, a sheet that will not slice."""


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_encoded)


def _as_openpyxl(value):
    if type(value) is str:
        return value or None
    if type(value) is float:
        if abs(value) >= _EXACT:
            raise _Left  # a number calamine may have rounded
        if value.is_integer():  # as Excel writes it, «3», which openpyxl reads as 3
            return int(value)
    return value


def _part_has_error(archive, entry):
    tail = b""
    with archive.open(entry) as part:
        while chunk := part.read(_CHUNK):
            if _ERROR_CELL.search(tail + chunk):
                return True
            tail = chunk[-32:]
    return False


def _cpu_seconds(location):
    try:
        with zipfile.ZipFile(location) as archive:
            unpacked = sum(item.file_size for item in archive.infolist())
    except (OSError, zipfile.BadZipFile):
        unpacked = 0  # calamine says what is wrong with it, at once
    return CPU_SECONDS + CPU_SECONDS_A_MIB * unpacked // 2**20


def _main(location, memory, slice_bytes=SLICE_BYTES):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file of a sheet's cells
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = _cpu_seconds(location)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    batch = []
    try:
        for line, left, row in _rows(location, slice_bytes):
            cells = [None] * left + [_as_openpyxl(value) for value in row]
            while cells and cells[-1] is None:
                cells.pop()
            if cells:
                batch.append([line, cells])
            if len(batch) == BATCH:
                _write(batch)
                batch = []
    except _Left:
        _write(batch)
        return 3  # openpyxl reads on from this line
    _write(batch)
    _write(_END)
    return 0


def _rows(location, slice_bytes):
    """``(line, its first cell's column, cells)`` for the first worksheet's rows: the whole
    sheet at once, or, when its XML passes ``slice_bytes`` or holds an error cell, a slice
    of rows at a time, each in a workbook of its own (the original's parts but the other
    sheets), its cells' text written in them, so that memory holds a slice, never the
    sheet. An error cell in another sheet (a lookup table's #N/A) is nothing read here."""
    from python_calamine import CalamineWorkbook

    with zipfile.ZipFile(location) as archive:
        found = _first_worksheet(archive)
        if found is None:
            if any(_part_has_error(archive, name) for name in archive.namelist()
                   if name.startswith("xl/worksheets/")):
                raise _Left  # no telling which sheet is read: openpyxl reads the errors
        elif (archive.getinfo(found[1]).file_size > slice_bytes
              or _part_has_error(archive, found[1])):
            yield from _sliced(archive, *found, slice_bytes)
            return
    yield from _rows_of(CalamineWorkbook.from_path(location))


def _sliced(archive, index, part, slice_bytes):
    from python_calamine import CalamineWorkbook

    parts = _parts_beside(archive)
    strings = _SharedStrings(parts.pop(_STRINGS, b""))
    if strings.bounds:  # a cell's text written in takes about twice its number
        slice_bytes //= 2
    for piece in _slices(archive, part, slice_bytes):
        piece = _errors_written_in(strings.written_in(piece))
        rows = _rows_of(CalamineWorkbook.from_filelike(_zipped(parts, part, piece)), index)
        piece = None  # the slice's XML is read: let it go
        yield from rows


def _rows_of(workbook, index=None):
    """The rows of the workbook's sheet ``index`` (its first worksheet when ``None``): the
    whole sheet row by row as python-calamine gives them, from the sheet's first row (its
    empty ones before the data too) and the data's first column; a slice at once from its
    first cell, the empty rows before it skipped (each slice would give them all again)."""
    from python_calamine import SheetTypeEnum

    kinds = [sheet.typ for sheet in workbook.sheets_metadata]
    whole = index is None
    if whole and SheetTypeEnum.WorkSheet in kinds:
        index = kinds.index(SheetTypeEnum.WorkSheet)
    if index is None or kinds[index] != SheetTypeEnum.WorkSheet:
        raise _Left  # openpyxl says what the workbook holds instead
    sheet = workbook.get_sheet_by_index(index)
    top, left = sheet.start or (0, 0)
    if whole:
        for line, row in enumerate(sheet.iter_rows(), start=1):
            yield line, left, row
        return
    if sheet.height * sheet.width > SLICE_CELLS:
        raise _Left  # mostly the empty cells up to a far one: openpyxl refuses the sheet
    rows = sheet.to_python(skip_empty_area=True)
    del sheet, workbook  # calamine's own copy of the cells goes
    for line, row in enumerate(rows, start=top + 1):
        yield line, left, row


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PACKAGE = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_STRINGS = "xl/sharedStrings.xml"
#: the parts a slice's workbook needs beside its sheet: the sheet list, the number
#: formats that make a number a date (and the shared strings, written in its cells)
_BESIDE = ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml",
           "xl/_rels/workbook.xml.rels", "xl/styles.xml", _STRINGS)


def _first_worksheet(archive):
    """``(its index among the sheets, its part)`` for the workbook's first worksheet, or
    ``None`` when the workbook is not laid out as Excel lays it out."""
    from defusedxml.ElementTree import fromstring

    try:
        sheets = fromstring(archive.read("xl/workbook.xml")).iter(f"{_MAIN}sheet")
        links = fromstring(archive.read("xl/_rels/workbook.xml.rels")).iter(
            f"{_PACKAGE}Relationship")
    except (KeyError, ValueError, SyntaxError):
        return None
    targets = {link.get("Id"): link for link in links}
    for index, sheet in enumerate(sheets):
        link = targets.get(sheet.get(_RELATIONSHIP))
        if link is not None and link.get("Type", "").endswith("/worksheet"):
            target = link.get("Target", "")
            part = target[1:] if target.startswith("/") else posixpath.normpath("xl/" + target)
            return (index, part) if part in archive.namelist() else None
    return None


def _parts_beside(archive):
    names = set(archive.namelist())
    return {name: archive.read(name) for name in _BESIDE if name in names}


class _SharedStrings:
    """The workbook's shared strings, each found by its number and not parsed: its XML
    and where each one's text stands in it (two numbers a string)."""

    def __init__(self, xml):
        self.xml, self.bounds = xml, array.array("I" if len(xml) < 2**32 else "q")
        for string in _SHARED_STRING.finditer(xml):
            self.bounds.extend(string.span(1) if string[1] is not None else (0, 0))

    def written_in(self, sheet):
        """``sheet`` with each shared-string cell holding its text as an inline string, the
        same runs, phonetic reading and spaces (``<is>`` holds what ``<si>`` holds). A
        number past the strings, or a shared-string cell written in a way not known here,
        is left to openpyxl."""
        pieces = _SHARED_VALUE.split(sheet)  # as Excel writes them: one pass in C
        try:
            pieces[1::2] = [b' t="inlineStr"><is>%s</is>' % self._text(int(number))
                            for number in pieces[1::2]]
            sheet = b"".join(pieces)
            if _still_of_type(sheet, b"s", _SHARED_LEFT):  # written another way
                sheet = _SHARED_CELL.sub(self._inline_cell, sheet)
        except IndexError:
            raise _Left from None
        if _still_of_type(sheet, b"s", _SHARED_LEFT):
            raise _Left
        return sheet

    def _inline_cell(self, cell):
        return b'<c%s t="inlineStr"%s><is>%s</is></c>' % (
            cell[1], cell[2], self._text(int(cell[3])))

    def _text(self, number):
        return self.xml[self.bounds[2 * number]:self.bounds[2 * number + 1]]


def _errors_written_in(sheet):
    """``sheet`` with each error cell (#N/A) holding the text it shows, as an inline string:
    calamine reads an error as an empty cell, where openpyxl gives its text, which the
    row's check refuses with as its reason. One written in a way not known here is left
    to openpyxl."""
    if not _still_of_type(sheet, b"e", _ERROR_CELL):
        return sheet
    sheet = _ERROR_VALUE.sub(rb'<c\1 t="inlineStr"\2><is><t>\3</t></is></c>', sheet)
    if _still_of_type(sheet, b"e", _ERROR_CELL):
        raise _Left
    return sheet


def _still_of_type(sheet, kind, typed_cell):
    """Whether a cell in ``sheet`` is of ``kind`` (``t="s"``, ``t="e"``): the quoted value
    looked for first, in C, the regular expression over the whole slice only then."""
    quoted = b'"' + kind + b'"', b"'" + kind + b"'"
    return any(q in sheet for q in quoted) and typed_cell.search(sheet) is not None


def _slices(archive, part, size):
    """The sheet's XML cut into sheets of about ``size`` bytes of whole rows, each with the
    sheet's own head (its ``<dimension>`` left out: calamine would size every slice by it).
    Rows after the first slice must say their number, or they would count from 1 again."""
    with archive.open(part) as stream:
        head, text, first = None, b"", True
        while head is None and (chunk := stream.read(_CHUNK)):
            head, text = _head(text + chunk, size)
        if head is None:
            raise _Left
        while True:
            chunk = stream.read(_CHUNK)
            text += chunk
            while len(text) > size and (cut := _last_row_end(text, size)) > 0:
                yield _sheet(head, text[:cut], first)
                text, first = text[cut:], False
            if not chunk:
                break
        end = text.find(b"</sheetData>")
        if end < 0:
            raise _Left
        if text[:end].strip():
            yield _sheet(head, text[:end], first)


def _last_row_end(text, size):
    """Where the last row ending within ``size`` bytes ends (the first row's end, should it
    be longer), or 0 while no row has ended."""
    cut = text.rfind(b"</row>", 0, size)
    if cut < 0:
        cut = text.find(b"</row>")
    return cut + 6 if cut >= 0 else 0


def _head(text, size):
    """``(the sheet's XML up to its rows, the rest)``, or ``(None, text)`` while unseen."""
    start = text.find(b"<sheetData")
    end = text.find(b">", start)
    if start < 0 or end < 0:
        if len(text) > size:
            raise _Left  # no rows where Excel puts them (a prefixed namespace: <x:row>)
        return None, text
    if text[end - 1:end] == b"/":
        raise _Left  # <sheetData/>: nothing to slice
    return _DIMENSION.sub(b"", text[:end + 1]), text[end + 1:]


def _sheet(head, rows, first):
    if not first and _ROW_UNNUMBERED.search(rows):
        raise _Left
    return head + rows + b"</sheetData></worksheet>"


def _zipped(parts, part, sheet):
    """A workbook of ``parts`` with ``sheet`` as its ``part``, stored (not compressed), to
    be read from its start."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        archive.writestr(part, sheet)
    out.seek(0)
    return out


def _write(batch):
    if batch:
        sys.stdout.buffer.write(_ENCODER.encode(batch).encode() + b"\n")


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], *map(int, sys.argv[2:])))
