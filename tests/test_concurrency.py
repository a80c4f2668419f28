"""Forty people registering ten at a time against `regapp run` on its embedded SQLite: all
of them succeed (issue 13, R29). Concurrent writers wait for the database's lock
(BEGIN IMMEDIATE, a busy timeout) instead of failing with «database is locked»."""

import pytest

from regapp.testing.peers import free_port
from tests import crowd
from tests.conftest import keep_in_suite_log
from tests.deployment import Deployment
from tests.helpers import code_in

PEOPLE = 40
AT_ONCE = 10
pytestmark = pytest.mark.sqlite_only  # the embedded database is what this is about


@pytest.fixture
def portal(tmp_path, fake_esia_materials):
    port = free_port()
    deployment = Deployment(tmp_path, fake_esia_materials.folder, RATELIMIT_ENABLED="false",
                            PUBLIC_URL=f"http://127.0.0.1:{port}")
    deployment.load_roster(crowd.write_roster(tmp_path / "roster.csv", PEOPLE))
    try:
        deployment.run(port)
        yield deployment, f"http://127.0.0.1:{port}"
    finally:
        deployment.stop()
        keep_in_suite_log(deployment.logs())


def test_forty_people_registering_ten_at_a_time_all_succeed(portal):
    deployment, base = portal

    def register(n):
        browser = crowd.start(base, n)
        message = deployment.wait_for_message(crowd.phone(n), seconds=30)
        crowd.finish(browser, base, code_in(message["text"]))
        return n

    done, failures = crowd.at_once(register, range(PEOPLE), AT_ONCE)
    assert failures == [] and sorted(done) == list(range(PEOPLE))
    assert "database is locked" not in deployment.logs()
