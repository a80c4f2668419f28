"""Work that yields the cores: a password's hash, a long roster's checking (issue 15)."""

import contextlib
import os
import threading


def yield_cores():
    """Run the calling thread (and the threads it starts) on cycles nothing else wants.

    Linux's SCHED_IDLE: a page request preempts such a thread at once, and it still gets
    the smallest share of a busy core. Two kinds share the idle class fairly, so a roster
    checked on every core slows a registration's hash but cannot stall it; elsewhere the
    lowest niceness does much the same."""
    with contextlib.suppress(OSError, AttributeError):  # lowering needs no privilege
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
