"""The PostgreSQL connection pool, and fewer round trips a transaction (issue 15).

On two busy cores a round trip costs the server about 0.2 ms of CPU whatever the
statement, and a registration made 31 of them. Three things cut them here, none
changing what a transaction does:

- a connection given back a moment ago is lent again without asking the server whether
  it is alive;
- a transaction's ``BEGIN`` goes with its first statement, in the same query string
  (an empty transaction sends nothing at all);
- a write whose outcome nobody reads (:meth:`PooledPostgres.defer`: an INSERT whose id is
  made here, an UPDATE whose count is known) waits in its transaction and goes with the
  next statement, or with the ``COMMIT``. It still runs before anything after it, in the
  same transaction: should it fail, the transaction fails where it would have anyway,
  only a statement later.
- outside a transaction a write may be *held* for the next statement (``defer(...,
  hold=True)``): the two go in one string, which the server runs as one implicit
  transaction, both or neither, with one commit. Nothing else may read it meanwhile: a
  browser's device remembered at sign-in goes with the session's row, a worker's
  ``SET LOCAL`` with its claim. A held write nothing follows goes alone before a ``BEGIN``
  and when the connection is given back.

A statement's ``PREPARE`` (:mod:`regapp.statements`) goes at the head of the string,
before anything that could fail, so that a name is never taken for prepared when the
server skipped its ``PREPARE``; a write not yet prepared on the connection is not kept
waiting.
"""

from __future__ import annotations

import logging
import select
import time
import weakref

from peewee import DatabaseError
from playhouse.pool import PooledPostgresqlDatabase

log = logging.getLogger("regapp.db")


