"""Roster source ``xlsx``: the first sheet of an Excel workbook, header in row 1.

Read with python-calamine in a process of its own under a memory cap
(:mod:`regapp_plugins.xlsx_fast`), and with openpyxl in read-only mode, which streams
rows instead of loading the sheet, for whatever that cannot read. Cells arrive typed:
dates as dates, numbers as numbers; the normalizers read a phone or policy stored as a
number back as text.

Before any XML is parsed the archive's own sizes are read: a workbook that would unpack
past ``ROSTER_XLSX_MAX_UNPACKED`` bytes, or whose shared strings (which openpyxl holds in
memory whole) pass ``ROSTER_XLSX_MAX_SHARED_STRINGS``, is refused (a zip bomb, issue 13);
openpyxl parses with defusedxml (installed with regapp), so no entity tricks either.
Rows are read as wide as the header, and a sheet whose empty cells up to its last one
outnumber the workbook's bytes is refused as it is read (:func:`_table`, issue 15).
"""

import contextlib
import logging
import warnings
import zipfile
from xml.etree.ElementTree import ParseError

from regapp_plugins import xlsx_fast

from regapp.adapters import (
    ContractEnvironment,
    RosterSource,
    RosterUnreadable,
    numbered_repeats,
)
from regapp.hookspecs import hookimpl

log = logging.getLogger(__name__)

#: the fast reader's address space; 0 reads with openpyxl alone
DEFAULT_FAST_MEMORY = 512 * 2**20
#: a workbook smaller than this many bytes unpacked may still hold this many cells
FEWEST_CELLS_ALLOWED = 2**20
#: what openpyxl raises on a workbook whose parts are not what they should be: a broken
#: archive, XML that is not XML, a part missing or of the wrong kind, a value unreadable
BROKEN = (zipfile.BadZipFile, ParseError, KeyError, ValueError, IndexError, TypeError,
          AttributeError)


class XlsxRosterSource(RosterSource):
    """Reads an XLSX roster."""

    name = "xlsx"
    suffixes = (".xlsx", ".xlsm")

    def read(self, location):
        most_cells = max(self._check_sizes(location), FEWEST_CELLS_ALLOWED)
        memory = self.settings.get("ROSTER_XLSX_FAST_MEMORY", DEFAULT_FAST_MEMORY)
        read_up_to = 0
        if memory:
            try:
                yield from _table(xlsx_fast.lines(location, memory), most_cells)
                return
            except xlsx_fast.FastReadFailed as stop:
                log.info("XLSX roster: the fast reader %s; openpyxl reads on", stop)
                read_up_to = stop.last_line
        yield from self._read_streaming(location, most_cells, read_up_to)

    def _read_streaming(self, location, most_cells, read_up_to):
        # imported here: every process loads this plugin, few read a workbook (0.1–0.3 s)
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            workbook = _quiet(lambda: load_workbook(location, read_only=True, data_only=True))
        except (OSError, InvalidFileException, *BROKEN) as exc:
            raise RosterUnreadable(f"файл не читается как XLSX: {exc}") from None
        try:
            if not workbook.worksheets:
                raise RosterUnreadable("в файле нет ни одного листа")
            for line, row in _table(_lines(workbook.worksheets[0]), most_cells):
                if line > read_up_to:
                    yield line, row
        except BROKEN as exc:
            raise RosterUnreadable(f"файл повреждён: {exc}") from None
        finally:
            workbook.close()

    def _check_sizes(self, location):
        most = self.settings.get("ROSTER_XLSX_MAX_UNPACKED") or 512 * 2**20
        most_strings = self.settings.get("ROSTER_XLSX_MAX_SHARED_STRINGS") or 128 * 2**20
        try:
            with zipfile.ZipFile(location) as archive:
                entries = archive.infolist()
        except (OSError, zipfile.BadZipFile) as exc:
            raise RosterUnreadable(f"файл не читается как XLSX: {exc}") from None
        unpacked = sum(entry.file_size for entry in entries)
        strings = sum(e.file_size for e in entries if e.filename.endswith("sharedStrings.xml"))
        if unpacked > most or strings > most_strings:
            raise RosterUnreadable(
                f"файл распаковывается в {unpacked // 2**20} МиБ (общие строки "
                f"{strings // 2**20} МиБ): больше, чем бывает у списка застрахованных; "
                "сохраните его заново или разделите")
        return unpacked


def _table(lines, most_cells):
    """``(line, row)`` for a sheet's ``(line, cells)`` from line 1 (a line with no cells may
    be left out), each row as wide as its header. openpyxl gives a line for every row up
    to the last cell, missing ones made of empty cells, each as wide as the widest row: a
    workbook of a few KiB with one cell in the sheet's last corner, XFD1048576, would give
    seventeen billion empty cells. Narrowed to the header, and refused past
    ``most_cells`` cells in all (one a byte of the unpacked workbook: a cell written
    takes more, so only cells never written come that far)."""
    first = next(lines, None)
    header = numbered_repeats(_names(first[1] if first and first[0] == 1 else ()))
    if not header:
        raise RosterUnreadable("на первом листе нет строки заголовка")
    last_allowed = most_cells // len(header)
    for line, cells in lines:
        if line > last_allowed:
            raise RosterUnreadable(
                f"на листе пустые клетки тянутся далеко за таблицу (строка {last_allowed + 1} "
                "и дальше): удалите строки и столбцы за таблицей и сохраните файл заново")
        cells = [*cells[:len(header)], *[None] * (len(header) - len(cells))]
        if any(c is not None and str(c).strip() for c in cells):
            yield line, dict(zip(header, cells, strict=True))


def _names(cells):
    """A header row's names, the empty ones after the last name dropped."""
    names = [str(cell).strip() if cell is not None else "" for cell in cells]
    while names and not names[-1]:
        names.pop()
    return names


def _lines(sheet):
    """openpyxl's lines of ``sheet``, each as wide as its header. Every row the sheet holds,
    whatever its ``<dimension>`` says: openpyxl stops at the rows it names, and a file
    whose writer left it stale lost the rest without a word."""
    sheet.reset_dimensions()
    header = next(_quietly(sheet.iter_rows(max_row=1, values_only=True)), ())
    yield 1, header
    if width := len(_names(header)):
        rows = _quietly(sheet.iter_rows(min_row=2, max_col=width, values_only=True))
        yield from enumerate(rows, start=2)


def _quietly(rows):
    """Each of openpyxl's ``rows``, read as :func:`_quiet` says."""
    while (cells := _quiet(lambda: next(rows, None))) is not None:
        yield cells


def _quiet(read):
    """``read()``, openpyxl's warnings about a workbook's oddities kept out of the log: no
    stylesheet (its defaults used), a date past the calendar's end (read as an error value,
    which the row's check refuses), parts it does not read. The workbook reads all the same."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        return read()


@hookimpl
def regapp_roster_sources():
    return [XlsxRosterSource]


@hookimpl
def regapp_contract_environment(kind, name, behaviour, workdir):
    if kind == "roster" and name == XlsxRosterSource.name:
        return _environment(workdir)
    return None


@contextlib.contextmanager
def _environment(workdir):
    def write(rows):
        from openpyxl import Workbook

        path = workdir / "roster.xlsx"
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(list(rows[0]))
        for row in rows:
            sheet.append(list(row.values()))
        workbook.save(path)
        return str(path)

    yield ContractEnvironment(settings={}, write=write)
