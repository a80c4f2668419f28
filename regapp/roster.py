"""Roster import (R1–R3): map columns, check each row, upsert by policy number.

Plain Python over the models: the CLI and tests call :func:`import_roster`
with a roster source. The import runs in one transaction, so a file that
turns out unreadable half-way changes nothing, and ``dry_run`` is the same
import rolled back. Rows go to the database in batches; only the batch and
the list of rejected lines are held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regapp import normalize
from regapp.adapters import RosterUnreadable
from regapp.db import database
from regapp.models import RosterRecord, utcnow
from regapp.normalize import Invalid
from regapp.texts import key_of

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
BATCH = 500
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
    return normalize.clean_text(header).casefold().replace("ё", "е")


def column_map(headers) -> dict:
    """Map each raw header to its field; raise :class:`RosterUnreadable` if one is missing."""
    by_name = {name: fld for fld, names in COLUMNS.items() for name in names}
    mapping = {h: by_name[_header_key(h)] for h in headers
               if h is not None and _header_key(h) in by_name}
    missing = [f for f in REQUIRED if f not in mapping.values()]
    if missing:
        names = ", ".join(f"«{LABELS[f]}» ({f})" for f in missing)
        raise RosterUnreadable(f"в заголовке нет столбцов: {names}")
    return mapping


def parse_row(raw: dict, mapping: dict, warn=None) -> dict:
    """Check one roster row; return the record's fields or raise :class:`Invalid`."""
    if raw.get(None):
        raise Invalid("в строке больше значений, чем столбцов: проверьте разделители и кавычки")
    cells = {fld: raw.get(header) for header, fld in mapping.items()}
    fields = {"policy_number": normalize.cell_text(cells.get("policy_number"))}
    if not fields["policy_number"]:
        raise Invalid("нет номера полиса")
    fields["policy_key"] = _field("номер полиса", normalize.policy_key, cells.get("policy_number"))
    for name, label in (("last_name", "фамилия"), ("first_name", "имя")):
        fields[name] = _name(label, cells.get(name), required=True)
    fields["patronymic"] = _name("отчество", normalize.clean_patronymic(cells.get("patronymic")))
    fields["name_key"] = normalize.name_key(
        fields["last_name"], fields["first_name"], fields["patronymic"])
    fields["birth_date"] = _field("дата рождения", normalize.parse_birth_date, cells.get("birth_date"))
    fields["phone"] = _mobile_or_none(cells.get("phone"), warn)
    email = _optional("e-mail", normalize.normalize_email, cells.get("email"))
    fields["email"], fields["email_key"] = email or (None, None)
    fields["employer"] = normalize.clean_text(cells.get("employer"))
    fields["valid_from"] = _optional("дата начала", normalize.parse_date, cells.get("valid_from"))
    fields["valid_to"] = _optional("дата окончания", normalize.parse_date, cells.get("valid_to"))
    if fields["valid_from"] and fields["valid_to"] and fields["valid_to"] < fields["valid_from"]:
        raise Invalid("дата окончания раньше даты начала")
    if warn:
        for name in ("last_name", "first_name", "patronymic"):
            if normalize.has_mixed_script(fields[name]):
                warn(f"латинская буква среди русских: «{fields[name]}» — проверьте в списке")
    return fields


def _field(label, parse, value):
    try:
        return parse(value)
    except Invalid as exc:
        shown = normalize.cell_text(value)
        raise Invalid(f"{label} «{shown}»: {exc}" if shown else f"{label}: {exc}") from None


def _mobile_or_none(value, warn):
    """R15 finds a person by phone and/or e-mail: a landline leaves the row without a phone,
    said in a warning, instead of losing the whole row."""
    try:
        return _optional("телефон", normalize.normalize_phone, value)
    except Invalid:
        if not _is_landline(value):
            raise
        if warn:
            warn(f"телефон «{normalize.cell_text(value)}» не мобильный: строка загружена без "
                 "телефона, найти человека можно по e-mail")
        return None


def _is_landline(value):
    try:
        normalize.normalize_phone(value)
    except Invalid as exc:
        return key_of(exc.args[0]) == "phone.not_mobile"
    return False


def _optional(label, parse, value):
    blank = value is None or (isinstance(value, str) and not normalize.clean_text(value))
    return None if blank else _field(label, parse, value)


