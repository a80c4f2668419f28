"""Faults against the real process (issue 13, R26), with a real HTTP gateway on loopback:
`regapp run` killed with SIGKILL between the form and the code and while a code is being
handed over, the gateway down for a minute, a roster import killed. Nothing is half made or
lost, codes go out once within seconds, and people finish."""

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from regapp.testing.http import RecordingGateway
from regapp.testing.peers import free_port
from tests import crowd
from tests.conftest import keep_in_suite_log
from tests.deployment import Deployment
from tests.helpers import GOOD, code_in, csrf
from tests.test_instances import Browser

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # the embedded queue and database


def test_killed_between_the_form_and_the_code_loses_nothing(tmp_path, fake_esia_materials):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    deployment = Deployment(tmp_path, fake_esia_materials.folder, PUBLIC_URL=base)
    try:
        deployment.load_demo_roster()
        first = deployment.run(port, FAKE_SMS_FAIL="true")  # the gateway is down
        invitation = deployment.wait_for_message("a.petrov@example.com")  # delivery is queued
        link = invitation["text"].split(base, 1)[1].split()[0]
        browser = Browser()
        _, _, page = browser.get(base + link)
        status, headers, _ = browser.post(base + link, {
            "csrf_token": csrf(page), "policy": "ДМС-2025-000101", "phone": "89161234567",
            "password": GOOD, "confirmation": GOOD, "terms": "y", "pd": "y",
            "terms_version": "1", "pd_version": "1", "marketing_version": "1"})
        assert (status, headers["Location"]) == (303, "/register/code")
        assert not [m for m in deployment.outbox() if m["to"] == "+79161234567"]
        first.kill()

        deployment.run(port)  # the gateway is back
        started = time.monotonic()  # once it answers: its start-up is slow on busy cores
        code = code_in(deployment.wait_for_message("+79161234567")["text"])
        assert time.monotonic() - started < 15  # at start, not at the next minute's sweep
        _, _, code_page = browser.get(base + "/register/code")  # the session survived
        status, headers, _ = browser.post(base + "/register/code",
                                          {"csrf_token": csrf(code_page), "code": code})
        assert (status, headers["Location"]) == (303, "/account")
        assert len([m for m in deployment.outbox() if m["to"] == "+79161234567"]) == 1  # once
    finally:
        deployment.stop()
        keep_in_suite_log(deployment.logs())


OUTAGE = 60  # seconds the SMS gateway is down (issue 13)
DURING_OUTAGE = 8  # people who register meanwhile


def test_a_gateway_down_for_a_minute_delays_codes_not_registrations(tmp_path,
                                                                    fake_esia_materials):
    """Every code asked for while the gateway answers 503 goes out once, seconds after it is
    back; the code page says the SMS is late meanwhile; everybody finishes."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with RecordingGateway(default_status=503) as gateway:
        deployment = Deployment(tmp_path, fake_esia_materials.folder, PUBLIC_URL=base,
                                RATELIMIT_ENABLED="false", SMS_GATEWAY="http",
                                SMS_HTTP_URL=gateway.url)
        try:
            deployment.load_roster(crowd.write_roster(tmp_path / "roster.csv", DURING_OUTAGE))
            deployment.run(port)
            down_since = time.monotonic()
            browsers = {}
            for n in range(DURING_OUTAGE):
                browsers[n] = crowd.start(base, n)
                time.sleep(OUTAGE / 2 / DURING_OUTAGE)  # they come over the first half
            _, _, late = browsers[0].get(base + "/register/code")
            assert "СМС задерживается" in late
            time.sleep(max(0, OUTAGE - (time.monotonic() - down_since)))
            assert not _delivered(gateway)  # nothing got through the outage
            gateway.default_status = 200
            back = time.monotonic()
            for n, browser in browsers.items():
                crowd.finish(browser, base, code_in(_wait_for_sms(gateway, crowd.phone(n))))
            assert time.monotonic() - back < 15  # seconds after recovery, not minutes
            delivered = _delivered(gateway)
            assert sorted(delivered) == sorted(crowd.phone(n) for n in browsers)  # once each
        finally:
            deployment.stop()
            keep_in_suite_log(deployment.logs())


def test_killed_while_handing_a_code_to_the_gateway(tmp_path, fake_esia_materials):
    """SIGKILL while the gateway holds the request: after a restart the code is handed over
    again within seconds, with the same Idempotency-Key, so a gateway that de-duplicates
    sends it once; the person finishes with it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with RecordingGateway(delay=30) as gateway:  # slow: the app is killed while it waits
        deployment = Deployment(tmp_path, fake_esia_materials.folder, PUBLIC_URL=base,
                                SMS_GATEWAY="http", SMS_HTTP_URL=gateway.url,
                                SMS_HTTP_TIMEOUT=60)
        try:
            deployment.load_roster(crowd.write_roster(tmp_path / "r.csv", 1))
            first = deployment.run(port)
            browser = crowd.start(base, 0)
            _wait_until(lambda: gateway.requests, "the gateway never got the code")
            first.kill()
            gateway.delay = 0
            deployment.run(port)
            started = time.monotonic()  # once it answers, as above
            _wait_until(lambda: len(gateway.requests) > 1, "the code was not handed over again",
                        seconds=30)
            assert time.monotonic() - started < 20  # once the dead process's lease ran out
            keys = {r["headers"]["Idempotency-Key"] for r in gateway.requests}
            texts = {r["body"]["text"] for r in gateway.requests}
            assert len(keys) == 1 and len(texts) == 1  # the same message, not a second code
            crowd.finish(browser, base, code_in(texts.pop()))
            time.sleep(2)
            assert len(gateway.requests) == 2  # and not a third time
        finally:
            deployment.stop()
            keep_in_suite_log(deployment.logs())


