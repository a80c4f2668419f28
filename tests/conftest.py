"""Fixtures: an app on a temporary instance folder, its client and CLI runner."""

import contextvars
import logging
import os
import re
from pathlib import Path

import hypothesis
import pytest
from flask.testing import FlaskClient

from regapp import create_app, migrations
from regapp.db import database
from tests.helpers import GOOD, Auth, code_in

BASE_SETTINGS = {
    "TESTING": True,
    "QUEUE": "immediate",  # delivery runs in the calling thread
    "QA_MODE": True,
    "PUBLIC_URL": "https://regapp.example.com",
}


# hypothesis (issue 13): bounded and repeatable in CI, long under `tox -e soak`; the
# examples share one app per test, which is the point (state must not drift)
_PROFILE = {"deadline": None, "suppress_health_check": [
    hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow]}
hypothesis.settings.register_profile("ci", max_examples=60, derandomize=True, **_PROFILE)
hypothesis.settings.register_profile("soak", max_examples=2000, **_PROFILE)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

def pytest_addoption(parser):
    parser.addoption("--backend", choices=("sqlite", "postgres"), default="sqlite",
                     help="postgres: run on PostgreSQL and Redis started from the machine's "
                          "binaries (R32); sqlite: the embedded defaults")


def pytest_configure(config):
    config.addinivalue_line("markers", "settings(**kw): settings for the app fixture")
    config.addinivalue_line("markers", "sqlite_only: about SQLite or the embedded demo; "
                                       "runs in the SQLite pass")
    config.addinivalue_line("markers", "postgres_only: about PostgreSQL's own code path; "
                                       "runs in the PostgreSQL pass")
    config.addinivalue_line("markers", "real_hash: about the app's argon2id parameters; "
                                       "hashes with them in the suite's own process")


