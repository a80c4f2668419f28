"""Load run (issue 13), not a test: N people registering at once against gunicorn and
``regapp worker``, on SQLite and on PostgreSQL + Redis.

    python bench/load.py [--people 200] [--backend sqlite|postgres|both]

Each person is a thread with their own cookies and one kept-alive connection, all started
together: they open the registration form, send it as a browser with JavaScript on does
(the phone's inline check first; htmx then sends the form and gets the code step in the
answer), wait for their code in the QA outbox and type it. Prints, per database: completed
registrations, errors (answers other than the expected ones), lost registrations (a form
accepted but no account at the end), codes delivered other than exactly once, the wall
time and the form and code steps' latencies.
Exits 1 unless all registered with 0 errors, 0 lost and every code once.

Rate limits are off (everybody comes from 127.0.0.1); gunicorn runs the README's
``instance/gunicorn.conf.py``; PostgreSQL runs from the machine's binaries with its
durable defaults (fsync on), unlike the test suite's.
"""

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regapp.testing.peers import free_port  # noqa: E402
from tests import crowd  # noqa: E402
from tests.deployment import Deployment  # noqa: E402
from tests.helpers import code_in  # noqa: E402

#: gunicorn as instance/gunicorn.conf.py runs it (set here, as the command line wins)
WORKERS = int(os.environ.get("BENCH_WORKERS") or os.cpu_count() or 1)
THREADS = int(os.environ.get("BENCH_THREADS") or 4)
#: how long a person waits for a page before giving up (a browser waits longer still)
PATIENCE = 120


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    print(f"{args.people} people at once; {os.cpu_count()} CPUs; "
          f"{time.strftime('%Y-%m-%d')}")
    ok = all([run(backend, args.people)["ok"] for backend in backends])
    return 0 if ok else 1


def hash_bound(count=60):
    """argon2id hashes per second with the app's parameters on every core: the most
    registrations a second the machine could make (each costs one hash)."""
    import time as clock
    from concurrent.futures import ProcessPoolExecutor

    from regapp import passwords

    started = clock.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(passwords.hash_password, (f"bound {n} horse" for n in range(count))))
    return count / (clock.perf_counter() - started)


def run(backend, people, at_once=None, watch=None, least_hash=False):
    """Load ``people`` registrations, ``at_once`` at a time (all by default), on
    ``backend``. ``watch()``: a context around the clients' work (:mod:`bench.beside`);
    ``least_hash``: the app server hashes with argon2id at its least cost."""
    with contextlib.ExitStack() as stack:
        settings = {}
        if backend == "postgres":
            from tests.servers import postgres_server, redis_server

            redis_url = stack.enter_context(redis_server())
            settings = {"DATABASE": stack.enter_context(postgres_server(durable=True)),
                        "QUEUE": redis_url, "RATELIMIT_STORAGE_URI": redis_url}
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="regapp-load-")))
        return _measure(backend, people, folder, settings, at_once or people,
                        watch or contextlib.nullcontext, least_hash)


def _measure(backend, people, folder, settings, at_once, watch, least_hash):
    from regapp.qa.fake_esia import ensure_materials

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    deployment = Deployment(folder, ensure_materials(folder / "esia").folder, PUBLIC_URL=base,
                            RATELIMIT_ENABLED="false", **settings)
    try:
        deployment.load_roster(crowd.write_roster(folder / "r.csv", people))
        if least_hash:  # bench.least_hash, imported by gunicorn from this checkout
            deployment.env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        deployment.gunicorn(port, "--workers", str(WORKERS), "--threads", str(THREADS),
                            app_spec=("bench.least_hash:create_app()" if least_hash
                                      else "regapp:create_app()"))
        deployment.worker()
        wait_until_quiet()
        codes = Codes(deployment)
        timings = {"form": [], "code": []}
        accepted, finished = [], []

        def register(n):
            started = time.monotonic()
            browser = crowd.start(base, n, timeout=PATIENCE, inline_check=True,
                                  kept_alive=True, htmx=True)
            timings["form"].append(time.monotonic() - started)
            accepted.append(n)
            code = codes.wait(crowd.phone(n))
            started = time.monotonic()
            crowd.finish(browser, base, code)
            finished.append(time.monotonic())
            timings["code"].append(finished[-1] - started)
            return n

        started = time.monotonic()
        with watch():
            done, failures = crowd.at_once(register, range(people), at_once,
                                           crowd.RAMP_UP)
        wall = time.monotonic() - started
        time.sleep(2)  # anything sent twice would arrive by now
        codes.stop()
        accounts = _accounts(deployment, settings)
        server_ms = server_times(deployment.logs())
        sent = Counter(m["to"] for m in deployment.outbox() if m["to"].startswith("+"))
        not_once = [n for n in range(people) if sent[crowd.phone(n)] != 1]
        lost = [n for n in accepted if crowd.phone(n) not in accounts]
    finally:
        deployment.stop()
    steady = steady_rate(finished)
    print(f"\n{backend}: {len(done)} of {people} registered in {wall:.1f} s "
          f"({len(done) / wall:.1f} registrations/s; {steady:.1f}/s between "
          f"the 10th and the 90th % finished)")
    print(f"  errors {len(failures)}, lost {len(lost)}, codes not delivered exactly once "
          f"{len(not_once)}")
    for name, values in timings.items():
        print(f"  {name} step: median {_quantile(values, 0.5):.2f} s, "
              f"95th percentile {_quantile(values, 0.95):.2f} s")
    for name, values in server_ms.items():
        print(f"  server time, {name}: p50 {_quantile(values, 0.5):.1f} ms, "
              f"p95 {_quantile(values, 0.95):.1f} ms, p99 {_quantile(values, 0.99):.1f} ms, "
              f"slowest {sorted(values)[-3:]} ({len(values)} requests)")
    for failure in failures[:10]:
        print(f"  ! {failure}")
    ok = len(done) == people and not failures and not lost and not not_once
    return {"ok": ok, "done": len(done), "per_second": len(done) / wall, "wall": wall,
            "steady": steady,
            "form_p50": _quantile(timings["form"], 0.5), "errors": len(failures),
            "lost": len(lost), "not_once": len(not_once),
            "page_p99": _quantile(server_ms["form page"], 0.99),
            "check_p99": _quantile(server_ms["inline check"], 0.99)}


