"""Roster import (R1–R3): map columns, check each row, upsert by policy number.

Plain Python over the models: the CLI and tests call :func:`import_roster`
with a roster source. The import runs in one transaction, so a file that
turns out unreadable half-way changes nothing, and ``dry_run`` is the same
import rolled back (on SQLite it counts without writing, and a load writes the main
file only at its end: see :class:`~regapp.roster_writers.SqliteWriter`). Rows go to
the database in batches; only the batch and the list of rejected lines are held in
memory.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from regapp import normalize
from regapp.adapters import RosterUnreadable
from regapp.db import database
from regapp.roster_rows import parse_row  # noqa: F401 (a source's contract test)
from regapp.roster_workers import checked_chunks
from regapp.roster_writers import writer_for

#: field → the headers that name it (compared case-insensitively, ё as е)
COLUMNS = {
    "policy_number": ("policy_number", "номер полиса"),
    "last_name": ("last_name", "фамилия"),
    "first_name": ("first_name", "имя"),
    "patronymic": ("patronymic", "отчество"),
    "birth_date": ("birth_date", "дата рождения"),
    "phone": ("phone", "мобильный телефон", "телефон"),
    "email": ("email", "e-mail"),
    "employer": ("employer", "страхователь"),
    "valid_from": ("valid_from", "дата начала"),
    "valid_to": ("valid_to", "дата окончания"),
}
REQUIRED = ("policy_number", "last_name", "first_name", "birth_date")
LABELS = {"policy_number": "Номер полиса", "last_name": "Фамилия", "first_name": "Имя",
          "birth_date": "Дата рождения"}
BATCH = 2_000
#: how often a long import says how far it got
PROGRESS_EVERY = 10_000


@dataclass
class ImportReport:
    """What an import did; ``as_json()`` is the ``--json`` output."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def reject(self, line, reason):
        self.rejected.append({"line": line, "reason": reason})

    def as_json(self):
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": self.rejected, "warnings": self.warnings}


def _header_key(header) -> str:
    """How a header is matched: case, «ё» and a repeat's number (``"Телефон (2)"``,
    :func:`regapp.adapters.numbered_repeats`) aside."""
    key = normalize.clean_text(header).casefold().replace("ё", "е")
    return _REPEAT.sub("", key)


_REPEAT = re.compile(r" \(\d+\)$")


def column_map(headers, unread=None) -> dict:
    """Map each raw header to its field; raise :class:`RosterUnreadable` if one is missing.
    Two columns for one field (``Мобильный телефон`` and ``Телефон``): the one named first
    in :data:`COLUMNS` is read, and ``unread`` (a list), if given, hears ``(the other, the
    one read)``: a landline after the mobile no longer replaced it unsaid."""
    by_name = {name: fld for fld, names in COLUMNS.items() for name in names}
    rank = {name: n for names in COLUMNS.values() for n, name in enumerate(names)}
    keyed = [(header, key) for header in headers if header is not None
             and (key := _header_key(header)) in by_name]
    mapping, read = {}, {}
    for header, key in sorted(keyed, key=lambda pair: rank[pair[1]]):
        fld = by_name[key]
        if fld in read:
            if unread is not None:
                unread.append((header, read[fld]))
            continue
        mapping[header], read[fld] = fld, header
    missing = [f for f in REQUIRED if f not in mapping.values()]
    if missing:
        names = ", ".join(f"«{LABELS[f]}» ({f})" for f in missing)
        raise RosterUnreadable(f"в заголовке нет столбцов: {names}")
    return mapping


def import_roster(source, location, dry_run=False, batch_size=BATCH,
                  progress=None) -> ImportReport:
    """Upsert every valid row of ``location`` read by ``source``; report every bad one.
    ``progress(rows)`` hears how far it got every ``PROGRESS_EVERY`` rows; nothing is
    committed before the last row (a killed import changes nothing).

    :raises RosterUnreadable: the file could not be read; nothing changed.
    """
    report = ImportReport()
    # the writer is done with the connection before the transaction ends, either way
    with database.atomic() as transaction, writer_for(report, batch_size, dry_run) as importer:
        count = 0
        for rows, good, said in _checked(source, location, importer.pack, report):
            for line, reason, warnings in said:
                report.warnings.extend({"line": line, "reason": text} for text in warnings)
                if reason is not None:
                    report.reject(line, reason)
            importer.add(good)
            if progress:
                # every multiple of PROGRESS_EVERY this chunk went past
                for done in range((count // PROGRESS_EVERY + 1) * PROGRESS_EVERY,
                                  count + rows + 1, PROGRESS_EVERY):
                    progress(done)
            count += rows
        importer.finish()
        if dry_run:
            transaction.rollback()
    report.rejected.sort(key=lambda r: r["line"])
    return report


def _checked(source, location, pack, report):
    """The file's rows checked, a chunk at a time, in order (see
    :func:`~regapp.roster_workers.checked_chunks`); the header (the first row's keys) maps
    the columns, a column left unread a warning on line 1; a chunk's good rows packed as
    the writer takes them (``pack``)."""
    rows = iter(source.read(location))
    first = next(rows, None)
    if first is None:
        return iter(())
    unread = []
    mapping = column_map(first[1].keys(), unread)
    report.warnings.extend(
        {"line": 1, "reason": f"столбец «{other}» не прочитан: вместо него прочитан «{kept}»"}
        for other, kept in unread)
    return checked_chunks(itertools.chain([first], rows), mapping, pack=pack)
