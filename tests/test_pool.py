"""The PostgreSQL connection pool (issue 15): a connection given back a moment ago is lent
again without a round trip to ask whether it is alive; one idle longer is asked, and a
connection the server ended is not lent again then. A request's statements have a time
limit, commands' do not; a server that never answers is given up on in seconds."""

import socket

import psycopg2
import pytest

from regapp.db import database
from tests.helpers import HX, ends, statements_sent, step_of
from tests.test_register_without_link import form, roster  # noqa: F401 (a fixture)

pytestmark = pytest.mark.postgres_only


def _ended_behind_the_pools_back(backend):
    """A connection given back to the pool, then ended by the server (a restart, a kill)."""
    pool = database.obj
    connection = pool.connection()
    pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    pool.close()  # given back
    other = psycopg2.connect(backend["database"])
    try:  # and waited for: the server has said its goodbye
        other.cursor().execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    finally:
        other.close()
    return pool, connection


def test_a_connection_given_back_a_moment_ago_is_lent_without_asking(app):
    pool = database.obj
    connection = pool.connection()
    pool.close()
    with statements_sent() as sent:
        assert pool._is_closed(connection) is False
    assert sent == []


def test_one_the_server_ended_meanwhile_is_not_lent_again(app, backend):
    """A restart's or a kill's goodbye is read from the socket: the request that would have
    had it answers as usual (a 503 before), a live connection lent instead."""
    pool, connection = _ended_behind_the_pools_back(backend)
    with statements_sent() as sent:
        assert pool._is_closed(connection) is True
    assert sent == []  # not asked: read from the socket
    assert database.execute_sql("SELECT 1").fetchone() == (1,)


def test_one_idle_longer_is_asked_and_a_dead_one_not_lent_again(app, backend, monkeypatch):
    pool, connection = _ended_behind_the_pools_back(backend)
    monkeypatch.setattr(pool, "RECHECK_AFTER", 0)
    assert pool._is_closed(connection) is True
    assert database.execute_sql("SELECT 1").fetchone() == (1,)  # a live one lent instead


# A transaction's BEGIN travels with its first statement (issue 15): nothing is sent at
# the start of the block, the first statement begins it, and it stays one transaction.

def _server_status():
    return database.connection().get_transaction_status()


def test_begin_goes_with_the_first_statement(app):
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INTRANS
    with statements_sent() as sent, database.atomic():
        assert _server_status() == TRANSACTION_STATUS_IDLE  # nothing sent yet
        database.execute_sql("SELECT 1")
        assert _server_status() == TRANSACTION_STATUS_INTRANS
        database.execute_sql("SELECT 2")
    assert sent[:2] == ["BEGIN; SELECT 1", "SELECT 2"]
    assert _server_status() == TRANSACTION_STATUS_IDLE  # committed


def test_a_failure_later_undoes_the_first_statement(app):
    from regapp.models import SignInThrottle
    with pytest.raises(RuntimeError), database.atomic():
        SignInThrottle.create(key="phone:lazy-begin")
        raise RuntimeError
    assert not SignInThrottle.select().where(SignInThrottle.key == "phone:lazy-begin").exists()


def test_an_empty_transaction_sends_nothing_and_a_taken_cursor_begins_it(app):
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INTRANS
    with database.atomic():
        pass
    assert _server_status() == TRANSACTION_STATUS_IDLE
    with database.atomic() as transaction:
        database.cursor()  # COPY's path: the cursor used without execute_sql
        assert _server_status() == TRANSACTION_STATUS_INTRANS
        transaction.rollback(False)
    with database.atomic("SERIALIZABLE"):
        level = database.execute_sql("SHOW transaction_isolation").fetchone()[0]
    assert level == "serializable"


def test_warming_opens_a_connection_a_thread_before_the_first_request(app):  # issue 15
    from regapp.db import warm

    pool = database.obj
    pool.close_all()
    warm(app, 3)
    assert len(pool._connections) == 3 and not pool._in_use  # given back, each its own
    database.execute_sql("SELECT 1")
    assert len(pool._connections) == 2  # one lent again, none opened
    database.close()
    warm(object(), 3)  # not a regapp app (another WSGI app): nothing done, nothing raised
    assert len(pool._connections) == 3


