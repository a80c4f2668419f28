"""The database: one peewee proxy bound in the factory, a connection lent per request.

SQLite in WAL mode by default (R32); any URL playhouse.db_url understands
(``postgresql://…``) otherwise. Connections are pooled: a request borrows one and gives it
back at its end, instead of opening a PostgreSQL session (a server process) or an SQLite
file with its pragmas every time (issue 15). The schema is created and upgraded by
:func:`regapp.migrations.upgrade`, which ``regapp init-db``, ``run`` and ``demo`` call.
"""

from __future__ import annotations

import contextlib
import os
import threading

from flask import has_request_context
from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect as connect_url
from playhouse.db_url import parse as parse_url
from playhouse.pool import PooledSqliteDatabase

from regapp.postgres import PooledPostgres

database = DatabaseProxy()

#: a pooled connection idle this long (seconds) is closed, not lent again
STALE_AFTER = 300
#: seconds PostgreSQL has to accept a connection (libpq waits for ever by default: a server
#: that stalls, or an address that drops packets, held every request that connected)
CONNECT_TIMEOUT = 5
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
    "cache_size": -16000,
}


def open_database(url):
    """Open the database a ``DATABASE`` setting names, without connecting."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        owner_only(path)
        # a pooled connection may serve another thread next time, one thread at a time
        return PooledSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, max_connections=None,
                                    stale_timeout=STALE_AFTER, check_same_thread=False)
    if url.startswith(("postgres://", "postgresql://")):
        params = {"connect_timeout": CONNECT_TIMEOUT, **parse_url(url)}  # the URL's own wins
        return PooledPostgres(**params, max_connections=None, stale_timeout=STALE_AFTER)
    return connect_url(url)


def warm(app, count):
    """Open ``count`` pooled PostgreSQL connections and give them back, before serving: a
    fresh worker's first requests each waited for the server to start a process (the
    slowest inline checks of issue 15's load were all a worker's first). Best effort: a
    server out of reach is found by the requests as before."""
    db = getattr(app, "extensions", {}).get("regapp.db")
    if not isinstance(db, PooledPostgres) or count < 1:
        return
    ready = threading.Barrier(count, timeout=10)

    def hold():
        try:
            db.connect(reuse_if_open=True)
            db.tell_limits()  # it will serve requests: told now, not on the first one
            ready.wait()
        except Exception:  # noqa: BLE001 (warming only)
            ready.abort()
        finally:
            if not db.is_closed():
                db.close()

    holders = [threading.Thread(target=hold) for _ in range(count)]
    for holder in holders:
        holder.start()
    for holder in holders:
        holder.join()


def owner_only(path):
    """Create an SQLite file readable by its owner alone (SQLite gives its WAL and journal
    the same mode); an existing file is left as the operator set it."""
    if path and path != ":memory:" and not os.path.exists(path):
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except (FileExistsError, FileNotFoundError):
            pass  # made meanwhile, or its folder is missing: SQLite will say so


def bind(url):
    """Point the models at the database ``url`` names; return it."""
    db = open_database(url)
    database.initialize(db)
    return db


def write_transaction():
    """A transaction that writes what it read: it takes the write lock at BEGIN on SQLite.

    SQLite's default (deferred) BEGIN reads first and upgrades to a write lock later,
    and two such transactions upgrading at once fail with «database is locked» instead of
    waiting; BEGIN IMMEDIATE makes the second wait its turn (``busy_timeout``). PostgreSQL
    locks rows as it writes them and needs nothing more.
    """
    if isinstance(database.obj, SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


def relaxed_commit():
    """A transaction that may be lost with the server's last fraction of a second before a
    crash, in exchange for not waiting for the disk at its COMMIT: for a record whose loss
    costs a repeat and never data (a message marked sent: at worst sent again, as after a
    worker's crash between sending and marking). On PostgreSQL ``synchronous_commit`` off
    for this transaction alone, sent with its statements (issue 15); SQLite in WAL mode
    with ``synchronous=NORMAL`` commits so already."""
    if not isinstance(database.obj, PooledPostgres):
        return contextlib.nullcontext()
    return _relaxed(database.obj)


#: on PostgreSQL, for the transaction it is sent in alone
_RELAX = "SET LOCAL synchronous_commit TO OFF"


@contextlib.contextmanager
def _relaxed(db):
    with db.atomic():
        db.defer(_RELAX)
        yield


def relax_next_statement():
    """The next statement, outside a transaction, commits as :func:`relaxed_commit` does,
    in the same round trip (the ``SET LOCAL`` held for it)."""
    if isinstance(database.obj, PooledPostgres) and not database.in_transaction():
        database.obj.defer(_RELAX, hold=True)


def init_app(app):
    """Bind the database; a request connects on first use and closes at its end."""
    app.extensions["regapp.db"] = db = bind(app.config["DATABASE"])
    db.prepare_kept = bool(app.config["DATABASE_PREPARE"])  # regapp.statements
    if isinstance(db, PooledPostgres):
        db.limit_requests(app.config["DATABASE_STATEMENT_TIMEOUT"], has_request_context)

    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()