def pytest_collection_modifyitems(config, items):
    other, reason = (("sqlite_only", "SQLite-specific: the SQLite pass runs it")
                     if config.getoption("--backend") == "postgres" else
                     ("postgres_only", "PostgreSQL-specific: the PostgreSQL pass runs it"))
    for item in items:
        if item.get_closest_marker(other):
            item.add_marker(pytest.mark.skip(reason=reason))
    # the long ones first: under pytest-xdist the other workers share out the rest meanwhile,
    # instead of one worker starting a minute-long fault test when the rest are done
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: a worker a core this process may use, no more. The servers a test starts
    hash at SCHED_IDLE (regapp.priority), as deployed: with more workers than cores, the
    others' tests kept every core busy and a registration's hash waited past the tests'
    timeouts."""
    return len(os.sched_getaffinity(0))


@pytest.fixture(scope="session", autouse=True)
def backend(request):
    """The servers of the PostgreSQL + Redis pass, or None on the embedded defaults."""
    if request.config.getoption("--backend") != "postgres":
        yield None
        return
    from tests.servers import postgres_server, redis_server

    saved = dict(BASE_SETTINGS)
    with postgres_server() as database_url, redis_server() as redis_url:
        BASE_SETTINGS.update(DATABASE=database_url, RATELIMIT_STORAGE_URI=redis_url)
        yield {"database": database_url, "redis": redis_url}
    BASE_SETTINGS.clear()
    BASE_SETTINGS.update(saved)


@pytest.fixture(autouse=True)
def _fresh_servers(backend):
    """Each test starts on empty tables and empty limit counters, as it does on SQLite."""
    if backend:
        from tests.servers import empty_postgres, empty_redis

        empty_postgres(backend["database"])
        empty_redis(backend["redis"])


@pytest.fixture(autouse=True)
def _argon2id_at_least_cost(request, monkeypatch):
    """argon2id at its least cost in the suite's own process: at the app's 64 MiB, the
    400-odd hashes and checks of a pass took a sixth of its time on a slow day (80 s). The
    tests about the parameters (``real_hash``) keep them, and every process the suite
    starts (the browser walks' ``regapp demo``, gunicorn, the fault tests) hashes with them."""
    if not request.node.get_closest_marker("real_hash"):
        from argon2 import PasswordHasher

        from regapp import passwords

        monkeypatch.setattr(passwords, "_hasher", PasswordHasher(
            time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def fake_esia_materials(tmp_path_factory):
    """The fake ESIA's key pairs, made once: key generation is slow in pure Python."""
    from regapp.qa.fake_esia import ensure_materials

    return ensure_materials(tmp_path_factory.mktemp("fake-esia"))


@pytest.fixture
def app(tmp_path, monkeypatch, request, fake_esia_materials):
    """An app with its own instance folder, schema created, app context pushed."""
    import shutil

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path / "instance"))
    shutil.copytree(fake_esia_materials.folder, tmp_path / "instance" / "fake-esia")
    marker = request.node.get_closest_marker("settings")
    settings = {**BASE_SETTINGS, **(marker.kwargs if marker else {})}
    app = create_app(settings, plugins=getattr(request, "param", ()))
    app.test_client_class = IsolatedClient
    with app.app_context():
        migrations.upgrade()
        yield app
    if not database.is_closed():
        database.close()
    database.close_all()  # the pool's idle connections too: a test leaves no session open


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (and ``g``), as it does in production.

    The ``app`` fixture keeps a context pushed for the domain calls tests make;
    without this, requests would reuse it and share ``g`` with each other.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    """Run a ``regapp`` command against the test app: ``cli("roster", "import", path)``."""
    from regapp.cli import main

    runner = app.test_cli_runner(mix_stderr=False) if _has_mix_stderr() else app.test_cli_runner()
    return lambda *args: runner.invoke(main, args=list(args))


def _has_mix_stderr():
    import inspect

    from click.testing import CliRunner

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


@pytest.fixture
def outbox(app):
    """The QA outbox entries, oldest first."""
    from regapp.qa import outbox as outbox_file

    return lambda: outbox_file.read(app.config["OUTBOX_PATH"], newest_first=False)


@pytest.fixture
def last_code(outbox):
    """The one-time code in the newest message of the outbox: ``last_code()``."""
    return lambda: code_in(outbox()[-1]["text"])


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def account(app, tmp_path):
    """Петров's account (password GOOD, e-mail confirmed) on a one-person roster."""
    from regapp import passwords
    from regapp.models import Account, RosterRecord
    from regapp.roster import import_roster
    from tests.rosters import person, write_csv

    import_roster(app.extensions["regapp.adapters"].roster_source("csv"), write_csv(
        tmp_path / "r.csv", [person("P1", last="Петров", first="Александр", patronymic="Иванович",
                                    phone="+7 916 123-45-67", email="a.petrov@example.com",
                                    employer="ООО «Ромашка»")]))
    return Account.create(record=RosterRecord.get(), phone="+79161234567",
                          email="a.petrov@example.com", email_key="a.petrov@example.com",
                          email_confirmed=True, password_hash=passwords.hash_password(GOOD))


@pytest.fixture
def signed_in(client, auth, account):
    """A client signed in to ``account``."""
    assert auth.login().headers["Location"] == "/account"
    return client


# -- the log of the whole suite: nothing secret may be in it (issue 11) -----------------

SUITE_LOGS = Path(__file__).resolve().parents[1] / "test-artifacts"
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1… under pytest-xdist
#: this process's part of the suite's log: each pytest-xdist worker writes its own
SUITE_LOG = SUITE_LOGS / (f"suite-{_WORKER}.log" if _WORKER else "suite.log")
#: what a log line must never hold: a full phone, a code said to be one, a link token,
#: the tests' passwords
LEAKS = re.compile(r"(?<![\w+])(?:\+7|8)[\s(-]*9\d\d[\s)-]*\d{3}[\s-]*\d\d[\s-]*\d\d(?!\d)"
                   r"|код\D{0,20}\d{6}|\d{6}\s*—\s*код|#\d{6}\b|/(?:invite|email/confirm)/[A-Za-z0-9_-]{20,}"
                   r"|correct horse battery staple|violet umbrella tango", re.IGNORECASE)


def pytest_sessionstart(session):
    SUITE_LOG.parent.mkdir(parents=True, exist_ok=True)
    if not _WORKER:  # the last run's parts go before any worker writes its own
        for stale in SUITE_LOGS.glob("suite*.log"):
            stale.unlink()
    handler = logging.FileHandler(SUITE_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.set_name("suite-log")
    logging.getLogger().addHandler(handler)


def keep_in_suite_log(text):
    """Add a server process's own log to the suite's, for the leak check."""
    with open(SUITE_LOG, "a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")


def pytest_sessionfinish(session, exitstatus):
    for handler in logging.getLogger().handlers:
        if handler.get_name() == "suite-log":
            handler.close()
    if _WORKER:  # the controller reads every worker's part once they have all ended
        return
    leaks = [f"{log.name}: {line}" for log in sorted(SUITE_LOGS.glob("suite*.log"))
             for line in log.read_text(encoding="utf-8").splitlines() if LEAKS.search(line)]
    if leaks:
        print(f"\n{len(leaks)} log line(s) hold a secret (phone, code, token or password), "
              f"in {SUITE_LOGS}:\n" + "\n".join(leaks[:20]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
