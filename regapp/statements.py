"""Statements whose SQL is written once a process (issue 15).

peewee writes a query's SQL afresh each time it runs, walking the query's nodes:
about a tenth of a millisecond a statement, a fifth of a registration's CPU beside
its hash. The few statements every request or registration runs are built here
once, with a stand-in for each value that changes (a *slot*), and their SQL kept
per kind of database; a run only puts the values in their places. Rows come back
as the same query would give them (models, tuples).

A slot's value goes to the driver as it is, without the field's conversion: pass
what the column holds (text, a number, a datetime, an id rather than a model).
Every value that changes is a slot: anything else (a default included) is written
into the kept statement the first time.

peewee also works out, for every result, which column is which field and how its value
converts (a third of a millisecond for a delivery's claimed rows): a kept statement's
columns are the same every time, so that is worked out once as well.

On PostgreSQL each kept statement is also prepared once on each connection (``PREPARE``,
then ``EXECUTE`` with the values): the server parses and plans it once a connection, not
at every run (a third of its CPU for the short statements a registration runs).
``DATABASE_PREPARE = False`` turns that off for a pooler that lends a server connection
per transaction (PgBouncer's transaction mode), where a name prepared on one connection
is not there on the next.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import weakref

from peewee import BaseModelCursorWrapper, DatabaseError, Node

from regapp.db import database
from regapp.postgres import PooledPostgres


class _Mark:
    """Where a slot's value goes among a statement's parameters."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class _Slot(Node):
    """A stand-in for the ``index``-th value of a kept statement."""

    def __init__(self, index):
        self.index = index

    def __sql__(self, ctx):
        return ctx.value(_Mark(self.index), converter=False)


#: a name for each kept statement, to prepare it by on PostgreSQL
_names = itertools.count(1)
#: a PostgreSQL connection → the names prepared on it (gone with the connection)
_prepared = weakref.WeakKeyDictionary()
_prepared_lock = threading.Lock()
#: the connections where a ``PREPARE`` went in a string that failed: whether it ran is
#: not known (the PREPARE itself may be what failed: a lock it waited for, a timeout)
_unsure = weakref.WeakSet()
#: what such a connection's next ``PREPARE`` goes after: the server forgets every name
_FORGET_ALL = "DEALLOCATE ALL"


class Kept:
    """``build(*slots)`` makes the query; :meth:`rows`, :meth:`first`, :meth:`run` and
    :meth:`run_later` run it with values for the slots, in the same order."""

    def __init__(self, build, slots):
        self.build, self.slots = build, slots
        self.name = f"regapp_kept_{next(_names)}"
        # type of database → (sql, where each parameter comes from, query, prepared)
        self._made = {}
        self._lock = threading.Lock()
        self._columns = {}  # the result's column names → what peewee made of them

    def run(self, *values):
        """The statement's cursor (an UPDATE's or DELETE's ``rowcount``, say)."""
        return self._execute(values)[0]

    def rows(self, *values):
        """The rows, as the query itself would give them."""
        cursor, query = self._execute(values)
        wrapper = query._get_cursor_wrapper(cursor)
        if isinstance(wrapper, BaseModelCursorWrapper) and cursor.description:
            self._read_columns(wrapper, tuple(column[0] for column in cursor.description))
        return list(wrapper.iterator())

    def _read_columns(self, wrapper, names):
        """Give ``wrapper`` what its ``initialize()`` makes of these columns (fields,
        converters), made the first time only: it depends on nothing else."""
        made = self._columns.get(names)
        if made is None:
            before = dict(vars(wrapper))
            wrapper.initialize()
            made = self._columns[names] = {
                key: value for key, value in vars(wrapper).items()
                if key not in before or before[key] is not value}
        else:
            vars(wrapper).update(made)
        wrapper.initialized = True

    def first(self, *values):
        rows = self.rows(*values)
        return rows[0] if rows else None

    def run_later(self, *values, hold=False):
        """Run it for its effect alone: in a PostgreSQL transaction it goes with the
        transaction's next statement or its COMMIT (:meth:`regapp.postgres.PooledPostgres.defer`),
        outside one with the next statement if ``hold``, elsewhere now."""
        db = database.obj
        sql, params, _, prepare = self._statement(db, values)
        if prepare is None and isinstance(db, PooledPostgres):  # prepared here already, or never
            db.defer(sql, params, hold=hold)
        else:
            self._send(db, sql, params, prepare)

    def _execute(self, values):
        db = database.obj
        sql, params, query, prepare = self._statement(db, values)
        return self._send(db, sql, params, prepare), query

    @staticmethod
    def _send(db, sql, params, prepare):
        if not prepare:
            return db.execute_sql(sql, params)
        try:
            return db.execute_sql(sql, params, prepare=prepare)
        except DatabaseError:
            _forget_prepared(db._state.conn)
            raise

    def _statement(self, db, values):
        """(SQL, its parameters, the query, the PREPARE to send first or None)."""
        sql, sources, query, prepared = self._made_for(db)
        prepare = None
        if prepared is not None and getattr(db, "prepare_kept", False):
            sql, prepare = prepared[1], self._prepare_once(db, prepared[0])
        return sql, [values[s.index] if type(s) is _Mark else s for s in sources], query, prepare

    def _made_for(self, db):
        made = self._made.get(type(db))
        if made is None:
            with self._lock:
                query = self.build(*map(_Slot, range(self.slots)))
                sql, params = db.get_sql_context().sql(query).query()
                prepared = _prepared_form(self.name, sql, len(params)) if isinstance(
                    db, PooledPostgres) else None
                made = self._made[type(db)] = (sql, params, query, prepared)
        return made

    def _prepare_once(self, db, prepare):
        """The ``PREPARE`` to send first, the first time on this connection, else None (no
        round trip of its own: a new connection's first requests paid one a statement, the
        p99 of issue 15). It goes at the head of the query string, before anything that
        could fail and make the server skip it; it stands whatever becomes of the
        statements after it (it is not undone with a transaction)."""
        connection = db.connection()
        with _prepared_lock:
            names = _prepared.setdefault(connection, set())
            if connection in _unsure:  # the server's names are not known: none, from now
                _unsure.discard(connection)
                names.clear()
                prepare = f"{_FORGET_ALL}; {prepare}"
        if self.name in names:  # a connection serves one thread at a time
            return None
        names.add(self.name)
        return prepare


