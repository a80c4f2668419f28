"""The benchmarks' own accounting (issue 15): what ``python -m bench`` reports must be
right, though the benchmarks themselves run outside CI."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

from bench import beside
from bench.beside import cpu_by_process, per_registration, said

#: a process that spends 0.4 s of CPU, says so, writes its pid, then waits to be killed
BUSY = ("import os, sys, time\nend = time.process_time() + 0.4\n"
        "while time.process_time() < end: pass\n"
        "open(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(60)")


def _wait_for(path):
    import time

    for _ in range(600):
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


def test_cpu_is_counted_by_kind_for_the_processes_under_this_one(tmp_path, monkeypatch):
    monkeypatch.setattr(beside, "GROUPS", (("regapp-bench-probe", "probe"),))
    spent, pids = Counter(), []
    with cpu_by_process(spent):
        # one child of this process, and one left to the system (not under it): both busy
        subprocess.Popen(["bash", "-c", f'exec -a regapp-bench-probe {sys.executable} -c "$0" '
                          f'"$1"', BUSY, str(tmp_path / "child")])
        subprocess.run(["bash", "-c", f'(exec -a regapp-bench-probe {sys.executable} -c "$0" '
                        f'"$1" &)', BUSY, str(tmp_path / "outsider")], check=True)
        pids = [_wait_for(tmp_path / "child"), _wait_for(tmp_path / "outsider")]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert 0.3 <= spent["probe"] <= 0.6, spent  # the child's CPU, not the outsider's too
    assert set(spent) <= {"probe", "clients"}, spent


#: a process whose main thread sleeps 300 times and a second thread 300 more (then waits,
#: as a server's threads live on), writes its pid, then waits
SLEEPER = ("import os, sys, threading, time\n"
           "def nap():\n    for _ in range(300): time.sleep(0.001)\n"
           "done = threading.Event()\n"
           "threading.Thread(target=lambda: (nap(), done.set(), time.sleep(60))).start()\n"
           "nap(); done.wait()\n"
           "open(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(60)")


def test_context_switches_are_counted_for_every_thread_of_a_process(tmp_path, monkeypatch):
    monkeypatch.setattr(beside, "GROUPS", (("regapp-bench-sleeper", "sleeper"),))
    spent, switches = Counter(), Counter()
    with cpu_by_process(spent, switches):
        subprocess.Popen(["bash", "-c", f'exec -a regapp-bench-sleeper {sys.executable} -c '
                          f'"$0" "$1"', SLEEPER, str(tmp_path / "pid")])
        pid = _wait_for(tmp_path / "pid")
        nap = threading.Thread(target=lambda: [time.sleep(0.002) for _ in range(40)])
        nap.start()
        nap.join()  # this process's thread, ended before the count: still counted
    os.kill(pid, signal.SIGKILL)
    # each sleep is a switch: both threads' at least 600; one thread's would be 300 and its
    # start's (a few dozen, 150 more on a loaded machine); the whole machine's, thousands
    assert 600 <= switches["sleeper"] < 3000, switches
    assert switches["clients"] >= 40, switches


def test_the_table_says_milliseconds_a_registration_largest_first():
    total, each = per_registration(Counter({"PostgreSQL": 0.7, "app server": 2.8}), 100)
    assert round(total) == 35 and list(each) == ["app server", "PostgreSQL"]
    assert said(total, each) == "35 ms (app server 28.0, PostgreSQL 7.0)"
    total, each = per_registration(Counter({"queue worker": 1900, "app server": 15000,
                                            "Redis": 20}), 100, scale=1)
    assert said(total, each, "switches", 0) == "169 switches (app server 150, queue worker 19)"


def test_the_deployed_invitations_wait_for_every_message_and_say_what_is_left(tmp_path):
    """``bench.invitations`` times the deployed way to the last message ended (sent or
    failed); should the patience run out first, the table says what is still waiting
    rather than a rate of the ones that went."""
    import sqlite3
    import threading
    import time

    from bench.invitations import _until_ended

    database = tmp_path / "regapp.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE message (status TEXT)")
        connection.executemany("INSERT INTO message VALUES (?)",
                               [("sent",)] * 3 + [("pending",)] * 2)
    assert _until_ended(database, 5, patience=0.2) == {"sent": 3, "pending": 2}

    def finish():
        time.sleep(0.3)
        with sqlite3.connect(database) as connection:
            connection.execute("UPDATE message SET status = 'failed' WHERE rowid = 4")
            connection.execute("UPDATE message SET status = 'sent' WHERE rowid = 5")

    threading.Thread(target=finish).start()
    assert _until_ended(database, 5, patience=30) == {"sent": 4, "failed": 1}


def test_a_commands_peak_memory_is_its_own_read_while_it_runs():
    """The deployed invitations' command: its peak read from /proc while it runs (its
    rusage once waited for counted the benchmark it was forked from, 1.6 GB)."""
    from bench.invitations import _watch_peak

    child = subprocess.Popen([sys.executable, "-c",
                              "import time; block = bytearray(80 * 2**20); time.sleep(0.5)"])
    peak = _watch_peak(child, every=0.02)
    assert child.returncode == 0
    assert 80 * 2**20 <= peak < 400 * 2**20


def test_the_steady_rate_leaves_out_the_ramp_up_and_the_tail():
    """Ten a second in the middle of a load, slow at its start and its end: the steady rate
    says ten, where the whole load's would say less."""
    from bench.load import steady_rate

    middle = [10 + n / 10 for n in range(80)]
    finished = [0, 3, 5, 7, 9.5, 9.6, 9.7, 9.8, 9.9, 9.95] + middle + [
        18.5, 19, 20, 22, 25, 27, 28, 29, 30, 31]
    assert abs(steady_rate(finished) - 10) < 0.2
    assert len(finished) / finished[-1] < 4
    assert steady_rate([1.0, 2.0]) == 0.0


def test_a_readers_end_is_said_as_it_came(tmp_path):
    """bench.xlsx_read: a reader killed by a signal, one refusing the file, one reading it."""
    from bench.xlsx_read import _outcome

    assert _outcome(sys.executable, "import os; os.abort()", tmp_path).startswith(
        "ended by signal 6")
    assert _outcome(sys.executable, "raise ValueError('на листе нет')",
                    tmp_path) == "refused it («на листе нет…»)"
    assert _outcome(sys.executable, "import sys; sys.argv[1]", tmp_path) == "read it"
