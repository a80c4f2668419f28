"""The peer (issue 15): Flask-Security-Too's sign-up, measured as regapp's registrations are.

A minimal app of our own on Flask-Security-Too 5.9.2 (its models for Flask-SQLAlchemy,
on SQLite or on PostgreSQL as regapp's run beside it): e-mail confirmation off, argon2id with regapp's parameters (t=3, m=64 MiB,
p=4), zxcvbn on, CSRF on. It runs under gunicorn as regapp does (gthread, the same
workers and threads) and the same 50 clients sign up through it: GET the form, POST it.
Flask-Security-Too pins its own Flask stack, so it lives in a virtualenv of its own
(``.bench/fst``, made on first use); this module is both the app (imported there) and
the runner (imported by ``python -m bench``).
"""

import contextlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.venvs import ensure_venv

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["Flask-Security-Too[fsqla]==5.9.2", "argon2-cffi", "zxcvbn", "gunicorn",
            "psycopg2-binary"]
#: passlib's names for the argon2id parameters argon2-cffi's PasswordHasher() uses in regapp
ARGON2 = {"argon2__type": "ID", "argon2__time_cost": 3, "argon2__memory_cost": 65536,
          "argon2__parallelism": 4}
#: argon2id at its least cost, as bench.beside.least_cost_hasher() gives regapp
LEAST_ARGON2 = {"argon2__type": "ID", "argon2__time_cost": 1, "argon2__memory_cost": 8,
                "argon2__parallelism": 1}


def create_app():
    """The peer app (run in its own virtualenv, by gunicorn)."""
    from flask import Flask
    from flask_security import Security, SQLAlchemyUserDatastore
    from flask_security.models import fsqla_v3 as fsqla
    from flask_sqlalchemy import SQLAlchemy

    app = Flask("peer")
    app.config.update(
        SECRET_KEY="bench", SECURITY_PASSWORD_SALT="bench-salt",
        SQLALCHEMY_DATABASE_URI=os.environ["PEER_DATABASE"],
        SECURITY_REGISTERABLE=True, SECURITY_SEND_REGISTER_EMAIL=False,
        SECURITY_CONFIRMABLE=False, SECURITY_PASSWORD_HASH="argon2",
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS=LEAST_ARGON2 if os.environ.get(
            "PEER_LEAST_HASH") else ARGON2,
        SECURITY_PASSWORD_COMPLEXITY_CHECKER="zxcvbn", SECURITY_ZXCVBN_MINIMUM_SCORE=3,
        # no DNS lookups, as regapp checks addresses (a closed network answers none)
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False})
    db = SQLAlchemy(app)
    fsqla.FsModels.set_db_info(db)

    class Role(db.Model, fsqla.FsRoleMixin):
        pass

    class User(db.Model, fsqla.FsUserMixin):
        pass

    Security(app, SQLAlchemyUserDatastore(db, User, Role))
    with app.app_context():
        db.create_all()
    return app


@contextlib.contextmanager
def serve(port, workers, database, threads=4, least_hash=False):
    """gunicorn with the peer app on ``port`` and SQLAlchemy's ``database`` URL, as
    regapp's deployment runs (gthread, ``threads`` a worker); ``least_hash``: argon2id at
    its least cost (:mod:`bench.beside`)."""
    from bench.load import wait_until_quiet

    binaries = ensure_venv("fst", PACKAGES)
    folder = Path(tempfile.mkdtemp(prefix="regapp-peer-"))
    env = {**os.environ, "PEER_DATABASE": database, "PYTHONPATH": str(ROOT),
           "PEER_LEAST_HASH": "1" if least_hash else ""}
    subprocess.run([str(binaries / "python"), "-c", "from bench.peer_fst import create_app; "
                    "create_app()"], env=env, check=True)  # the tables, before the workers
    log = open(folder / "gunicorn.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [str(binaries / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--worker-class", "gthread", "--threads", str(threads), "bench.peer_fst:create_app()"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(f"http://127.0.0.1:{port}/register", server, folder / "gunicorn.log")
        wait_until_quiet()  # every worker started, as regapp's load waits for its own
        yield
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def _wait_for(url, server, log, seconds=60):
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the peer did not start:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2)
            return
        time.sleep(0.2)
    raise SystemExit(f"the peer never answered {url}")


def sign_up(base, n, timeout=120):
    """Person ``n`` signs up: GET the form, POST it; the app signs them in and redirects.
    One kept-alive connection, as regapp's load run uses."""
    from tests.crowd import KeptAlive
    from tests.helpers import GOOD, csrf

    browser = KeptAlive(base, timeout)
    _, _, page = browser.get(base + "/register")
    status, headers, body = browser.post(base + "/register", {
        "csrf_token": csrf(page), "email": f"p{n}@example.com", "password": GOOD,
        "password_confirm": GOOD})
    assert status in (302, 303), (n, status, body[:300])
    return n


def run(people, clients, workers, backend="sqlite", threads=4, watch=None, least_hash=False):
    """{"done", "per_second", "errors", "users", "hash"} for ``people`` sign-ups,
    ``clients`` at once, on SQLite or on PostgreSQL (a cluster of its own, durable as
    regapp's load's), ``workers`` gunicorn workers of ``threads`` threads as regapp's load
    runs; ``watch`` and ``least_hash`` as :func:`bench.load.run` takes them."""
    from bench.load import steady_rate
    from regapp.testing.peers import free_port
    from tests import crowd

    port = free_port()
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            from tests.servers import postgres_server
            url = stack.enter_context(postgres_server(durable=True))
            database, connect = url.replace("postgresql://", "postgresql+psycopg2://"), url
        else:
            path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "peer.db"
            database, connect = f"sqlite:///{path}", path
        stack.enter_context(serve(port, workers, database, threads, least_hash))
        base = f"http://127.0.0.1:{port}"
        finished = []

        def one(n):
            sign_up(base, n)
            finished.append(time.monotonic())
            return n

        started = time.monotonic()
        with (watch or contextlib.nullcontext)():
            done, failures = crowd.at_once(one, range(people), clients, crowd.RAMP_UP)
        wall = time.monotonic() - started
        users, sample = _users(backend, connect)
    return {"done": len(done), "per_second": len(done) / wall, "errors": len(failures), "users": users,
            "hash": sample, "failures": failures[:5], "steady": steady_rate(finished)}


def _users(backend, connect):
    """(how many users, one's password hash) as the peer's database holds them."""
    if backend == "postgres":
        import psycopg2 as driver
    else:
        import sqlite3 as driver
    with contextlib.closing(driver.connect(connect)) as connection:
        cursor = connection.cursor()
        cursor.execute('SELECT count(*), max(password) FROM "user"')
        return cursor.fetchone()
