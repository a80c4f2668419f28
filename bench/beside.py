"""What a registration costs beside its hash (issue 15), by process: the same load as the
ratio's, argon2id at its least cost in the app server (regapp's and the peer's alike),
the CPU every process spent during the load counted from Linux's ``/proc``.

The ratio to the argon2id bound says how much room the rest leaves; this says where the
rest goes. With the hash cheap, what is left is what the flow itself costs: the app
server's Python, the database's server, the queue's worker and Redis, and the clients
(this process: they share the measured cores, as everything here does).

Beside the CPU, the context switches a registration, by the same kinds: a thread put off
its core to wait (a lock, the GIL, a socket, a database's answer) or preempted. They count
the handoffs a flow makes (its requests, round trips, queued messages), each paid for in
CPU beside the work itself.
"""

import contextlib
import os
import resource
from collections import Counter

#: what a process is, by its command line (the first that matches)
GROUPS = (("gunicorn", "app server"), ("postgres", "PostgreSQL"), ("redis-server", "Redis"),
          ("regapp worker", "queue worker"))


@contextlib.contextmanager
def cpu_by_process(spent, switches=None):
    """Fill ``spent`` (a Counter) with the CPU seconds each kind of process used meanwhile:
    the groups above among this process's descendants (the servers the load started),
    and ``clients`` for this process itself. Anything else on the machine is left out.
    ``switches`` (a Counter), if given: the times their threads were switched off a core
    meanwhile (waiting for a lock, the GIL, a socket; or preempted), by the same kinds."""
    before = _cpu_seconds()
    yield spent
    after = _cpu_seconds()
    for pid in _descendants(after, os.getpid()):
        seconds, command, _, switched = after[pid]
        kind = "clients" if pid == os.getpid() else _group(command)
        if kind:
            earlier = before.get(pid, (0.0, "", 0, 0))
            spent[kind] += seconds - earlier[0]
            if switches is not None:
                switches[kind] += switched - earlier[3]


def _descendants(processes, root):
    """``root`` and every process under it, by the parents ``processes`` name."""
    children = {}
    for pid, (_, _, parent, _) in processes.items():
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
    """{pid: (user + system CPU seconds, command line, parent pid, context switches)} of
    every process."""
    tick = os.sysconf("SC_CLK_TCK")
    seen = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as line:
                fields, command = stat.read(), line.read().replace(b"\0", b" ").decode(
                    errors="replace")
            switched = _switches(int(pid))
        except OSError:  # ended meanwhile
            continue
        after_name = fields[fields.rindex(")") + 2:].split()  # state, ppid, …
        user, system = after_name[11:13]  # utime, stime
        seen[int(pid)] = ((int(user) + int(system)) / tick, command, int(after_name[1]),
                          switched)
    return seen


def _switches(pid):
    """A process's context switches so far, voluntary and not, all its threads'. This
    process's own from its rusage, which keeps those of its threads already ended (the
    clients'); another's from each of its live threads (a server's threads live on)."""
    if pid == os.getpid():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_nvcsw + usage.ru_nivcsw
    total = 0
    for thread in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):  # a thread ended meanwhile
            with open(f"/proc/{pid}/task/{thread}/status") as status:
                total += sum(int(line.split()[1]) for line in status
                             if "ctxt_switches:" in line)
    return total


def per_registration(spent, registrations, scale=1000):
    """(in all, {kind: each}) a registration, largest first: milliseconds of the CPU
    seconds ``spent``, or (``scale=1``) a count as it is."""
    each = {kind: amount * scale / registrations for kind, amount in spent.most_common()}
    return sum(each.values()), each


def said(total, each, unit="ms", places=1):
    """«45 ms (app server 30.0, PostgreSQL 7.2, …)» for the table."""
    parts = ", ".join(f"{kind} {amount:.{places}f}" for kind, amount in each.items()
                      if round(amount, places))
    return f"{total:.0f} {unit} ({parts})"


def measure(run):
    """``run(watch)``, a load that calls ``watch()`` around its clients' work and returns
    its result; the CPU a registration and the context switches a registration, by kind
    of process (:func:`per_registration`)."""
    spent, switches = Counter(), Counter()
    result = run(lambda: cpu_by_process(spent, switches))
    return (result, per_registration(spent, result["done"]),
            per_registration(switches, result["done"], scale=1))


def least_cost_hasher():
    """argon2id at its least cost (the app's own parameters stay as they are)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
