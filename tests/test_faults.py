"""Faults against the real process (issue 13, R26): `regapp run` killed with SIGKILL
between the form and the code, while the SMS gateway is down; after a restart nothing is
half made, the queued code goes out within seconds, and the person finishes with it."""

import time

import pytest

from regapp.testing.peers import free_port
from tests.conftest import keep_in_suite_log
from tests.deployment import Deployment
from tests.helpers import GOOD, code_in, csrf
from tests.test_instances import Browser

pytestmark = pytest.mark.sqlite_only  # the embedded queue and database


def test_killed_between_the_form_and_the_code_loses_nothing(tmp_path, fake_esia_materials):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    deployment = Deployment(tmp_path, fake_esia_materials.folder, PUBLIC_URL=base)
    try:
        deployment.load_demo_roster()
        first = deployment.run(port, FAKE_SMS_FAIL="true")  # the gateway is down
        invitation = next(m for m in deployment.outbox() if m["to"] == "a.petrov@example.com")
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

        started = time.monotonic()
        deployment.run(port)  # the gateway is back
        code = code_in(_wait_for(deployment, "+79161234567")["text"])
        assert time.monotonic() - started < 15  # at start, not at the next minute's sweep
        _, _, code_page = browser.get(base + "/register/code")  # the session survived
        status, headers, _ = browser.post(base + "/register/code",
                                          {"csrf_token": csrf(code_page), "code": code})
        assert (status, headers["Location"]) == (303, "/account")
        assert len([m for m in deployment.outbox() if m["to"] == "+79161234567"]) == 1  # once
    finally:
        deployment.stop()
        keep_in_suite_log(deployment.logs())


def _wait_for(deployment, to, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [m for m in deployment.outbox() if m["to"] == to]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"nothing to {to} in {seconds} s:\n{deployment.logs()[-3000:]}")
