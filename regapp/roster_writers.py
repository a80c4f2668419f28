"""Writing checked roster rows (R3): upsert by policy number, count what changed.

Two writers with one behaviour, inside the import's transaction (nothing is kept
before the last row): the first row of a policy number wins and every later one
is refused with the line it repeats; a record whose data differ is updated, the
rest are counted unchanged; nothing is ever deleted.

- SQLite: batches of rows staged in a temporary table (one ``executemany`` a batch; its
  unique number refuses a repeat), then one ``UPDATE … FROM`` and one ``INSERT …
  SELECT`` at the end: the main file is written only then, as SQLite has one writer.
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
TABLE = RosterRecord._meta.table_name


def writer_for(report, batch_size, dry_run=False):
    if isinstance(database.obj, SqliteDatabase):
        return SqliteWriter(report, batch_size, dry_run)
    return PostgresWriter(report, batch_size)  # its check's writes hold no one up (MVCC)


def repeated(line, first_line):
    return line, f"номер полиса повторяется: он уже есть в строке {first_line}"


class SqliteWriter:
    """Stages checked rows in a temporary table and writes them into the records' table at
    the end, in two statements. SQLite has one writer at a time, and the temporary table
    is not the main file's: while a long list is read and checked (a million rows: a
    minute), every other writer of the portal (a sign-in, a registration) goes on, and
    waits only for the last two statements (seconds), where it waited past its 10 s for
    the whole load. A check (``dry_run``) counts with one query and writes nothing.
    A policy number the table already has is refused with the line that had it first."""

    pack = list  # a chunk's good rows as they are: ``(line, fields)`` each

    def __init__(self, report, size, dry_run=False):
        self.report, self.size, self.rows, self.dry_run = report, size, {}, dry_run
        self.staged = 0
        database.execute_sql("DROP TABLE IF EXISTS temp.import_rows")
        database.execute_sql(
            f"CREATE TEMP TABLE import_rows ({_STAGING_COLUMNS}, UNIQUE (policy_key))")

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
                self._stage()

    def finish(self):
        self._stage()
        if self.dry_run:
            self.report.added, self.report.updated = _would_change()
        else:
            self.report.updated, self.report.added = _update_staged(), _insert_staged()
        self.report.unchanged = self.staged - self.report.added - self.report.updated
        database.execute_sql("DROP TABLE temp.import_rows")

    def _stage(self):
        """The batch into the staging table in one ``executemany``; a number an earlier
        batch staged is not taken, and only then are its lines looked up to say which."""
        if not self.rows:
            return
        marks = ", ".join([database.param] * (len(RECORD_FIELDS) + 1))
        cursor = database.cursor()
        cursor.executemany(
            f"INSERT OR IGNORE INTO import_rows (line, {', '.join(RECORD_FIELDS)}) "
            f"VALUES ({marks})", [(line, *fields) for line, fields in self.rows.values()])
        self.staged += cursor.rowcount
        if cursor.rowcount < len(self.rows):
            self._refuse_staged_before()
        self.rows = {}

    def _refuse_staged_before(self):
        marks = ", ".join([database.param] * len(self.rows))
        cursor = database.execute_sql(
            f"SELECT policy_key, line FROM import_rows WHERE policy_key IN ({marks})",
            list(self.rows))
        for key, first_line in cursor.fetchall():
            line = self.rows[key][0]
            if line != first_line:
                self.report.reject(*repeated(line, first_line))


#: a stored record whose data differ from its staged row's (NULL compared as a value)
_DIFFERS = " OR ".join(f"r.{n} IS NOT s.{n}" for n in RosterRecord.DATA_FIELDS)


def _would_change():
    """(added, updated) as the load would count them, read and not written."""
    cursor = database.execute_sql(
        f"SELECT count(*) FILTER (WHERE r.id IS NULL), count(*) FILTER (WHERE r.id IS NOT NULL AND ({_DIFFERS})) "
        f"FROM import_rows AS s LEFT JOIN {TABLE} AS r ON r.policy_key = s.policy_key")
    return cursor.fetchone()


def _update_staged():
    """The stored records whose staged rows differ, updated: how many."""
    cursor = database.execute_sql(
        f"UPDATE {TABLE} AS r SET {', '.join(f'{n} = s.{n}' for n in RECORD_FIELDS)}, "
        f"updated_at = {database.param} FROM import_rows AS s "
        f"WHERE r.policy_key = s.policy_key AND ({_DIFFERS})", (str(utcnow()),))
    return cursor.rowcount


def _insert_staged():
    """The staged rows with no record yet, inserted in the file's order: how many."""
    names, now = ", ".join(RECORD_FIELDS), str(utcnow())  # as sqlite3 writes a datetime
    cursor = database.execute_sql(
        f"INSERT INTO {TABLE} ({names}, created_at, updated_at) "
        f"SELECT {names}, {database.param}, {database.param} FROM import_rows "
        "WHERE true ORDER BY rowid ON CONFLICT (policy_key) DO NOTHING", (now, now))
    return cursor.rowcount


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
            f"CREATE TEMP TABLE import_rows ({_STAGING_COLUMNS}) ON COMMIT DROP")
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


def _sql_type(name):
    return "date" if isinstance(RosterRecord._meta.fields[name], DateField) else "text"


#: the staging table's columns (both databases): the file's line, then the record's
_STAGING_COLUMNS = ", ".join(["line int", *(f"{n} {_sql_type(n)}" for n in RECORD_FIELDS)])


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_NULL = "\\N"


def _copy_text(value):
    """One value in COPY's text format: \\N for none, the special characters escaped."""
    if value is None:
        return _NULL
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)
