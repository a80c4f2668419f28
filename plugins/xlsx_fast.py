"""The XLSX roster's fast reader: python-calamine, in a process of its own (issue 15).

calamine reads a workbook about twenty times faster than openpyxl, but it holds the whole
sheet (about 1 KiB a row) and a workbook of a few KiB with a cell in the sheet's far
corner makes it ask for hundreds of GiB at once, which ends its process. So it runs in a
child whose address space is capped (``ROSTER_XLSX_FAST_MEMORY``; its CPU time too),
and hands the rows back as lines of JSON (nothing that runs code, as pickle would).
Whatever it cannot do, a sheet too big for the cap, a workbook it cannot read, an error
cell (#N/A: calamine reads it as empty, where the row must be refused), a number a float
may have rounded, the child's end midway, leaves the rest to openpyxl, which streams and
decides every refusal.

Cells reach the import as openpyxl gives them: an empty cell as ``None``, a whole number
as ``int``, a date as a ``datetime``; a cell of ASCII spaces alone as empty (calamine's
reading, and every field's).

On a workbook no spreadsheet program writes the two may part, neither reading anything
the file does not hold: calamine places a cell by its own reference where openpyxl
trusts its row's (a row numbered 99999999999 around cell A2), and gives the text of a
number or date cell that holds none where openpyxl calls the whole file damaged.

    python -m regapp_plugins.xlsx_fast WORKBOOK MEMORY_BYTES
"""

import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import zipfile

#: an error cell in a sheet's XML: <c r="A1" t="e">
_ERROR_CELL = re.compile(rb"""\st\s*=\s*["']e["']""")
_CHUNK = 2**20
#: a sheet the cap lets in reads in seconds; a workbook that keeps calamine longer is
#: left to openpyxl, which refuses what should be
CPU_SECONDS = 120
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


def lines(location, memory):
    """``(line, cells)`` for the first worksheet's rows that hold a cell, from a child
    process reading with calamine; raises :class:`FastReadFailed` when it could not."""
    try:  # -P: nothing in the working folder stands in for a module the child imports
        child = subprocess.Popen(
            [sys.executable, "-P", "-m", __name__, str(location), str(memory)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            env={**os.environ, "MALLOC_ARENA_MAX": "1"})  # one arena: its reservations count
    except OSError as exc:  # no interpreter to start (an embedded one), no process left
        raise FastReadFailed(0, exc.errno) from None
    last = 0
    try:
        for text in child.stdout:
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
        child.kill()
        child.stdout.close()
        child.wait()


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


class _Inexact(Exception):
    """A number calamine may have rounded."""


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_encoded)


def _as_openpyxl(value):
    if type(value) is str:
        return value or None
    if type(value) is float:
        if abs(value) >= _EXACT:
            raise _Inexact
        if value.is_integer():  # as Excel writes it, «3», which openpyxl reads as 3
            return int(value)
    return value


def _has_error_cells(location):
    with zipfile.ZipFile(location) as archive:
        for entry in archive.infolist():
            if entry.filename.startswith("xl/worksheets/") and _part_has_error(archive, entry):
                return True
    return False


def _part_has_error(archive, entry):
    tail = b""
    with archive.open(entry) as part:
        while chunk := part.read(_CHUNK):
            if _ERROR_CELL.search(tail + chunk):
                return True
            tail = chunk[-32:]
    return False


def _main(location, memory):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file of a sheet's cells
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    if _has_error_cells(location):
        return 3
    workbook = CalamineWorkbook.from_path(location)
    kinds = [sheet.typ for sheet in workbook.sheets_metadata]
    if SheetTypeEnum.WorkSheet not in kinds:
        return 3
    sheet = workbook.get_sheet_by_index(kinds.index(SheetTypeEnum.WorkSheet))
    top, left = sheet.start or (0, 0)
    batch = []
    try:
        for line, row in enumerate(sheet.iter_rows(), start=top + 1):
            cells = [None] * left + [_as_openpyxl(value) for value in row]
            while cells and cells[-1] is None:
                cells.pop()
            if cells:
                batch.append([line, cells])
            if len(batch) == BATCH:
                _write(batch)
                batch = []
    except _Inexact:
        _write(batch)
        return 3  # openpyxl reads on from this line
    _write(batch)
    _write(_END)
    return 0


def _write(batch):
    if batch:
        sys.stdout.buffer.write(_ENCODER.encode(batch).encode() + b"\n")


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], int(sys.argv[2])))
