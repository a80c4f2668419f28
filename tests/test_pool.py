"""The PostgreSQL connection pool (issue 15): a connection given back a moment ago is lent
again without a round trip to ask whether it is alive; one idle longer is asked, and a
connection the server ended is not lent again then."""

import psycopg2
import pytest

from regapp.db import database

pytestmark = pytest.mark.postgres_only


def _ended_behind_the_pools_back(backend):
    """A connection given back to the pool, then ended by the server (a restart, a kill)."""
    pool = database.obj
    connection = pool.connection()
    pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    pool.close()  # given back
    other = psycopg2.connect(backend["database"])
    try:
        other.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        other.close()
    return pool, connection


def test_a_connection_given_back_a_moment_ago_is_lent_without_asking(app, backend):
    pool, connection = _ended_behind_the_pools_back(backend)
    # not asked: had it been, the server's end of it would have shown
    assert pool._is_closed(connection) is False


def test_one_idle_longer_is_asked_and_a_dead_one_not_lent_again(app, backend, monkeypatch):
    pool, connection = _ended_behind_the_pools_back(backend)
    monkeypatch.setattr(pool, "RECHECK_AFTER", 0)
    assert pool._is_closed(connection) is True
    assert database.execute_sql("SELECT 1").fetchone() == (1,)  # a live one lent instead
