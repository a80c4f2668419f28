"""The benchmarks' own accounting (issue 15): what ``python -m bench`` reports must be
right, though the benchmarks themselves run outside CI."""

import subprocess
import sys
from collections import Counter

from bench.beside import cpu_by_process, per_registration, said


def test_cpu_is_counted_by_the_kind_of_process_under_this_one():
    busy = ("import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
            "print('done', flush=True)\ntime.sleep(60)")
    spent = Counter()
    with cpu_by_process(spent):
        child = subprocess.Popen(["bash", "-c", f'exec -a redis-server {sys.executable} -c "$0"',
                                  busy], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "done\n"  # its CPU spent, and still running
    child.kill()
    child.wait()
    assert 0.3 <= spent["Redis"] <= 1.0, spent  # the child's own CPU, named by its command
    assert set(spent) <= {"Redis", "clients"}, spent  # nothing else of this machine's


def test_the_table_says_milliseconds_a_registration_largest_first():
    total, each = per_registration(Counter({"PostgreSQL": 0.7, "app server": 2.8}), 100)
    assert round(total) == 35 and list(each) == ["app server", "PostgreSQL"]
    assert said(total, each) == "35 ms (app server 28.0, PostgreSQL 7.0)"