def _forget_prepared(connection):
    """A string with a ``PREPARE`` failed on ``connection``: it may have run or not (a
    name taken for prepared that was not answered every later request «does not exist»
    on that connection). No name is taken for prepared there any more, and the next
    ``PREPARE`` goes after the server is told to forget them all."""
    if connection is not None:
        with _prepared_lock:
            _prepared.pop(connection, None)
            _unsure.add(connection)


def _prepared_form(name, sql, count):
    """(``PREPARE``, ``EXECUTE``) for psycopg's SQL with ``count`` ``%s``; None for SQL
    with a ``%`` of its own, which the two could not carry over unchanged."""
    pieces = sql.split("%s")
    if len(pieces) != count + 1 or any("%" in piece for piece in pieces):
        return None
    numbered = pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], 1))
    values = f"({', '.join(['%s'] * count)})" if count else ""
    return f"PREPARE {name} AS {numbered}", f"EXECUTE {name}{values}"


class KeptIn:
    """A kept statement with a list of values (an ``IN (…)``): ``build(items, *slots)``,
    ``items`` a slot for each, kept for each length of the list (a delivery batch's ids)."""

    def __init__(self, build, slots=0):
        self.build, self.slots = build, slots
        self._kept = {}  # length of the list → its Kept (two threads may both make one)

    def run(self, items, *values):
        return self._for(len(items)).run(*items, *values)

    def rows(self, items, *values):
        return self._for(len(items)).rows(*items, *values)

    def run_later(self, items, *values):
        self._for(len(items)).run_later(*items, *values)

    def _for(self, count):
        kept = self._kept.get(count)
        if kept is None:
            kept = self._kept[count] = Kept(
                lambda *slots: self.build(slots[:count], *slots[count:]), count + self.slots)
        return kept


def most_values():
    """The most values one statement may carry on this connection: SQLite's own limit
    (999 before 3.32, 32,766 since, higher as Debian builds it), PostgreSQL's 65,535.
    A batch of 100 e-mails carries 1,500, the default 500 about 7,500."""
    if isinstance(database.obj, PooledPostgres):
        return 65535
    return database.obj.connection().getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class KeptInsert:
    """An INSERT of whole model instances (every field but an automatic id, each through
    its field's conversion), its SQL written once for each number of rows."""

    def __init__(self, model):
        meta = model._meta
        self.model, self.auto_id = model, meta.primary_key if meta.auto_increment else None
        self.fields = [f for f in meta.sorted_fields if f is not self.auto_id]
        self._inserts = KeptIn(self._insert)  # every row's values in one list

    def save(self, row):
        """Insert ``row`` (made with the model's defaults); its automatic id set; ``row``."""
        cursor = self._inserts.run(self.values(row))
        if self.auto_id:
            new_id = cursor.fetchone()[0] if database.returning_clause else cursor.lastrowid
            setattr(row, self.auto_id.name, new_id)
        return row

    def save_later(self, row):
        """Insert ``row`` with the transaction's next statement (:meth:`Kept.run_later`);
        its automatic id is not read back. ``row``."""
        self._inserts.run_later(self.values(row))
        return row

    def save_many(self, rows):
        """Insert ``rows`` in one statement, with the transaction's next one (no ids read
        back); in as few as the databases' limit on a statement's values allows."""
        per_statement = max(1, most_values() // len(self.fields))
        for start in range(0, len(rows), per_statement):
            self._inserts.run_later(
                [v for row in rows[start:start + per_statement] for v in self.values(row)])

    def values(self, row):
        """``row``'s values as the statement takes them, in :attr:`fields`' order."""
        data = row.__data__
        return [f.db_value(data.get(f.name)) for f in self.fields]

    def _insert(self, slots):
        width = len(self.fields)
        query = self.model.insert_many(
            [slots[n:n + width] for n in range(0, len(slots), width)], fields=self.fields)
        # the new id, on a database that tells it only when asked (PostgreSQL)
        return query.returning(self.auto_id) if self.auto_id and database.returning_clause else query
