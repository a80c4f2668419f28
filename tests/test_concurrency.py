"""Forty people registering ten at a time against `regapp run` on its embedded SQLite: all
of them succeed (issue 13, R29). Concurrent writers wait for the database's lock
(BEGIN IMMEDIATE, a busy timeout) instead of failing with «database is locked»."""

import re
import threading
import time

import pytest

from regapp.testing.peers import free_port
from tests.conftest import keep_in_suite_log
from tests.deployment import Deployment
from tests.helpers import GOOD, csrf
from tests.rosters import person, write_csv
from tests.test_instances import Browser

PEOPLE = 40
AT_ONCE = 10
pytestmark = pytest.mark.sqlite_only  # the embedded database is what this is about


@pytest.fixture
def portal(tmp_path, fake_esia_materials):
    port = free_port()
    deployment = Deployment(tmp_path, fake_esia_materials.folder, RATELIMIT_ENABLED="false",
                            PUBLIC_URL=f"http://127.0.0.1:{port}")
    rows = [person(f"P{n:03d}", last="Иванов", first="Иван", patronymic=_patronymic(n),
                   born="01.02.1985", phone=f"+7 916 500-{n:02d}-00",
                   email=f"p{n}@example.com") for n in range(PEOPLE)]
    deployment.regapp("init-db")
    deployment.regapp("roster", "import", write_csv(tmp_path / "roster.csv", rows))
    try:
        deployment.run(port)
        yield deployment, f"http://127.0.0.1:{port}"
    finally:
        deployment.stop()
        keep_in_suite_log(deployment.logs())


def _patronymic(n):
    names = ["Петрович", "Сергеевич", "Андреевич", "Олегович", "Павлович", "Юрьевич",
             "Игоревич", "Романович"]
    return f"{names[n % 8]}-{'абвгде'[n // 8]}"  # forty different people of one name


def register(base, outbox, n):
    browser = Browser()
    _, _, page = browser.get(base + "/register")
    phone = f"+7916500{n:02d}00"
    status, headers, body = browser.post(base + "/register", {
        "csrf_token": csrf(page), "last_name": "Иванов", "first_name": "Иван",
        "patronymic": _patronymic(n), "birth_date": "01.02.1985", "phone": phone,
        "email": f"p{n}@example.com", "password": GOOD, "confirmation": GOOD, "terms": "y",
        "pd": "y", "terms_version": "1", "pd_version": "1", "marketing_version": "1"})
    assert (status, headers.get("Location")) == (303, "/register/code"), (status, body[:300])
    code = _wait_for_code(outbox, phone)
    _, _, code_page = browser.get(base + "/register/code")
    status, headers, body = browser.post(base + "/register/code",
                                         {"csrf_token": csrf(code_page), "code": code})
    assert (status, headers.get("Location")) == (303, "/account"), (status, body[:300])
    return n


def _wait_for_code(outbox, phone, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in outbox():
            if message["to"] == phone:
                return re.search(r"\b(\d{6})\b", message["text"]).group(1)
        time.sleep(0.1)
    raise AssertionError(f"no code for {phone}")


def test_forty_people_registering_ten_at_a_time_all_succeed(portal):
    deployment, base = portal
    done, failures, lock = [], [], threading.Lock()
    pending = list(range(PEOPLE))

    def person_at_a_time():
        while True:
            with lock:
                if not pending:
                    return
                n = pending.pop()
            try:
                done.append(register(base, deployment.outbox, n))
            except Exception as exc:  # every failure is reported, none hidden
                failures.append(f"{n}: {exc}")

    threads = [threading.Thread(target=person_at_a_time) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == [] and sorted(done) == list(range(PEOPLE))
    assert "database is locked" not in deployment.logs()