# A write whose outcome nobody reads waits in its transaction and goes with the next
# statement or the COMMIT (issue 15): the same transaction, in the same order, a round
# trip fewer.

def _keys():
    from regapp.models import SignInThrottle
    return sorted(row.key for row in SignInThrottle.select())


INSERT = 'INSERT INTO "sign_in_throttle" ("key", "failures") VALUES (%s, %s)'


def test_a_deferred_write_goes_with_the_next_statement_and_is_seen_by_it(app):
    with statements_sent() as sent, database.atomic():
        database.obj.defer(INSERT, ("phone:+7 50% 'quoted'", 1))
        assert sent == []  # nothing sent yet, BEGIN included
        seen = database.execute_sql('SELECT "key" FROM "sign_in_throttle" WHERE "failures" = %s',
                                    (1,)).fetchall()
        assert seen == [("phone:+7 50% 'quoted'",)]  # its value exactly, % and ' alike
    assert len(sent) == 1 and sent[0].startswith("BEGIN; INSERT INTO")
    assert _keys() == ["phone:+7 50% 'quoted'"]


def test_deferred_writes_with_nothing_after_go_with_the_commit(app):
    with statements_sent() as sent, database.atomic():
        database.obj.defer(INSERT, ("a", 1))
        database.obj.defer(INSERT, ("b", 2))
    assert len(sent) == 1 and sent[0].startswith("BEGIN; INSERT") and sent[0].endswith("COMMIT")
    assert _keys() == ["a", "b"]


def test_a_failing_deferred_write_undoes_its_whole_transaction(app):
    from peewee import IntegrityError
    database.obj.defer(INSERT, ("taken", 1))  # outside a transaction: written now
    assert _keys() == ["taken"]
    with pytest.raises(IntegrityError), database.atomic():
        database.execute_sql(INSERT, ("first", 1))
        database.obj.defer(INSERT, ("taken", 2))  # fails at the COMMIT, after the block
    assert _keys() == ["taken"] and _server_status() == 0  # idle, nothing of it kept
    with pytest.raises(RuntimeError), database.atomic():
        database.obj.defer(INSERT, ("dropped", 1))
        raise RuntimeError  # rolled back: the waiting write is never sent
    assert _keys() == ["taken"]
    assert database.execute_sql("SELECT 1").fetchone() == (1,)  # the connection is fine


def test_a_relaxed_commit_waits_for_no_disk_and_only_for_its_transaction(app):  # issue 15
    from regapp.db import relaxed_commit
    before = database.execute_sql("SHOW synchronous_commit").fetchone()
    database.execute_sql("SET synchronous_commit TO on")  # the tests' server runs with it off
    with statements_sent() as sent, relaxed_commit():
        database.obj.defer(INSERT, ("relaxed", 1))
    assert sent == [sent[0]] and sent[0].startswith(
        "BEGIN; SET LOCAL synchronous_commit TO OFF; INSERT") and sent[0].endswith("; COMMIT")
    assert _keys() == ["relaxed"]  # committed
    assert database.execute_sql("SHOW synchronous_commit").fetchone() == ("on",)  # its own
    database.execute_sql(f"SET synchronous_commit TO {before[0]}")


def test_a_held_write_goes_with_the_next_statement_both_or_neither(app):  # issue 15
    from peewee import IntegrityError
    with statements_sent() as sent:
        database.obj.defer(INSERT, ("held 50% 'quoted'", 1), hold=True)  # outside a transaction
        assert sent == []
        assert _keys() == ["held 50% 'quoted'"]  # seen by the statement it went with
    assert len(sent) == 1 and sent[0].startswith("INSERT INTO")
    database.obj.defer(INSERT, ("held 50% 'quoted'", 2), hold=True)  # taken: it fails…
    with pytest.raises(IntegrityError):
        database.execute_sql(INSERT, ("after it", 1))
    assert _keys() == ["held 50% 'quoted'"]  # …and the statement after it is undone with it
    assert _server_status() == 0