def _name(label, value, required=False):
    text = normalize.clean_text(value)
    if not text:
        if required:
            raise Invalid(f"нет поля «{label}»")
        return ""
    if len(text) > normalize.NAME_MAX:
        raise Invalid(f"{label}: длиннее {normalize.NAME_MAX} символов")
    if any(ch.isdigit() for ch in text):
        raise Invalid(f"{label} «{text}»: цифры в имени")
    return text


def import_roster(source, location, dry_run=False, batch_size=BATCH,
                  progress=None) -> ImportReport:
    """Upsert every valid row of ``location`` read by ``source``; report every bad one.
    ``progress(rows)`` hears how far it got every ``PROGRESS_EVERY`` rows; nothing is
    committed before the last row (a killed import changes nothing).

    :raises RosterUnreadable: the file could not be read; nothing changed.
    """
    report = ImportReport()
    with database.atomic() as transaction:
        importer = _Batcher(report, batch_size)
        mapping = None
        for count, (line, raw) in enumerate(source.read(location), start=1):
            if progress and count % PROGRESS_EVERY == 0:
                progress(count)
            if mapping is None:
                mapping = column_map(raw.keys())
            try:
                fields = parse_row(raw, mapping, warn=lambda text, line=line: report.warnings.append(
                    {"line": line, "reason": text}))
            except Invalid as exc:
                report.reject(line, str(exc))
                continue
            importer.add(line, fields)
        importer.flush()
        importer.close()
        if dry_run:
            transaction.rollback()
    report.rejected.sort(key=lambda r: r["line"])
    return report


class _Batcher:
    """Collects checked rows and writes them a batch at a time."""

    def __init__(self, report, size):
        self.report, self.size, self.rows = report, size, {}
        # policy numbers seen in this file, to refuse a repeated one: kept in
        # SQLite rather than in memory, so a million rows stay cheap
        database.execute_sql(
            "CREATE TEMP TABLE IF NOT EXISTS import_seen (policy_key TEXT PRIMARY KEY, line INT)")
        database.execute_sql("DELETE FROM import_seen")

    def add(self, line, fields):
        key = fields["policy_key"]
        if key in self.rows:
            self.report.reject(line, f"номер полиса повторяется: он уже есть в строке {self.rows[key][0]}")
            return
        self.rows[key] = (line, fields)
        if len(self.rows) >= self.size:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        self._drop_seen_earlier()
        if self.rows:
            self._remember()
            self._write()
        self.rows = {}

    def close(self):
        database.execute_sql("DROP TABLE IF EXISTS import_seen")

    def _drop_seen_earlier(self):
        keys = list(self.rows)
        marks = ",".join([database.param] * len(keys))
        cursor = database.execute_sql(
            f"SELECT policy_key, line FROM import_seen WHERE policy_key IN ({marks})", keys)
        for key, first_line in cursor.fetchall():
            line, _ = self.rows.pop(key)
            self.report.reject(line, f"номер полиса повторяется: он уже есть в строке {first_line}")

    def _remember(self):
        database.execute_sql(
            "INSERT INTO import_seen (policy_key, line) VALUES " + ",".join([f"({database.param}, {database.param})"] * len(self.rows)),
            [v for key, (line, _) in self.rows.items() for v in (key, line)])

    def _write(self):
        existing = {r.policy_key: r for r in RosterRecord.select().where(
            RosterRecord.policy_key.in_(list(self.rows)))}
        new = []
        now = utcnow()
        for key, (_, fields) in self.rows.items():
            record = existing.get(key)
            if record is None:
                new.append({**fields, "created_at": now, "updated_at": now})
            elif any(getattr(record, f) != fields[f] for f in RosterRecord.DATA_FIELDS):
                RosterRecord.update(**fields, updated_at=now).where(
                    RosterRecord.id == record.id).execute()
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        if new:
            _insert(new)
            self.report.added += len(new)


def _insert(rows):
    """Insert checked rows with one parametrized executemany (peewee's builder is slow here)."""
    fields = [f for f in RosterRecord._meta.sorted_fields if f.name != "id"]
    columns = ", ".join(f.column_name for f in fields)
    marks = ", ".join([database.param] * len(fields))
    sql = f"INSERT INTO {RosterRecord._meta.table_name} ({columns}) VALUES ({marks})"
    values = [[f.db_value(row[f.name]) for f in fields] for row in rows]
    database.cursor().executemany(sql, values)
