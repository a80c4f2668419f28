"""Roster source ``csv``: UTF-8 (with or without BOM) or Windows-1251; ``;``, ``,`` or tab.

The encoding and the separator are read off the start of the file; rows are
then read one at a time, so a roster of any length needs little memory.
"""

import codecs
import contextlib
import csv
import io

from regapp.adapters import (
    ContractEnvironment,
    RosterSource,
    RosterUnreadable,
    numbered_repeats,
)
from regapp.hookspecs import hookimpl

SAMPLE = 64 * 1024
SEPARATORS = (";", ",", "\t")


class CsvRosterSource(RosterSource):
    """Reads a CSV roster whose first line is the header."""

    name = "csv"
    suffixes = (".csv", ".txt")

    def read(self, location):
        try:
            raw = open(location, "rb")
        except OSError as exc:
            raise RosterUnreadable(f"файл не открывается: {exc.strerror}") from None
        with raw:
            sample = raw.read(SAMPLE)
            if b"\x00" in sample:
                raise RosterUnreadable("файл не текстовый: сохраните список как CSV или XLSX")
            encoding = detect_encoding(sample)
            raw.seek(0)
            text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
            try:
                yield from _rows(text)
            except UnicodeDecodeError as exc:
                raise RosterUnreadable(
                    f"файл не в кодировке {encoding} (байт {exc.start} в одном из блоков): "
                    "сохраните его как CSV UTF-8"
                ) from None
            except csv.Error as exc:
                raise RosterUnreadable(f"файл не читается как CSV: {exc}") from None


def detect_encoding(sample: bytes) -> str:
    """UTF-8 with BOM, UTF-8, or else Windows-1251 (what Russian Excel saves)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


def _rows(text):
    header_line = text.readline()
    if not header_line.strip():
        raise RosterUnreadable("файл пуст: нет строки заголовка")
    separator = max(SEPARATORS, key=header_line.count)
    header = numbered_repeats(next(csv.reader([header_line], delimiter=separator)))
    reader = csv.reader(text, delimiter=separator)
    line = 2
    try:
        for cells in reader:
            start, line = line, reader.line_num + 2
            if not "".join(cells).strip():  # a blank line, or separators only
                continue
            row = dict(zip(header, cells, strict=False))  # a short row: missing cells empty
            if len(cells) > len(header):
                # more cells than columns: a separator inside a value, never silently dropped
                row[None] = cells[len(header):]
            yield start, row
    except csv.Error as exc:
        raise RosterUnreadable(_unreadable_at(line, exc)) from None


def _unreadable_at(line, error):
    """Where and why the csv module stopped, said to an operator (``line``: where the row
    it was reading began)."""
    if "field larger than field limit" in str(error):  # the csv module's own words
        longest = f"{csv.field_size_limit():_}".replace("_", " ")
        return (f"строка {line}: значение длиннее {longest} знаков, скорее всего, в ней "
                "открыта и не закрыта кавычка; закройте или уберите её и сохраните файл заново")
    return f"строка {line} не читается как CSV ({error}): проверьте в ней кавычки и разделители"


@hookimpl
def regapp_roster_sources():
    return [CsvRosterSource]


@hookimpl
def regapp_contract_environment(kind, name, behaviour, workdir):
    if kind == "roster" and name == CsvRosterSource.name:
        return _environment(workdir)
    return None


@contextlib.contextmanager
def _environment(workdir):
    def write(rows):
        path = workdir / "roster.csv"
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
            writer.writeheader()
            writer.writerows(rows)
        return str(path)

    yield ContractEnvironment(settings={}, write=write)