def _delivered(gateway):
    """Phones a de-duplicating gateway has sent to: one per accepted Idempotency-Key."""
    accepted = {r["headers"]["Idempotency-Key"]: r["body"]["to"]
                for r in gateway.requests if r["status"] < 300}
    return list(accepted.values())


def _wait_for_sms(gateway, to, seconds=15):
    _wait_until(lambda: [r for r in gateway.requests
                         if r["body"]["to"] == to and r["status"] < 300],
                f"nothing accepted for {to}", seconds)
    return next(r["body"]["text"] for r in gateway.requests
                if r["body"]["to"] == to and r["status"] < 300)


def _wait_until(condition, failure, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(failure)


def test_a_roster_import_killed_halfway_changes_nothing(tmp_path, fake_esia_materials):
    """SIGKILL in the middle of a large import: the database holds the old roster, whole;
    running the import again completes it."""
    deployment = Deployment(tmp_path, fake_esia_materials.folder)
    deployment.load_roster(crowd.write_roster(tmp_path / "old.csv", 3))
    database = deployment.instance / "regapp.db"
    before = _roster(database)
    big = crowd.write_roster(tmp_path / "new.csv", 40_000)
    importing = deployment.start("roster", "import", big)
    _wait_until(lambda: "прочитано строк: 20 000" in importing.output(),
                "the import never got halfway", seconds=60)
    assert importing.process.poll() is None  # caught halfway: it commits after the last row
    helpers = _descendants(importing.process.pid)
    assert len(helpers) >= 3, "rows are checked in worker processes (issue 15)"
    importing.kill()
    assert _roster(database) == before
    _wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in helpers),
                "the killed import's worker processes live on", seconds=10)
    deployment.regapp("roster", "import", big)
    after = _roster(database)
    assert len(after) == 40_000 and set(before) <= set(after)


def _descendants(pid):
    """Every process under ``pid`` (its worker processes, and theirs), read from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _roster(database):
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute(
            "SELECT policy_key, phone, email FROM roster_record ORDER BY policy_key").fetchall()


def test_redis_gone_for_a_while_refuses_nobody_and_loses_no_code(tmp_path, fake_esia_materials):
    """Redis (the queue and the rate limits of a deployment on several processes) stops,
    and the worker is restarted meanwhile; people go on registering: their forms are
    answered, the limits counted in each process meanwhile, their codes wait in the
    database. Redis comes back empty (restarted with nothing saved): the worker sweeps at
    once and sends every code once, and they finish. Before, each of their forms ended in
    a 500, a worker started without Redis exited, and the codes waited for the minute."""
    from tests.servers import redis_server

    port, redis_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    with contextlib.ExitStack() as redis:
        url = redis.enter_context(redis_server(redis_port))
        deployment = Deployment(tmp_path, fake_esia_materials.folder, PUBLIC_URL=base,
                                QUEUE=url, RATELIMIT_STORAGE_URI=url)
        try:
            deployment.load_roster(crowd.write_roster(tmp_path / "roster.csv", 3))
            deployment.gunicorn(port)
            worker = deployment.worker()
            browsers = {0: crowd.start(base, 0, inline_check=True)}
            crowd.finish(browsers[0], base,
                         code_in(deployment.wait_for_message(crowd.phone(0))["text"]))
            redis.close()  # Redis stops
            worker.kill()
            worker = deployment.worker()  # (re)started meanwhile: it waits (it exited)
            browsers.update({n: crowd.start(base, n, inline_check=True) for n in (1, 2)})
            assert browsers[1].get(base + "/register/code")[0] == 200
            assert not [m for m in deployment.outbox() if m["to"] != crowd.phone(0)
                        and m["to"].startswith("+")]
            _wait_until(lambda: "the queue does not answer" in worker.output()
                        or worker.process.poll() is not None,
                        "the worker never said the queue was down", seconds=30)
            assert worker.process.poll() is None, worker.output()[-2000:]
            redis.enter_context(redis_server(redis_port))  # back, empty
            back = time.monotonic()
            for n in (1, 2):  # the worker sweeps as soon as it reads the queue again
                message = deployment.wait_for_message(crowd.phone(n), seconds=90)
                crowd.finish(browsers[n], base, code_in(message["text"]))
            assert time.monotonic() - back < 15  # seconds, not the next minute's sweep
            sms = [m["to"] for m in deployment.outbox() if m["to"].startswith("+")]
            assert sorted(sms) == sorted(crowd.phone(n) for n in range(3))  # once each
            logs = deployment.logs()
            assert "Exception on" not in logs  # Flask's line for a 500
            assert "Traceback" not in logs  # huey's, a second each («Error reading…»)
        finally:
            deployment.stop()
            keep_in_suite_log(deployment.logs())
