"""Writing checked roster rows (R3): upsert by policy number, count what changed.

Two writers with one behaviour, inside the import's transaction (nothing is kept
before the last row): the first row of a policy number wins and every later one
is refused with the line it repeats; a record whose data differ is updated, the
rest are counted unchanged; nothing is ever deleted.

- SQLite: batches of rows; per batch, one statement remembers the batch's policy
  numbers (a temporary table, so a million rows cost no memory) and tells which
  came before, one reads the records stored under them, one ``executemany``
  inserts the new ones.
- PostgreSQL: rows go by ``COPY`` (the worker that checked a chunk wrote its
  text: :func:`copy_lines`), sent from a thread of their own while the next rows
  are checked. While no policy number of a batch is stored yet (a first load),
  the batch goes straight into the records' table and only its lines' numbers
  into a temporary staging table; from the first batch that meets a stored or
  repeated number on, whole rows are staged. At the end one query finds the
  repeated numbers among every staged line and one ``INSERT … ON CONFLICT``
  upserts the staged rows, counting inserted and updated rows as it goes.
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import re
from concurrent.futures import ThreadPoolExecutor

from peewee import DateField, SqliteDatabase

from regapp.db import database
from regapp.models import RosterRecord, utcnow
from regapp.roster_rows import RECORD_FIELDS

KEY_AT = RECORD_FIELDS.index("policy_key")
DATA_AT = tuple(RECORD_FIELDS.index(f) for f in RosterRecord.DATA_FIELDS)
TABLE = RosterRecord._meta.table_name


def writer_for(report, batch_size, dry_run=False):
    if isinstance(database.obj, SqliteDatabase):
        return SqliteWriter(report, batch_size, dry_run)
    return PostgresWriter(report, batch_size)  # its check's writes hold no one up (MVCC)


def repeated(line, first_line):
    return line, f"номер полиса повторяется: он уже есть в строке {first_line}"


class SqliteWriter:
    """Collects checked rows and writes them a batch at a time. A check (``dry_run``)
    counts them alike and writes none: SQLite has one writer at a time, and a check's
    writes, rolled back at its end, held every other writer of the portal (a sign-in, a
    registration) for as long as the check ran, past their wait of 10 s on a large list.
    Nothing a batch writes changes what a later one finds (a policy number seen before is
    refused before its batch reads what is stored), so the counts are the load's."""

    pack = list  # a chunk's good rows as they are: ``(line, fields)`` each

    def __init__(self, report, size, dry_run=False):
        self.report, self.size, self.rows, self.dry_run = report, size, {}, dry_run
        database.execute_sql(
            "CREATE TEMP TABLE IF NOT EXISTS import_seen (policy_key TEXT PRIMARY KEY, line INT)")
        database.execute_sql("DELETE FROM import_seen")

    def __enter__(self):
        return self

    def __exit__(self, *failed):
        pass  # nothing runs beside the importing thread

    def add(self, good):
        for line, fields in good:
            key = fields[KEY_AT]
            if key in self.rows:
                self.report.reject(*repeated(line, self.rows[key][0]))
                continue
            self.rows[key] = (line, fields)
            if len(self.rows) >= self.size:
                self._flush()

    def finish(self):
        self._flush()
        database.execute_sql("DROP TABLE IF EXISTS import_seen")

    def _flush(self):
        if self.rows:
            self._drop_seen_earlier()
        if self.rows:
            self._write()
        self.rows = {}

    def _drop_seen_earlier(self):
        """Remember this batch's policy numbers; a number an earlier batch had is refused.
        One statement: the keys it did not insert are the repeated ones."""
        pair = f"({database.param}, {database.param})"
        cursor = database.execute_sql(
            f"INSERT INTO import_seen (policy_key, line) VALUES {','.join([pair] * len(self.rows))}"
            " ON CONFLICT (policy_key) DO NOTHING RETURNING policy_key",
            [v for key, (line, _) in self.rows.items() for v in (key, line)])
        again = list(set(self.rows).difference(key for key, in cursor.fetchall()))
        if not again:
            return
        marks = ",".join([database.param] * len(again))
        cursor = database.execute_sql(
            f"SELECT policy_key, line FROM import_seen WHERE policy_key IN ({marks})", again)
        for key, first_line in cursor.fetchall():
            self.report.reject(*repeated(self.rows.pop(key)[0], first_line))

    def _write(self):
        existing = _stored(list(self.rows))
        now = utcnow()
        stamp = str(now)  # as sqlite3 would write the datetime, once per batch, not twice a row
        new = []
        for key, (_, fields) in self.rows.items():
            stored = existing.get(key)
            if stored is None:
                new.append((*fields, stamp, stamp))
            elif stored[1:] != tuple(_as_stored(fields[i]) for i in DATA_AT):
                if not self.dry_run:
                    RosterRecord.update(**dict(zip(RECORD_FIELDS, fields, strict=True)),
                                        updated_at=now).where(RosterRecord.id == stored[0]).execute()
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        if new and not self.dry_run:
            _insert(new)
        self.report.added += len(new)


