"""The database: one peewee proxy bound in the factory, connected per request.

SQLite in WAL mode by default (R32); any URL playhouse.db_url understands
(``postgresql://…``) otherwise. The schema is created and upgraded by
:func:`regapp.migrations.upgrade`, which ``regapp init-db``, ``run`` and ``demo`` call.
"""

from __future__ import annotations

from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect as connect_url

database = DatabaseProxy()

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
        return SqliteDatabase(url[len("sqlite:///"):], pragmas=SQLITE_PRAGMAS)
    return connect_url(url)


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


def init_app(app):
    """Bind the database; a request connects on first use and closes at its end."""
    app.extensions["regapp.db"] = bind(app.config["DATABASE"])

    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()

