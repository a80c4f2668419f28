"""Benchmark (not a test): invitations sent to a local SMTP server, a second (issue 15).

    python -m bench.invitations [--people 100000]

Loads a roster of N people with e-mails into a fresh SQLite instance, then times
``send_invitations()`` as ``regapp invitations send`` runs it (the embedded queue
delivers in the calling process) through the ``smtp`` sender to Postfix's
``smtp-sink`` on loopback: a C server that takes thousands of messages a second, so
the figure is regapp's. Every invitation must end sent; prints the rate and the
process's peak memory.
"""

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peewee import fn  # noqa: E402

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


def peak_memory():
    """The process's peak resident memory since the last reset, in bytes."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def measure(people):
    """(invitations sent, seconds, peak bytes, statuses) for ``people`` invitations."""
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    sent, elapsed, peak, statuses = measure(args.people)
    print(f"{sent} invitations in {elapsed:.1f} s: {sent / elapsed:,.0f}/s (target ≥ 1,000/s); "
          f"messages {statuses}; peak memory {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