def _stored(keys):
    """policy_key → (id, *DATA_FIELDS) as SQLite keeps them (dates as ISO text) for the
    records already stored under these keys; plain SQL, as peewee's builder makes a node
    per key."""
    columns = ", ".join(("id", *RosterRecord.DATA_FIELDS))
    marks = ", ".join([database.param] * len(keys))
    cursor = database.execute_sql(
        f"SELECT policy_key, {columns} FROM {TABLE} WHERE policy_key IN ({marks})", keys)
    return {row[0]: row[1:] for row in cursor.fetchall()}


def _as_stored(value):
    """A checked value as SQLite gives it back: a date as its ISO text."""
    return value.isoformat() if isinstance(value, dt.date) else value


def _insert(rows):
    """Insert checked rows with one parametrized executemany (peewee's builder is slow here).
    The values go as they are: every field is text, a date or None, as the checker made it."""
    names = (*RECORD_FIELDS, "created_at", "updated_at")
    marks = ", ".join([database.param] * len(names))
    database.cursor().executemany(
        f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({marks})", rows)


def copy_lines(good):
    """A chunk's good rows as COPY's text, with how many and their lines' policy numbers
    alone (COPY's text too): made where they were checked (a worker process), so the one
    writer only passes them on (issue 15)."""
    return (len(good), "".join([copy_line(line, fields) for line, fields in good]),
            "".join([f"{line}\t{_copy_text(fields[KEY_AT])}\n" for line, fields in good]))


def copy_line(line, fields):
    """A checked row as a line of COPY's text format. Values with nothing to escape (nearly
    all) are joined as they are; a tab, a line break or a backslash in any of them sends the
    row the careful way (a property test holds both equal)."""
    texts = [_NULL if v is None else v if type(v) is str else v.isoformat() for v in fields]
    joined = "\t".join(texts)
    if (joined.count("\t") == len(texts) - 1 and joined.count("\\") == fields.count(None)
            and "\n" not in joined and "\r" not in joined):
        return f"{line}\t{joined}\n"
    return "\t".join(map(_copy_text, (line, *fields))) + "\n"


class PostgresWriter:
    """Streams checked rows into a staging table by COPY, and straight into the records'
    table too while none of them is there already; upserts the rest at the end."""

    pack = staticmethod(copy_lines)

    def __init__(self, report, size):
        self.report, self.size, self.buffer, self.count = report, size * 5, io.StringIO(), 0
        self.keys, self.waiting = io.StringIO(), 0
        self.now = utcnow()
        #: how many rows went straight into the table; the line whole rows are staged from
        self.direct, self.staged_from = 0, None
        database.execute_sql(
            f"CREATE TEMP TABLE import_rows (line int, {', '.join(f'{n} {_pg_type(n)}' for n in RECORD_FIELDS)})"
            " ON COMMIT DROP")
        self.copier = Copier()

    def add(self, good):
        """``good``: a chunk's rows as :func:`copy_lines` packed them."""
        rows, text, keys = good
        self.buffer.write(text)
        self.keys.write(keys)
        self.count += rows
        self.waiting += rows
        if self.waiting >= self.size:
            self._copy()

    def __enter__(self):
        return self

    def __exit__(self, *failed):
        self.copier.stop()

    def finish(self):
        self._copy()
        self.copier.wait()
        self.report.added = self.direct
        if self.staged_from is None:
            return  # all went straight in: the table's unique number let no repeat through
        cursor = database.execute_sql(
            "SELECT line, first FROM (SELECT line, min(line) OVER (PARTITION BY policy_key) AS "
            "first FROM import_rows) AS lines WHERE line > first")
        again = cursor.fetchall()
        for line, first_line in again:
            self.report.reject(*repeated(line, first_line))
        if again:
            database.execute_sql("DELETE FROM import_rows WHERE line = ANY(%s)",
                                 ([line for line, _ in again],))
        added, self.report.updated = _upsert(self.now, self.staged_from)
        self.report.added += added
        self.report.unchanged = self.count - len(again) - self.report.added - self.report.updated

    def _copy(self):
        text, keys = self.buffer.getvalue(), self.keys.getvalue()
        self.buffer, self.keys, self.waiting = io.StringIO(), io.StringIO(), 0
        if text:
            self.copier.submit(self._copy_batch, text, keys)

    def _copy_batch(self, text, keys):
        """In the copier's thread: the batch straight into the records' table while none of
        its numbers was there before (a first load: no upsert at the end), and only its lines'
        numbers into the staging table (for the repeats); else the whole batch staged."""
        if self.staged_from is None and self._copied_into_table(text):
            self._stage("line, policy_key", keys)
        else:
            self._stage(f"line, {', '.join(RECORD_FIELDS)}", text)

    def _stage(self, columns, text):
        self.copier.cursor.copy_expert(f"COPY import_rows ({columns}) FROM STDIN", io.StringIO(text))

    def _copied_into_table(self, text):
        """Whether the batch went in: the first policy number already there takes it back,
        and it and every later batch go by the upsert."""
        stamps = f"\t{self.now}\t{self.now}\n"
        rows = _LINE_NUMBER.sub("", text).replace("\n", stamps)
        cursor = self.copier.cursor
        cursor.execute("SAVEPOINT import_direct")
        try:
            cursor.copy_expert(
                f"COPY {TABLE} ({', '.join(RECORD_FIELDS)}, created_at, updated_at) FROM STDIN",
                io.StringIO(rows))
        except Exception as exc:
            if getattr(exc, "pgcode", None) != _UNIQUE_VIOLATION:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT import_direct")
            self.staged_from = int(text[:text.index("\t")])
            return False
        cursor.execute("RELEASE SAVEPOINT import_direct")
        self.direct += text.count("\n")
        return True


class Copier:
    """One thread that sends batches over the import's connection while the importing
    thread goes on reading and checking (psycopg2 lets go of the GIL while it waits for
    the server). At most ``AHEAD`` batches wait; the first failure is raised again.
    :meth:`stop` must come before the transaction ends (the connection commits whatever
    comes after it), which the writer's ``with`` makes sure of."""

    AHEAD = 2

    def __init__(self):
        self.cursor = database.cursor()  # the transaction's BEGIN sent first
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="roster-copy")
        self.pending = collections.deque()

    def submit(self, work, *args):
        self.pending.append(self.pool.submit(work, *args))
        while len(self.pending) > self.AHEAD:
            self.pending.popleft().result()

    def wait(self):
        """Every batch sent, or the first failure raised."""
        while self.pending:
            self.pending.popleft().result()

    def stop(self):
        """Nothing more sent: a batch not begun is dropped, one being sent is waited for."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending.clear()


_LINE_NUMBER = re.compile(r"^\d+\t", re.MULTILINE)
_UNIQUE_VIOLATION = "23505"


def _upsert(now, from_line):
    """One INSERT … ON CONFLICT for the staged rows from ``from_line`` on: (inserted, updated)."""
    names = ", ".join(RECORD_FIELDS)
    changed = " OR ".join(f"{TABLE}.{n} IS DISTINCT FROM EXCLUDED.{n}" for n in RosterRecord.DATA_FIELDS)
    cursor = database.execute_sql(
        f"WITH done AS (INSERT INTO {TABLE} ({names}, created_at, updated_at) "
        f"SELECT {names}, %s, %s FROM import_rows WHERE line >= %s ORDER BY line "
        f"ON CONFLICT (policy_key) DO UPDATE SET "
        f"{', '.join(f'{n} = EXCLUDED.{n}' for n in RECORD_FIELDS)}, updated_at = EXCLUDED.updated_at "
        f"WHERE {changed} RETURNING xmax = 0 AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM done",
        (now, now, from_line))
    return cursor.fetchone()


def _pg_type(name):
    return "date" if isinstance(RosterRecord._meta.fields[name], DateField) else "text"


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_NULL = "\\N"


def _copy_text(value):
    """One value in COPY's text format: \\N for none, the special characters escaped."""
    if value is None:
        return _NULL
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)
