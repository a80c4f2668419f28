"""A person at a browser: Debian's chromium driven by Playwright against a real portal process.

Each test gets its own ``regapp demo`` (a fresh instance folder, the demo roster, QA mode,
messages delivered in-process) on a free loopback port, and a browser page with JavaScript
on or off. Every page the walk passes is watched: no console error, no failed request, no
request to another origin. A failing walk leaves a screenshot and the page's HTML in
``test-artifacts/browser/`` and prints what the person saw.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from regapp.qa import outbox as outbox_file
from regapp.testing.peers import free_port
from tests.conftest import keep_in_suite_log
from tests.deployment import Process

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
#: the flags a root, offline, headless machine needs (no sandbox, no calls home)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
PHONE_SCREEN = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)


def chromium_path():
    """Debian's chromium (``REGAPP_CHROMIUM`` names another); never a downloaded build."""
    path = os.environ.get("REGAPP_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("No chromium: install Debian's package (apt-get install chromium); "
                    ".ci/run does it", pytrace=False)
    return path


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(),
                                              args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class OutboxReader:
    """What QA reads from a portal's outbox (``messages()``, oldest first)."""

    def messages(self):
        raise NotImplementedError

    def wait_for_message(self, to, after=0, seconds=15):
        """The first message to ``to`` beyond the ``after`` already there (delivery is queued)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [m for m in self.messages() if m["to"] == to]
            if len(found) > after:
                return found[after]
            time.sleep(0.1)
        raise AssertionError(f"no message to {to} within {seconds} s: {self.messages()}")

    def code_sent_to(self, to, after=0):
        text = self.wait_for_message(to, after)["text"]
        codes = set(re.findall(r"(?<!\d)\d{6}(?!\d)", text))
        assert len(codes) == 1, text
        return codes.pop()

    def link_sent_to(self, to, path_start, after=0):
        """The portal's link in the message to ``to``, as a path the browser can open."""
        text = self.wait_for_message(to, after)["text"]
        for url in re.findall(r"https?://\S+", text):
            if urlsplit(url).path.startswith(path_start):
                return urlsplit(url).path
        raise AssertionError(f"no {path_start} link in: {text}")


class Portal(OutboxReader):
    """A ``regapp demo`` process of its own, and what QA reads from its outbox."""

    def __init__(self, folder, esia_materials, servers=None, settings=None):
        self.instance = folder / "instance"
        shutil.copytree(esia_materials, self.instance / "fake-esia")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "REGAPP_INSTANCE_PATH": str(self.instance),
               **{f"REGAPP_{name}": str(value) for name, value in (settings or {}).items()}}
        if servers:  # the PostgreSQL + Redis pass: the demo's data and limits live there
            env.update(REGAPP_DATABASE=servers["database"],
                       REGAPP_RATELIMIT_STORAGE_URI=servers["redis"])
        self.database = env.get("REGAPP_DATABASE") or f"sqlite:///{self.instance / 'regapp.db'}"
        self.process = Process("portal", [_regapp_command(), "demo", "--port", str(self.port)],
                               env, folder)
        try:
            self.process.wait_for(self.base + "/healthz")
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)

    def output(self):
        return self.process.output()

    def stop(self):
        self.process.stop()

    def add_account(self, phone, password):
        """An account made a while ago for the roster record with ``phone`` (set-up, not a walk)."""
        from regapp import db, passwords
        from regapp.models import Account, RosterRecord

        with db.bind(self.database).connection_context():
            record = RosterRecord.get(RosterRecord.phone == phone)
            Account.create(record=record, phone=phone, email=record.email,
                           email_key=record.email.lower(), email_confirmed=True,
                           password_hash=passwords.hash_password(password))

    def messages(self):
        return outbox_file.read(self.instance / "outbox.jsonl", newest_first=False)


def _regapp_command():
    beside = Path(sys.executable).with_name("regapp")
    found = str(beside) if beside.exists() else shutil.which("regapp")
    if not found:
        pytest.fail("the regapp command is not installed (pip install -e .)", pytrace=False)
    return found


@pytest.fixture
def portal(request, tmp_path, fake_esia_materials, backend):
    """The demo; a walk's ``@pytest.mark.settings(...)`` sets its settings."""
    marker = request.node.get_closest_marker("settings")
    served = Portal(tmp_path, fake_esia_materials.folder, backend,
                    marker.kwargs if marker else None)
    yield served
    served.stop()
    # the demo's list of its fictional people is its screen, not a log line
    keep_in_suite_log("\n".join(line for line in served.output().splitlines()
                                 if not line.startswith("  ДМС-")))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class Watch:
    """What a person must never meet: console errors, failed requests, other origins."""

    def __init__(self, page, base):
        self.problems, self.expected, self.downloads = [], set(), []
        self.origin = urlsplit(base).netloc
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("request", self._request)
        page.on("response", self._response)

    def expect_download(self, url_part):
        """A file download: Chromium ends its request as aborted (no page came of it)."""
        self.downloads.append(url_part)

    def expect_status(self, status):
        """A walk that provokes an error answer on purpose (a stale page) says so."""
        self.expected.add(status)

    def _console(self, message):
        expected = any(f"status of {status}" in message.text  # Chromium
                       or f"Error Code {status} " in message.text for status in self.expected)  # htmx
        if message.type == "error" and not expected:
            self.problems.append(f"console error: {message.text}")

    def _failed(self, request):
        # the browser drops an icon, a script or style sheet, or a background poll, still
        # loading when the page moves on (a walk's next goto, once CI was slow): nothing is lost
        background = ("/favicon.svg", "/register/code/delivery")
        if request.failure == "net::ERR_ABORTED" and (
                request.url.endswith(background) or "/static/" in request.url
                or any(d in request.url for d in self.downloads)):
            return
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def _request(self, request):
        if urlsplit(request.url).netloc != self.origin:
            self.problems.append(f"request to another origin: {request.url}")

    def _response(self, response):
        if response.status >= 400 and response.status not in self.expected:
            self.problems.append(f"{response.status} for {response.request.method} {response.url}")


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def page(request, browser, portal):
    """A phone-sized page on the portal, JavaScript on or off; checked when the walk ends."""
    context, tab, watch = open_page(browser, portal.base, request.param)
    yield tab
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        _leave_evidence(request.node, tab, portal)
    context.close()
    assert not watch.problems, "\n".join(watch.problems)


def open_page(browser, base, js=True, **options):
    """A phone-sized browser tab on ``base`` and the watch on what it meets."""
    context = browser.new_context(java_script_enabled=js, base_url=base, locale="ru-RU",
                                  viewport=PHONE_SCREEN, ignore_https_errors=True, **options)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.js = js
    tab.watch = Watch(tab, base)
    return context, tab, tab.watch


def _leave_evidence(node, tab, portal):
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", node.nodeid)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        tab.screenshot(path=str(folder / "screenshot.png"), full_page=True)
        (folder / "page.html").write_text(tab.content(), encoding="utf-8")
        seen = tab.locator("body").inner_text()
    except Exception as exc:  # the page may be gone; say so rather than hide the failure
        seen = f"(could not read the page: {exc})"
    (folder / "portal.log").write_text(portal.output(), encoding="utf-8")
    print(f"\n--- what the person saw at {tab.url} (saved in {folder}) ---\n{seen}\n")
