"""Benchmark (not a test): invitations sent to a local SMTP server, a second (issue 15).

    python -m bench.invitations [--people 100000] [--workers 2]

Loads a roster of N people with e-mails into a fresh SQLite instance, then sends them
their invitations through the ``smtp`` sender to Postfix's ``smtp-sink`` on loopback: a
C server that takes thousands of messages a second, so the figure is regapp's. Two ways:

- as deployed: ``regapp invitations send`` stores the invitations and queues them, and
  ``--workers`` ``regapp worker`` processes (one a core) deliver them from the embedded
  queue, while the command goes on with the next batches; timed from the command's
  start to the last one sent;
- in one process: ``send_invitations()`` with the queue delivering in the calling
  process, making and sending on one core in turn.

Every invitation must end sent; prints the rates and the processes' peak memory.
"""

import argparse
import contextlib
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peewee import fn  # noqa: E402

from bench.load import wait_until_quiet  # noqa: E402
from bench.roster_import import generate  # noqa: E402
from regapp import create_app, invitations, migrations  # noqa: E402
from regapp.models import Message  # noqa: E402
from regapp.roster import import_roster  # noqa: E402
from regapp.testing.peers import free_port  # noqa: E402

SMTP_SINK = "/usr/sbin/smtp-sink"


@contextlib.contextmanager
def smtp_sink():
    """Postfix's smtp-sink on a loopback port: (host, port)."""
    binary = shutil.which("smtp-sink") or SMTP_SINK
    if not Path(binary).exists():
        raise SystemExit("no smtp-sink: apt-get install postfix (tox -e bench does)")
    port = free_port()
    # -c: count, -u: run as this user when started as root; backlog 256
    sink = subprocess.Popen([binary, "-c", "-u", "nobody", f"127.0.0.1:{port}", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port)
        yield "127.0.0.1", port
    finally:
        sink.terminate()
        sink.wait(10)


def _wait_for(port, seconds=10):
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"smtp-sink never listened on {port}")
        time.sleep(0.05)


def reset_peak_memory():
    """Linux: start the process's peak resident memory (VmHWM) afresh from here."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_memory(pid="self"):
    """A process's peak resident memory since the last reset (this one's by default), in
    bytes (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def measure(people):
    """(invitations sent, seconds, peak bytes, statuses) for ``people`` invitations, made and
    delivered in this process."""
    with tempfile.TemporaryDirectory() as tmp, smtp_sink() as (host, port):
        tmp = Path(tmp)
        generate(tmp / "roster.csv", people)
        app = create_app({
            "QUEUE": "immediate", "SECRET_KEY": "bench", "PUBLIC_URL": "https://regapp.example.com",
            "DATABASE": f"sqlite:///{tmp / 'regapp.db'}", "SMS_GATEWAY": "fake", "QA_MODE": True,
            "EMAIL_SENDER": "smtp", "SMTP_HOST": host, "SMTP_PORT": port,
            "MAIL_FROM": "Регапп <noreply@example.com>"})
        with app.app_context():
            migrations.upgrade()
            import_roster(app.extensions["regapp.adapters"].roster_source("csv"),
                          str(tmp / "roster.csv"))
            reset_peak_memory()  # the sending's own peak, not the roster's load before it
            started = time.perf_counter()
            report = invitations.send_invitations()
            elapsed = time.perf_counter() - started
            peak = peak_memory()
            statuses = {row.status: row.n for row in Message.select(
                Message.status, fn.COUNT(Message.id).alias("n")).group_by(Message.status)}
    return report.sent, elapsed, peak, statuses


def measure_deployed(people, workers=2, patience=900):
    """(invitations sent, seconds, peak bytes of the busiest process, statuses): stored by
    ``regapp invitations send`` and delivered by ``workers`` ``regapp worker`` processes."""
    from regapp.qa.fake_esia import ensure_materials
    from tests.deployment import Deployment, _bin

    with (tempfile.TemporaryDirectory(prefix="regapp-invitations-") as tmp,
          smtp_sink() as (host, port)):
        folder = Path(tmp)
        generate(folder / "roster.csv", people)
        deployment = Deployment(folder, ensure_materials(folder / "esia").folder,
                                PUBLIC_URL="https://regapp.example.com", EMAIL_SENDER="smtp",
                                SMTP_HOST=host, SMTP_PORT=port,
                                MAIL_FROM="Регапп <noreply@example.com>")
        try:
            deployment.load_roster(folder / "roster.csv")
            senders = [deployment.worker() for _ in range(workers)]
            wait_until_quiet()  # the workers started, their imports done
            started = time.perf_counter()
            command = subprocess.Popen([_bin("regapp"), "invitations", "send"],
                                       env=deployment.env, cwd=folder,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peak = _watch_peak(command)
            if command.returncode:
                raise SystemExit(f"regapp invitations send failed:\n{deployment.logs()[-3000:]}")
            statuses = _until_ended(deployment.instance / "regapp.db", people, patience)
            elapsed = time.perf_counter() - started
            peak = max([peak] + [peak_memory(s.process.pid) for s in senders])
        finally:
            deployment.stop()
    return statuses.get("sent", 0), elapsed, peak, statuses


def _until_ended(database, count, patience):
    """The messages' statuses once every one of ``count`` is sent or failed, or patience
    runs out (what is left is said then: nothing is dropped silently)."""
    deadline = time.monotonic() + patience
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
        while True:
            statuses = dict(connection.execute(
                "SELECT status, COUNT(*) FROM message GROUP BY status").fetchall())
            ended = statuses.get("sent", 0) + statuses.get("failed", 0)
            if ended >= count or time.monotonic() > deadline:
                return statuses
            time.sleep(0.02)


def _watch_peak(process, every=0.05):
    """``process``'s own peak resident memory, read until it ends. Not its rusage once
    waited for: that counts the image it was forked from, the whole benchmark's before the
    exec (1.6 GB after the million-row import, for a command of about 110 MiB)."""
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(OSError, StopIteration):  # ended meanwhile: no memory left
            peak = max(peak, peak_memory(process.pid))
        time.sleep(every)
    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for way, (sent, elapsed, peak, statuses) in (
            (f"command + {args.workers} workers", measure_deployed(args.people, args.workers)),
            ("one process", measure(args.people))):
        print(f"{way}: {sent} invitations in {elapsed:.1f} s: {sent / elapsed:,.0f}/s "
              f"(target ≥ 1,000/s); messages {statuses}; peak memory {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
