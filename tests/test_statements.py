"""Kept statements (issue 15): the same rows and writes as the queries peewee writes anew,
on both databases (the PostgreSQL pass runs this file too)."""

import datetime as dt
import sqlite3

import pytest

from regapp.db import database
from regapp.models import Account, ConsentEvent, Message, OneTimeCode, RosterRecord, WebSession
from regapp.statements import Kept, KeptIn, KeptInsert, _prepared_form
from tests.helpers import statements_sent

NOW = dt.datetime(2026, 11, 26, 9, 30, 15, 123456)


def _record(n):
    return RosterRecord.create(
        policy_number=f"P{n}", policy_key=f"p{n}", last_name="Иванов", first_name="Иван",
        name_key="иванов иван", birth_date=dt.date(1985, 2, 1 + n))


def _stored(model):
    return sorted((row.__data__ for row in model.select()), key=lambda data: str(data["id"]))


def test_a_kept_select_gives_what_the_query_gives_every_time(app):
    for n in range(3):
        _record(n)
    build = lambda key, born: RosterRecord.select().where(  # noqa: E731
        (RosterRecord.name_key == key) & (RosterRecord.birth_date > born)).order_by(RosterRecord.id)
    kept = Kept(build, 2)
    for key, born in [("иванов иван", dt.date(1985, 2, 1)), ("иванов иван", dt.date(1900, 1, 1)),
                      ("петров", dt.date(1900, 1, 1))]:
        assert [r.__data__ for r in kept.rows(key, born)] == [r.__data__ for r in build(key, born)]
    assert kept.first("петров", dt.date(1900, 1, 1)) is None


def test_a_kept_select_works_out_its_columns_once(app, monkeypatch):
    """Which column is which field, and its conversion, made once for every result: peewee
    makes it for each (issue 15). The rows stay what the query gives, models or tuples,
    the claimed messages' extra column included."""
    import peewee

    for n in range(3):
        _record(n)
    made = []
    resolve = peewee._resolve_model_columns
    monkeypatch.setattr(peewee, "_resolve_model_columns",
                        lambda *args: made.append(1) or resolve(*args))
    build = lambda born: RosterRecord.select().where(  # noqa: E731
        RosterRecord.birth_date > born).order_by(RosterRecord.id)
    dated = Kept(lambda born: build(born).select(RosterRecord.policy_number,
                                                 RosterRecord.birth_date).tuples(), 1)
    kept = Kept(build, 1)
    for born in (dt.date(1900, 1, 1), dt.date(1985, 2, 2), dt.date(1900, 1, 1)):
        expected = list(build(born))
        assert [r.__data__ for r in kept.rows(born)] == [r.__data__ for r in expected]
        assert dated.rows(born) == [(r.policy_number, r.birth_date) for r in expected]
    assert len(made) == 3 + 2  # each query peewee ran itself, and once for each kept one
    assert isinstance(dated.rows(dt.date(1900, 1, 1))[0][1], dt.date)  # converted (SQLite: text)


def test_kept_tuples_and_writes_count_as_peewee_counts(app):
    for n, at in enumerate((NOW, NOW + dt.timedelta(seconds=5))):
        OneTimeCode.create(purpose="signup", target="+79160000000", salt="s", code_hash=f"h{n}",
                           created_at=at, expires_at=at + dt.timedelta(minutes=5))
    newest = Kept(lambda target: OneTimeCode.select(
        OneTimeCode.code_hash, OneTimeCode.created_at).where(OneTimeCode.target == target)
        .order_by(OneTimeCode.created_at.desc()).tuples(), 1)
    assert newest.first("+79160000000") == ("h1", NOW + dt.timedelta(seconds=5))
    close = Kept(lambda at, target: OneTimeCode.update(closed_at=at).where(
        (OneTimeCode.target == target) & OneTimeCode.closed_at.is_null()), 2)
    assert close.run(NOW, "+79160000000").rowcount == 2
    assert close.run(NOW, "+79160000000").rowcount == 0
    assert {c.closed_at for c in OneTimeCode.select()} == {NOW}


def test_a_kept_insert_stores_what_create_stores(app):
    fields = dict(record=_record(1), phone="+79160000001", email="a@example.com",
                  email_key="a@example.com", email_confirmed=True, password_hash="x",
                  created_at=NOW)
    made = Account.create(**fields)
    other = {"record": _record(2), "phone": "+79160000002", "email_key": "b@example.com"}
    kept = KeptInsert(Account).save(Account(**{**fields, **other}))
    assert kept.id == made.id + 1  # the new id read back, on either database
    first, second = (Account.get_by_id(i).__data__ for i in (made.id, kept.id))
    assert {**second, "id": made.id, "record": made.record_id, "phone": first["phone"],
            "email_key": first["email_key"]} == first
    message = KeptInsert(Message).save(Message(channel="sms", kind="code", to="+7916", text="t"))
    assert Message.get_by_id(message.id).__data__ == {**dict.fromkeys(Message._meta.fields),
                                                      **message.__data__}


