"""A person's messages are found by index (issue 15): the code page and the worker look up a
person's newest code twice a registration, and a scan of every message ever sent grows with
each invitation and code."""

import datetime as dt

import pytest

from regapp import messaging, migrations
from regapp.db import database
from regapp.models import Message, SchemaVersion

INDEX = "message_to_kind_created_at"


def _indexes():
    return {index.name: index.columns for index in database.get_indexes("message")}


def test_a_database_of_the_last_release_gets_the_index(app):
    database.execute_sql(f'DROP INDEX "{INDEX}"')
    SchemaVersion.update(version=14).execute()
    assert INDEX not in _indexes()
    assert migrations.apply(database) >= 15
    assert _indexes()[INDEX] == ["to", "kind", "created_at"]


@pytest.mark.sqlite_only
def test_the_newest_code_is_looked_up_by_the_index_not_by_a_scan(app):
    now = dt.datetime(2026, 11, 27, 9, 0)
    Message.create(channel="sms", kind="code", to="+79160000001", text="t", created_at=now)
    # the code page's look-up, and the claim's test for a newer code (its subquery)
    for kept, values in [(messaging._NEWEST_CODE, ["+79160000001"]),
                         (messaging._CLAIM, [[1], "claim", now, now])]:
        sql, params = kept.build(*values).sql()  # the kept statement, values in place
        plan = " ".join(str(row) for row in database.execute_sql(
            f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
        assert f"USING INDEX {INDEX}" in plan or f"USING COVERING INDEX {INDEX}" in plan, plan