def steady_rate(finished, low=0.1, high=0.9):
    """Completions a second between the ``low`` and the ``high`` share of them finished:
    the load with every client busy, without its ramp-up and its tail. A registration takes
    two steps and seconds under a rush, a one-step sign-up one hash: the last ones finish
    long after the cores have stopped being busy, and a whole load's rate counts that."""
    moments = sorted(finished)
    first, last = int(len(moments) * low), int(len(moments) * high) - 1
    if last <= first:
        return 0.0
    return (last - first) / (moments[last] - moments[first])


def wait_until_quiet(idle=0.9, window=0.5, seconds=60):
    """Until the cores stand idle (``idle`` of a ``window``): every server process has
    started. gunicorn answers once its first worker has; the other workers, and regapp's
    queue worker, go on importing and warming up for a second or more, which a load begun
    at once measured beside its own requests (its first codes late, the cores idle while
    its first clients waited for them)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = _cpu_ticks()
        time.sleep(window)
        after = _cpu_ticks()
        spent = [b - a for a, b in zip(before, after, strict=True)]
        if (spent[3] + spent[4]) >= idle * sum(spent):  # idle and iowait
            return
    raise SystemExit(f"the cores never stood {idle:.0%} idle in {seconds} s: not a quiet machine")


def _cpu_ticks():
    """The machine's CPU time so far by kind (Linux's /proc/stat): user, nice, system,
    idle, iowait, …"""
    with open("/proc/stat") as f:
        return [int(n) for n in f.readline().split()[1:]]


#: the app's line per request: "<request id> <method> <route> <status> <ms>ms"
REQUEST_LINE = re.compile(r"regapp\.request: (\S+) (GET|POST) (\S+) \d{3} ([\d.]+)ms")


def server_times(log):
    """Milliseconds the app took (its own request log) for the form page and for the phone's
    inline check, every one of them in the run."""
    times = {"form page": [], "inline check": []}
    for request_id, method, route, ms in REQUEST_LINE.findall(log):
        if method == "GET" and route == "/register":
            times["form page"].append(float(ms))
        elif request_id.startswith(crowd.CHECK_ID.split("{")[0]):
            times["inline check"].append(float(ms))
    return times


class Codes:
    """One reader of the QA outbox for everybody: codes by phone, as they arrive. Each
    person waits on their own event: a wake-up of everybody at every look cost the client
    process a millisecond and more a registration, on the cores it measures."""

    def __init__(self, deployment):
        self.deployment, self.codes, self.running = deployment, {}, True
        self.arrived, self.lock = {}, threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        """Follow the outbox as ``tail -f`` does: only what was added since the last look,
        so the reader does not steal the cores it is measuring."""
        path, offset, torn = self.deployment.instance / "outbox.jsonl", 0, b""
        while self.running:
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                lines = (torn + chunk).split(b"\n")
                torn = lines.pop()  # a line still being written
                for line in filter(None, lines):
                    message = json.loads(line)
                    if message["to"].startswith("+"):  # the SMS: e-mail confirmations go too
                        self.codes[message["to"]] = code_in(message["text"])
                        self._event(message["to"]).set()
            time.sleep(0.05)

    def _event(self, phone):
        with self.lock:
            return self.arrived.setdefault(phone, threading.Event())

    def wait(self, phone, seconds=120):
        if not self._event(phone).wait(seconds):
            raise TimeoutError(f"no code for {phone} in {seconds} s")
        return self.codes[phone]

    def stop(self):
        self.running = False
        self.thread.join()


def _accounts(deployment, settings):
    """The phones that have an account, read from the database itself."""
    if "DATABASE" in settings:
        import psycopg2

        with contextlib.closing(psycopg2.connect(settings["DATABASE"])) as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT phone FROM account")
            return {row[0] for row in cursor.fetchall()}
    import sqlite3

    with contextlib.closing(sqlite3.connect(deployment.instance / "regapp.db")) as connection:
        return {row[0] for row in connection.execute("SELECT phone FROM account")}


def _quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


if __name__ == "__main__":
    sys.exit(main())