def test_a_kept_insert_of_many_rows_and_of_a_given_key(app):
    record = _record(1)
    account = Account.create(record=record, phone="+79160000001", email="a@example.com",
                             email_key="a@example.com", password_hash="x")
    KeptInsert(ConsentEvent).save_many([ConsentEvent(
        account=account, record=record, kind=kind, granted=kind != "marketing", document="d",
        version="1", text_sha256="0" * 64, label="l", channel="form", at=NOW)
        for kind in ("terms", "pd", "marketing")])
    assert [(e.kind, e.granted, e.account_id, e.at) for e in ConsentEvent.select().order_by(
        ConsentEvent.id)] == [("terms", True, account.id, NOW), ("pd", True, account.id, NOW),
                              ("marketing", False, account.id, NOW)]
    session = KeptInsert(WebSession).save(WebSession(
        id="k" * 64, public_id="pub", account=account, data="{}", created_at=NOW,
        last_seen_at=NOW))
    assert _stored(WebSession) == [{**dict.fromkeys(WebSession._meta.fields), **session.__data__}]


def test_a_kept_insert_of_more_rows_than_one_statement_may_carry(app, backend):
    """A batch of 100 e-mails is 1,500 values, over the 999 an SQLite older than 3.32 takes
    in a statement (a large ``DELIVERY_BATCH_SIZE`` goes over any): they go in several."""
    if backend is None:  # this machine's SQLite made as old as some distributions' still are
        database.connection().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    count = 65535 // len(KeptInsert(Message).fields) + 3 if backend else 100
    KeptInsert(Message).save_many([Message(channel="email", kind="invitation", to=f"p{n}@x.ru",
                                           text="t") for n in range(count)])
    assert Message.select().count() == count


def test_a_kept_in_list_of_any_length_changes_and_returns_what_the_query_would(app):
    ids = [Message.create(channel="sms", kind="code", to=f"+7916{n}", text="t").id
           for n in range(4)]
    claim = KeptIn(lambda items, owner, now: Message.update(claim=owner, sent_at=now).where(
        Message.id.in_(list(items)) & Message.claim.is_null()).returning(Message), 2)
    for chosen, owner in [(ids[1:2], "a"), (ids[:3], "b"), (ids, "c"), (ids[1:2], "d")]:
        expected = {i for i in chosen if Message.get_by_id(i).claim is None}
        claimed = claim.rows(chosen, owner, NOW)
        assert {m.id for m in claimed} == expected
        assert all(isinstance(m, Message) and m.claim == owner for m in claimed)
    assert [(Message.get_by_id(i).claim, Message.get_by_id(i).sent_at) for i in ids] == [
        ("b", NOW), ("a", NOW), ("b", NOW), ("c", NOW)]
    assert KeptIn(lambda items: Message.delete().where(Message.id.in_(list(items)))).run(
        ids[2:]).rowcount == 2


def _prepared_here():
    from regapp.db import database

    return [row[0] for row in database.execute_sql("SELECT name FROM pg_prepared_statements")]


@pytest.mark.postgres_only
def test_a_kept_statement_is_prepared_once_a_connection_on_postgresql(app):
    for n in range(3):
        _record(n)
    kept = Kept(lambda key: RosterRecord.select().where(RosterRecord.policy_key == key), 1)
    assert [[r.policy_key for r in kept.rows(f"p{n}")] for n in range(3)] == [["p0"], ["p1"],
                                                                               ["p2"]]
    assert _prepared_here().count(kept.name) == 1