def _server_spoke(conn):
    """Whether an idle connection has something to read, without a round trip: the server
    ended it («terminating connection…», then its end of the socket closed)."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _never():
    return False


class PooledPostgres(PooledPostgresqlDatabase):
    """peewee's pool asks the server (``SELECT 1``, a round trip made holding the pool's
    lock) whether a connection is alive before lending it again. One given back less than
    ``RECHECK_AFTER`` seconds ago is lent without asking, the driver's own state still
    read (a request's round trip, and threads queueing at the lock), and its socket looked
    at: a server that ended it meanwhile (a restart, a killed backend) said so there, and
    it is asked then, not lent to a request that would have answered 503."""

    RECHECK_AFTER = 1.0

    def __init__(self, *args, **kwargs):
        self._given_back = {}  # id of a connection in the pool → when it came back
        self._request_limits = None  # what a connection lent to a request is told, once
        self._serving = _never  # whether a connection is being lent to a request
        self._limited = weakref.WeakSet()  # the connections told
        super().__init__(*args, **kwargs)

    def limit_requests(self, seconds, serving):
        """Cut off a request's statement after ``seconds`` (none if 0): a statement that
        waits (a lock a migration holds, a server that stalls) answers the person «try
        again» and frees its thread, which gunicorn would never take back. ``serving()``
        says whether a connection is being lent to a request; commands and the queue's
        jobs run as long as they need."""
        self._request_limits = (f"SET statement_timeout = {round(seconds * 1000)}"
                                if seconds else None)
        self._serving = serving if seconds else _never

    def _initialize_connection(self, conn):
        """peewee's hook, at each lend: a connection carries the limits of what it is lent
        to, told in a round trip of its own when that changes (once in its life where it
        serves requests alone; it is in autocommit, so nothing undoes it). In one process
        that answers pages and runs the queue's jobs (``regapp run``), a job is not cut off
        by the limit of the request the connection served before."""
        if self._serving():
            self.tell_limits(conn)
        elif conn in self._limited:
            with conn.cursor() as cursor:
                cursor.execute("SET statement_timeout = DEFAULT")
            self._limited.discard(conn)

    def tell_limits(self, conn=None):
        """Tell ``conn`` (this thread's connection by default) the request's limits."""
        conn = conn or self.connection()
        if self._request_limits and conn not in self._limited:
            with conn.cursor() as cursor:
                cursor.execute(self._request_limits)
            self._limited.add(conn)

    def _close(self, conn, close_conn=False):
        self._state.unsent = None
        self._given_back[id(conn)] = time.monotonic()
        super()._close(conn, close_conn)

    def _close_raw(self, conn):
        self._given_back.pop(id(conn), None)
        super()._close_raw(conn)

    def _is_closed(self, conn):
        back = self._given_back.get(id(conn))
        if (back is not None and time.monotonic() - back < self.RECHECK_AFTER
                and not conn.closed and self._adapter.txn_status(conn) == self._adapter.txn_idle
                and not _server_spoke(conn)):
            return False
        return super()._is_closed(conn)

    # What this thread's connection still owes the server: (the connection, its BEGIN or
    # None when sent, the writes waiting), sent ahead of the next statement.

    def begin(self, isolation_level=None):
        if self.is_closed():
            self.connect()
        self._send_held()  # its own, not the transaction's: it may not be undone with it
        level = isolation_level or self._isolation_level
        self._state.unsent = (self._state.conn, "BEGIN" if not level else
                              f"BEGIN TRANSACTION ISOLATION LEVEL "
                              f"{self._adapter.isolation_level_str(level)}", [])

    def defer(self, sql, params=(), hold=False):
        """Run a write whose result nobody reads: in a transaction, with its next statement
        or its COMMIT; outside one, now, or with the next statement if ``hold``."""
        if not self.in_transaction() and not hold:
            self.execute_sql(sql, params)
            return
        from psycopg2.extensions import encodings  # psycopg2 is there once connected

        conn = self.connection()
        written = conn.cursor().mogrify(sql, params).decode(encodings[conn.encoding])
        unsent = self._owed()
        if unsent is None:  # the BEGIN went already
            unsent = self._state.unsent = (conn, None, [])
        unsent[2].append(written)

    def _send_held(self):
        """Outside a transaction: the held writes, alone (nothing came after them)."""
        unsent = self._owed()
        if unsent is not None and unsent[2] and not self.in_transaction():
            self._state.unsent = None
            super().execute_sql("; ".join(text.replace("%", "%%") for text in unsent[2]))

    def close(self):
        try:
            self._send_held()
        except DatabaseError as exc:  # a request's end: said in the log, not to the person
            log.error("a held write failed as its connection was given back: %s", exc)
        return super().close()

    def _owed(self):
        unsent = getattr(self._state, "unsent", None)
        return unsent if unsent is not None and unsent[0] is self._state.conn else None

    def _take_unsent(self):
        """(the BEGIN still to send or None, the waiting writes), now cleared."""
        unsent = self._owed()
        self._state.unsent = None
        return (None, []) if unsent is None else unsent[1:]

    def execute_sql(self, sql, params=None, prepare=None):
        """``prepare``: a ``PREPARE`` the statement needs, sent first."""
        begin, waiting = self._take_unsent()
        ahead = [text.replace("%", "%%") for text in waiting]  # the driver's own % is params'
        return super().execute_sql("; ".join(filter(None, [prepare, begin, *ahead, sql])),
                                   params)

    def cursor(self, named_cursor=None):
        begin, waiting = self._take_unsent()
        if begin or waiting:  # COPY's path: the cursor used without execute_sql
            super().cursor().execute("; ".join(filter(None, [begin, *waiting])))
        return super().cursor(named_cursor)

    def commit(self):
        unsent = self._owed()
        if unsent is None:  # begun, nothing waiting
            super().commit()
        elif unsent[2]:
            self.execute_sql("COMMIT")  # the BEGIN and the writes, in the same string
        else:  # nothing was done: nothing to end
            self._state.unsent = None

    def rollback(self):
        begin, _ = self._take_unsent()  # the waiting writes are dropped with the rest
        if begin is None:
            super().rollback()
