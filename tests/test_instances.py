"""Several processes, no state in any of them (issue 11, R32): two gunicorn instances and
`regapp worker` on PostgreSQL and Redis, one registration whose requests alternate
between the instances, and a rate limit reached through one that holds on the other.
"""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from regapp.testing.peers import free_port
from tests.conftest import keep_in_suite_log
from tests.deployment import Deployment
from tests.helpers import GOOD, code_in, csrf

pytestmark = pytest.mark.slow  # two gunicorn instances, a worker and servers of their own


@pytest.fixture(scope="module")
def servers(request):
    """The pass's PostgreSQL and Redis, or servers of this module's own on the SQLite pass."""
    from tests.servers import postgres_server, redis_server

    if request.config.getoption("--backend") == "postgres":
        yield request.getfixturevalue("backend")
        return
    with postgres_server() as database, redis_server() as redis:
        yield {"database": database, "redis": redis}


@pytest.fixture
def two_instances(tmp_path, fake_esia_materials, servers):
    first, second = free_port(), free_port()
    deployment = Deployment(
        tmp_path, fake_esia_materials.folder, PUBLIC_URL=f"http://127.0.0.1:{first}",
        DATABASE=servers["database"], QUEUE=servers["redis"],
        RATELIMIT_STORAGE_URI=servers["redis"], METRICS_ENABLED="true")
    try:
        deployment.load_demo_roster()
        deployment.worker()
        deployment.gunicorn(first)
        deployment.gunicorn(second)
        yield deployment, (f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}")
    finally:
        deployment.stop()
        keep_in_suite_log(deployment.logs())


class Browser:
    """Cookies kept across both instances (a cookie does not care for the port)."""

    def __init__(self, timeout=15):
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirects())

    def get(self, url):
        return self._open(urllib.request.Request(url))

    def post(self, url, fields, headers=None):
        data = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(url, data=data, method="POST",
                                                 headers=headers or {}))

    def _open(self, request):
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read().decode()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def wait_for(outbox, to, count):
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [m for m in outbox() if m["to"] == to]
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.1)
    raise AssertionError(f"no message {count} to {to}: {outbox()}")


def test_a_registration_alternating_between_two_instances(two_instances):
    deployment, (a, b) = two_instances
    invitation = wait_for(deployment.outbox, "a.petrov@example.com", 1)["text"]
    link = re.search(r"http://\S+(/invite/\S+)", invitation).group(1)
    browser = Browser()

    status, _, page = browser.get(a + link)
    assert status == 200
    status, headers, _ = browser.post(b + link, {
        "csrf_token": csrf(page), "policy": "ДМС-2025-000101", "phone": "89161234567",
        "password": GOOD, "confirmation": GOOD, "terms": "y", "pd": "y",
        "terms_version": "1", "pd_version": "1", "marketing_version": "1"})
    assert (status, headers["Location"]) == (303, "/register/code")

    status, _, code_page = browser.get(a + "/register/code")  # the state is in the database
    assert status == 200 and "Код из СМС" in code_page
    code = code_in(wait_for(deployment.outbox, "+79161234567", 1)["text"])  # via the worker
    status, headers, _ = browser.post(b + "/register/code",
                                      {"csrf_token": csrf(code_page), "code": code})
    assert (status, headers["Location"]) == (303, "/account")
    status, _, account = browser.get(a + "/account")
    assert status == 200 and "Личный кабинет" in account and "Александр" in account

    _, _, metrics = browser.get(b + "/metrics")  # every worker of the instance, added up
    assert 'regapp_registrations_total{flow="link"} 1.0' in metrics
    assert 'regapp_queue_depth{channel="sms"}' in metrics


def test_a_rate_limit_reached_through_one_instance_holds_on_the_other(two_instances):
    _, (a, b) = two_instances
    browser = Browser()
    _, _, page = browser.get(a + "/login")
    wrong = {"csrf_token": csrf(page), "phone": "+7 903 000-00-01", "password": "not it"}
    statuses = [browser.post(a + "/login", wrong)[0] for _ in range(10)]  # 10 a minute a phone
    assert 429 not in statuses
    assert browser.post(b + "/login", wrong)[0] == 429
    status, _, body = browser.post(a + "/login", wrong)
    assert status == 429 and "Слишком много попыток" in body


def test_a_serving_process_puts_what_it_started_with_out_of_the_collectors_sight(
        monkeypatch, tmp_path):
    """Issue 15: a full garbage collection walked everything the app made at start, a
    pause of up to 120 ms for every thread of a gunicorn worker; each worker warms the app
    (its templates compiled) and freezes it once the app is loaded (``regapp run``, ``demo`` and ``worker`` alike), and its threads
    waiting for the GIL ask for it after 1 ms, not Python's 5."""
    import gc
    import runpy
    import sys
    import types

    from regapp import auth, create_app
    from tests.deployment import GUNICORN_CONF

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # the file makes none then
    hooks = runpy.run_path(str(GUNICORN_CONF))
    gc.unfreeze()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        app = create_app({"TESTING": True})
        auth.dummy_hash.cache_clear()
        worker = types.SimpleNamespace(wsgi=app, cfg=types.SimpleNamespace(threads=4))
        hooks["post_worker_init"](worker)
        assert gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == 0.001
        # warmed first: every template compiled, the unknown phone's hash made
        assert len(app.jinja_env.cache) == len(app.jinja_env.list_templates(("html", "txt")))
        assert auth.dummy_hash.cache_info().currsize == 1
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