def test_a_held_write_nothing_follows_goes_alone(app, caplog):  # issue 15
    database.obj.defer(INSERT, ("before a transaction", 1), hold=True)
    with pytest.raises(RuntimeError), database.atomic():
        database.execute_sql(INSERT, ("rolled back", 1))
        raise RuntimeError  # the held write was its own: it stays
    assert _keys() == ["before a transaction"]
    database.obj.defer(INSERT, ("given back", 1), hold=True)
    database.close()
    assert _keys() == ["before a transaction", "given back"]
    database.obj.defer(INSERT, ("given back", 2), hold=True)  # taken: said in the log
    database.close()
    assert database.is_closed() and "a held write failed" in caplog.text
    assert _keys() == ["before a transaction", "given back"]


def test_a_statement_alone_may_commit_relaxed(app):  # issue 15
    from regapp.db import relax_next_statement
    before = database.execute_sql("SHOW synchronous_commit").fetchone()
    database.execute_sql("SET synchronous_commit TO on")  # the tests' server runs with it off
    with statements_sent() as sent:
        relax_next_statement()
        database.execute_sql(INSERT, ("relaxed alone", 1))
    assert sent == ['SET LOCAL synchronous_commit TO OFF; INSERT INTO "sign_in_throttle" '
                    '("key", "failures") VALUES (%s, %s)']
    assert _keys() == ["relaxed alone"]
    assert database.execute_sql("SHOW synchronous_commit").fetchone() == ("on",)  # its own
    database.execute_sql(f"SET synchronous_commit TO {before[0]}")


# A request's statement is cut off after DATABASE_STATEMENT_TIMEOUT: one stuck behind a
# lock (a migration's) or a stalled server held its gunicorn thread for ever (a gthread
# worker's main loop still beats, so gunicorn never takes the thread back).

def _statement_timeout():
    return database.execute_sql("SHOW statement_timeout").fetchone()[0]


@pytest.mark.settings(DATABASE_STATEMENT_TIMEOUT=1.5)
def test_a_connection_lent_to_a_request_is_limited_and_one_lent_to_a_command_is_not(app):
    assert _statement_timeout() == "0"  # a command, a queue's job: as long as they need
    database.close()
    with app.test_request_context():  # the same connection, lent to a request now
        assert _statement_timeout() == "1500ms"
        database.close()
    # and to a queue's job next (``regapp run`` does both): not cut off by the request's
    assert _statement_timeout() == "0"


@pytest.mark.settings(DATABASE_STATEMENT_TIMEOUT=1)
def test_a_form_stuck_behind_a_lock_is_told_to_try_again_and_loses_nothing(
        app, client, roster, backend, outbox):  # noqa: F811 (the fixture)
    from regapp.models import PendingRegistration
    page = client.get("/register").get_data(as_text=True)
    migration = psycopg2.connect(backend["database"])  # an ALTER TABLE's lock, held
    migration.cursor().execute('LOCK TABLE "pending_registration" IN ACCESS EXCLUSIVE MODE')
    try:  # without the limit it waits for the lock (for ever)
        refused = ends(lambda: client.post("/register", data=form(page), headers=HX), 5)
    finally:
        migration.rollback()
        migration.close()
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert "Попробуйте" in refused.get_data(as_text=True)
    assert PendingRegistration.select().count() == 0 and outbox() == []  # nothing half-made
    again = client.post("/register", data=form(page), headers=HX)  # the same form, sent again
    assert step_of(again) == "/register/code"
    assert [m["channel"] for m in outbox()] == ["sms"]


def test_a_server_that_never_answers_is_given_up_on_in_seconds(tmp_path, monkeypatch):
    """An address that takes the connection and says nothing (a stalled server, a proxy to
    one that is gone): libpq waits for ever by default, with every request that connects."""
    from regapp import create_app, db
    monkeypatch.setattr(db, "CONNECT_TIMEOUT", 2)
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path / "instance"))
    with socket.socket() as silent:  # the kernel accepts; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app = create_app({"TESTING": True, "SECRET_KEY": "s" * 40,
                          "DATABASE": f"postgresql://regapp@127.0.0.1:{silent.getsockname()[1]}/x"})
        ready = ends(lambda: app.test_client().get("/readyz"), 6)
    assert ready.status_code == 503 and ready.json["database"] == "unavailable"
