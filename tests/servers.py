"""Real PostgreSQL and Redis servers for the tests, started from the machine's binaries.

PostgreSQL refuses to run as root: as root, the cluster is made and run as the
``postgres`` user (Debian's packages create it), in a folder of its own under /tmp.
Either server that cannot start fails the test run loudly, saying why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from regapp.testing.peers import free_port


class ServerDidNotStart(RuntimeError):
    pass


def _pg_bindir():
    try:
        return Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                   check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ServerDidNotStart(f"no PostgreSQL binaries (pg_config --bindir): {exc}") from None


def _as_unprivileged():
    """Run as ``postgres`` when we are root (PostgreSQL will not run as root)."""
    if os.getuid() != 0:
        return {}, None
    user = pwd.getpwnam("postgres")

    def demote():
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return {"preexec_fn": demote}, user


@contextlib.contextmanager
def postgres_server(durable=False):
    """Yield the URL of a fresh PostgreSQL cluster on a loopback port, trusted; fsync off
    for the tests' speed unless ``durable`` (the load run measures it as deployed)."""
    bindir = _pg_bindir()
    folder = Path(tempfile.mkdtemp(prefix="regapp-pg-"))
    demote, user = _as_unprivileged()
    if user:
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, port = folder / "data", free_port()
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "HOME": str(folder)}
    init = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "regapp",
                           "--auth=trust", "-E", "UTF8", "--no-sync"],
                          capture_output=True, text=True, env=env, **demote)
    if init.returncode:
        raise ServerDidNotStart(f"initdb failed: {init.stderr}")
    log = open(folder / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
         "-k", str(folder), "-c", "max_connections=200",
         *([] if durable else ["-c", "fsync=off", "-c", "synchronous_commit=off",
                               "-c", "full_page_writes=off"])],
        stdout=log, stderr=subprocess.STDOUT, env=env, **demote)
    url = f"postgresql://regapp@127.0.0.1:{port}/postgres"
    try:
        _wait(lambda: subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p",
                                      str(port)], capture_output=True).returncode == 0,
              server, folder / "server.log", "PostgreSQL")
        yield url
    finally:
        server.send_signal(signal.SIGINT)  # "fast" shutdown: open sessions are ended
        server.wait(30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def redis_server(port=None):
    """Yield the URL of a Redis server on a loopback port (``port``, or a free one),
    nothing saved to disk."""
    binary = shutil.which("redis-server")
    if not binary:
        raise ServerDidNotStart("no redis-server: apt-get install redis-server "
                                "(tests/machine.sh does)")
    folder = Path(tempfile.mkdtemp(prefix="regapp-redis-"))
    port = port or free_port()
    log = open(folder / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", str(folder)],
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait(lambda: _redis_answers(url), server, folder / "server.log", "Redis")
        yield url
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _redis_answers(url):
    import redis

    try:
        return redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        return False


def _wait(ready, process, log_path, name, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if ready():
            return
        time.sleep(0.1)
    process.kill()
    raise ServerDidNotStart(f"{name} did not start:\n{Path(log_path).read_text()}")


def empty_postgres(url):
    """Empty every table but the schema's version (the schema itself stays)."""
    import psycopg2

    with contextlib.closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '10s'")
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                       "AND tablename <> 'schemaversion'")
        tables = [row[0] for row in cursor.fetchall()]
        if tables:
            cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                           + " RESTART IDENTITY CASCADE")
        connection.commit()


def empty_redis(url):
    import redis

    redis.Redis.from_url(url).flushdb()