@pytest.mark.postgres_only
def test_a_statement_prepared_as_it_first_fails_stays_prepared(app):  # issue 15
    from peewee import IntegrityError

    kept = Kept(lambda record_id, key: RosterRecord.insert(
        id=record_id, policy_number=key, policy_key=key, last_name="Иванов", first_name="Иван",
        name_key="иванов иван", birth_date=dt.date(1985, 2, 1)), 2)
    taken = _record(1).id
    with statements_sent() as sent, pytest.raises(IntegrityError):  # one round trip
        kept.run(taken, "p-new")
    assert len(sent) == 1 and sent[0].startswith(f"PREPARE {kept.name} AS INSERT")
    assert f"; EXECUTE {kept.name}(" in sent[0]
    assert _prepared_here().count(kept.name) == 1
    with statements_sent() as sent:  # the PREPARE may not have run: made again, surely
        kept.run(taken + 1, "p-new")
        kept.run(taken + 2, "p-newer")
    assert sent[0].startswith(f"DEALLOCATE ALL; PREPARE {kept.name} AS INSERT")
    assert sent[1].startswith(f"EXECUTE {kept.name}(")  # alone now
    assert RosterRecord.select().count() == 3


@pytest.mark.postgres_only
def test_a_prepare_that_itself_fails_is_not_taken_for_done(app, backend):  # issue 15
    """A PREPARE waits for the lock on its table like any statement, and may fail there (a
    migration's lock, a time limit): the name was taken for prepared all the same, and
    each later run on that connection failed («prepared statement … does not exist»)."""
    import psycopg2
    from peewee import OperationalError

    _record(1)
    kept = Kept(lambda key: RosterRecord.select().where(RosterRecord.policy_key == key), 1)
    database.execute_sql("SET lock_timeout = '200ms'")
    migration = psycopg2.connect(backend["database"])
    migration.cursor().execute('LOCK TABLE "roster_record" IN ACCESS EXCLUSIVE MODE')
    try:
        with pytest.raises(OperationalError, match="lock timeout"):
            kept.rows("p1")
    finally:
        migration.rollback()
        migration.close()
    assert kept.name not in _prepared_here()
    assert [r.policy_key for r in kept.rows("p1")] == ["p1"]  # prepared now, on the same one
    assert _prepared_here().count(kept.name) == 1


@pytest.mark.postgres_only
@pytest.mark.settings(DATABASE_PREPARE=False)
def test_nothing_is_prepared_when_the_setting_is_off(app):  # behind PgBouncer's transactions
    _record(1)
    kept = Kept(lambda key: RosterRecord.select().where(RosterRecord.policy_key == key), 1)
    assert [r.policy_key for r in kept.rows("p1")] == ["p1"]
    assert kept.name not in _prepared_here()


def test_only_sql_whose_placeholders_carry_over_is_prepared():
    assert _prepared_form("k", 'SELECT "a" FROM "t" WHERE "b" = %s AND "c" IN (%s, %s)', 3) == (
        'PREPARE k AS SELECT "a" FROM "t" WHERE "b" = $1 AND "c" IN ($2, $3)',
        "EXECUTE k(%s, %s, %s)")
    assert _prepared_form("k", 'SELECT 1 FROM "t"', 0) == ('PREPARE k AS SELECT 1 FROM "t"',
                                                           "EXECUTE k")
    assert _prepared_form("k", "SELECT \"a\" FROM \"t\" WHERE \"b\" LIKE '5%%' AND %s", 1) is None
    assert _prepared_form("k", 'SELECT %s', 2) is None


@pytest.mark.postgres_only
def test_a_kept_write_waits_for_the_commit_once_prepared_on_the_connection(app):  # issue 15
    for n in range(2):
        _record(n)
    rename = Kept(lambda name, key: RosterRecord.update(last_name=name).where(
        RosterRecord.policy_key == key), 2)

    with statements_sent() as sent:
        for name, key in (("Петров", "p0"), ("Сидоров", "p1")):
            with database.atomic():
                rename.run_later(name, key)
    first, second = sent
    assert first.startswith(f"PREPARE {rename.name} AS UPDATE")  # not yet prepared: sent now
    assert second.startswith("BEGIN; EXECUTE") and second.endswith("; COMMIT")  # waited
    assert [r.last_name for r in RosterRecord.select().order_by(RosterRecord.policy_key)] == [
        "Петров", "Сидоров"]


@pytest.mark.postgres_only
def test_a_prepare_goes_ahead_of_a_waiting_write_that_fails(app):  # issue 15
    from peewee import IntegrityError

    taken = _record(1)
    kept = Kept(lambda key: RosterRecord.select().where(RosterRecord.policy_key == key), 1)

    with statements_sent() as sent, pytest.raises(IntegrityError), database.atomic():
        database.obj.defer('INSERT INTO "roster_record" ("id") VALUES (%s)', (taken.id,))
        kept.rows("p1")
    assert sent[0].startswith(f"PREPARE {kept.name} AS SELECT") and "; BEGIN; INSERT" in sent[0]
    assert [r.policy_key for r in kept.rows("p1")] == ["p1"]  # prepared, though the rest failed
