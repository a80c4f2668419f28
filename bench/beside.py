"""What a registration costs beside its hash (issue 15), by process: the same load as the
ratio's, argon2id at its least cost in the app server (regapp's and the peer's alike),
the CPU every process spent during the load counted from Linux's ``/proc``.

The ratio to the argon2id bound says how much room the rest leaves; this says where the
rest goes. With the hash cheap, what is left is what the flow itself costs: the app
server's Python, the database's server, the queue's worker and Redis, and the clients
(this process: they share the measured cores, as everything here does).
"""

import contextlib
import os
from collections import Counter

#: what a process is, by its command line (the first that matches)
GROUPS = (("gunicorn", "app server"), ("postgres", "PostgreSQL"), ("redis-server", "Redis"),
          ("regapp worker", "queue worker"))


@contextlib.contextmanager
def cpu_by_process(spent):
    """Fill ``spent`` (a Counter) with the CPU seconds each kind of process used meanwhile:
    the groups above among this process's descendants (the servers the load started),
    and ``clients`` for this process itself. Anything else on the machine is left out."""
    before = _cpu_seconds()
    yield spent
    after = _cpu_seconds()
    for pid in _descendants(after, os.getpid()):
        seconds, command, _ = after[pid]
        kind = "clients" if pid == os.getpid() else _group(command)
        if kind:
            spent[kind] += seconds - before.get(pid, (0.0,))[0]


def _descendants(processes, root):
    """``root`` and every process under it, by the parents ``processes`` name."""
    children = {}
    for pid, (_, _, parent) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return [pid for pid in found if pid in processes]


def _group(command):
    return next((name for key, name in GROUPS if key in command), None)


def _cpu_seconds():
    """{pid: (user + system CPU seconds, command line, parent pid)} of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    seen = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as line:
                fields, command = stat.read(), line.read().replace(b"\0", b" ").decode(
                    errors="replace")
        except OSError:  # ended meanwhile
            continue
        after_name = fields[fields.rindex(")") + 2:].split()  # state, ppid, …
        user, system = after_name[11:13]  # utime, stime
        seen[int(pid)] = ((int(user) + int(system)) / tick, command, int(after_name[1]))
    return seen


def per_registration(spent, registrations):
    """(milliseconds in all, {kind: milliseconds}) a registration, largest first."""
    each = {kind: seconds * 1000 / registrations for kind, seconds in spent.most_common()}
    return sum(each.values()), each


def said(total, each):
    """«45 ms: app server 30, PostgreSQL 7.2, …» for the table."""
    parts = ", ".join(f"{kind} {ms:.1f}" for kind, ms in each.items() if ms >= 0.05)
    return f"{total:.0f} ms ({parts})"


def measure(run):
    """``run(watch)``, a load that calls ``watch()`` around its clients' work and returns
    its result, and the CPU a registration (:func:`per_registration`)."""
    spent = Counter()
    result = run(lambda: cpu_by_process(spent))
    return result, per_registration(spent, result["done"])


def least_cost_hasher():
    """argon2id at its least cost (the app's own parameters stay as they are)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
