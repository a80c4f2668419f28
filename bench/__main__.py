"""All the benchmarks in one run, one table (issue 15): ``python -m bench`` (or ``tox -e bench``).

Each figure is measured beside its limit in the same run on the same machine, and the
ratio is what counts: the roster import beside a plain executemany of the same rows, the
registrations a second under gunicorn beside the argon2id bound (hashes a second with the
same parameters on every core). Not part of CI: a run takes minutes.

    python -m bench [--rows 100000] [--people 200] [--clients 50] [--backend both]
"""

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import invitations, load, roster_import  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--invitations", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    rows = []
    import_s, plain_s, peak = roster_import.measure(args.rows)
    rows.append((f"roster import, {args.rows:,} rows (SQLite)", f"{import_s:.1f} s",
                 f"executemany {plain_s:.1f} s", f"{import_s / plain_s:.1f}× (target ≤ 2×)"))
    if args.backend != "sqlite":
        import_s, copy_s = roster_import.measure_postgres(args.rows)
        rows.append((f"roster import, {args.rows:,} rows (PostgreSQL)", f"{import_s:.1f} s",
                     f"COPY {copy_s:.1f} s", f"{import_s / copy_s:.1f}× (target ≤ 2×)"))
    sent, seconds, peak, statuses = invitations.measure(args.invitations)
    rows.append((f"invitations, {sent:,} to smtp-sink", f"{sent / seconds:,.0f}/s",
                 "target 1,000/s", f"{sent / seconds / 1000:.2f}; {statuses}, "
                 f"peak {peak / 2**20:.0f} MiB"))
    bound = load.hash_bound()
    rows.append(("argon2id bound", f"{bound:.1f} hashes/s", f"{os.cpu_count()} cores", ""))
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        result = load.run(backend, args.people, args.clients)
        rows.append((f"registrations, {args.clients} clients ({backend})",
                     f"{result['per_second']:.1f}/s", f"bound {bound:.1f}/s",
                     f"{result['per_second'] / bound:.2f} (target ≥ 0.85); errors "
                     f"{result['errors']}, lost {result['lost']}"))
    print(f"\n{dt.date.today()}, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}\n")
    print("| figure | measured | limit or peer | ratio |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
