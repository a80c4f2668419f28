"""All the benchmarks in one run, one table (issue 15): ``python -m bench`` (or ``tox -e bench``).

Each figure is measured beside its limit or peer in the same run on the same machine,
and the ratio is what counts: the roster import beside a plain executemany (SQLite) and
COPY (PostgreSQL) of the same rows; an XLSX roster read as the import reads it (python-
calamine in a child process) beside openpyxl alone (bench/xlsx_read.py); invitations a second to Postfix's smtp-sink (as
deployed, the command beside two queue workers, and in one process); the registrations a
second under gunicorn beside the argon2id bound (hashes a second with the same parameters
on every core, measured just before and just after each run, the mean counting), with the
p99 server time of the form page and of an inline check under that load;
Flask-Security-Too's sign-up beside the same bound, on the same database; what a
registration spends beside the hash, and its context switches, by process, against the
peer's (bench/beside.py). The registration loads run ``--rounds`` times each (two by
default), each followed by the peer's on its database (SQLite, the peer on SQLite,
PostgreSQL, the peer on PostgreSQL, and again), and the table gives the mean ratio with
each run's. Not part of CI: a run takes about a quarter of an hour at the machine's usual
pace (bench/machine.sh installs what it drives).

    python -m bench [--rows 1000000] [--xlsx-rows 100000] [--people 500] [--clients 50]
                    [--backend both] [--rounds 2]
"""

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import beside, invitations, load, peer_fst, roster_import, xlsx_read  # noqa: E402

#: each database as the table names it
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--invitations", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=2,
                        help="registration loads a database (and the peer's), alternated")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    rows = _imports(args.rows, backends) + xlsx_read.rows(args.xlsx_rows)
    rows += _invitations(args.invitations)
    rows += _registrations(backends, args.people, args.clients, args.rounds)
    rows += [_beside(backend, args.people, args.clients) for backend in backends]
    print(f"\n{dt.date.today()}, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}\n")
    print("| figure | measured | limit or peer | ratio |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _imports(count, backends):
    rows = []
    if "sqlite" in backends:
        import_s, plain_s, peak = roster_import.measure(count)
        rows.append((f"roster import, {count:,} rows (SQLite)", f"{import_s:.1f} s",
                     f"executemany {plain_s:.1f} s",
                     f"{import_s / plain_s:.1f}× (target ≤ 2×); peak {peak / 2**20:.0f} MiB"))
    if "postgres" in backends:
        import_s, copy_s = roster_import.measure_postgres(count)
        rows.append((f"roster import, {count:,} rows (PostgreSQL)", f"{import_s:.1f} s",
                     f"COPY {copy_s:.1f} s", f"{import_s / copy_s:.1f}× (target ≤ 2×)"))
    return rows


def _invitations(count, workers=2):
    """Two rows: as deployed (the command, ``workers`` queue workers), and in one process."""
    rows = []
    for way, measured in ((f"invitations command + {workers} workers",
                           invitations.measure_deployed(count, workers)),
                          ("invitations in one process", invitations.measure(count))):
        sent, seconds, peak, statuses = measured
        accounted = (f"all {count:,} sent" if statuses == {"sent": count} else
                     ", ".join(f"{status} {n:,}" for status, n in sorted(statuses.items())))
        rows.append((f"{way}, {sent:,} to smtp-sink", f"{sent / seconds:,.0f}/s", "1,000/s",
                     f"{sent / seconds / 1000:.2f} (target ≥ 1); {accounted}, "
                     f"peak {peak / 2**20:.0f} MiB"))
    return rows


def _around(measure):
    """``measure()``'s result and the argon2id bound, taken just before and just after it
    (the machine's pace drifts by several % from one minute to the next): (result, mean
    bound, the two bounds as text)."""
    before = load.hash_bound()
    result = measure()
    after = load.hash_bound()
    return result, (before + after) / 2, f"{before:.1f} before, {after:.1f} after"


def _registrations(backends, people, clients, rounds):
    """Each load beside the argon2id bound measured around it, ``rounds`` times, the
    peer's on the same database right after regapp's (the machine's pace moves a ratio by
    several % from one load to the next: alternating and averaging keeps that drift out
    of the comparison)."""
    runs = {}
    for _ in range(rounds):
        for backend in backends:
            runs.setdefault(backend, []).append(
                _around(lambda backend=backend: load.run(backend, people, clients)))
            runs.setdefault(("peer", backend), []).append(_around(
                lambda backend=backend: peer_fst.run(people, clients, load.WORKERS, backend,
                                                    load.THREADS)))
    rows = []
    for backend in backends:
        done, peers = ([result for result, _, _ in runs[key]] for key in (backend, ("peer", backend)))
        peer_ratio = _mean_ratio(runs["peer", backend])
        ratio = _mean_ratio(runs[backend])
        rows.append((f"registrations, {clients} clients ({NAMES[backend]})", *_rates(runs[backend]),
                     f"{ratio:.2f} (target ≥ 0.85 and ≥ the peer's {peer_ratio:.2f}; each run "
                     f"{_each_ratio(runs[backend])}); errors {sum(r['errors'] for r in done)}, "
                     f"lost {sum(r['lost'] for r in done)}; between the 10th and the 90th % "
                     f"finished {_mean_ratio(runs[backend], 'steady'):.2f}, the peer's "
                     f"{_mean_ratio(runs['peer', backend], 'steady'):.2f}"))
        for name in ("page", "check"):
            worst = max(result[name + "_p99"] for result in done)
            rows.append((f"p99 server time, {'form page' if name == 'page' else 'inline check'} "
                         f"({NAMES[backend]})", f"{worst:.1f} ms", "10 ms",
                         f"{worst / 10:.2f} (target < 1; the worst run's)"))
        rows.append((f"Flask-Security-Too 5.9.2 sign-up, {clients} clients ({NAMES[backend]})",
                     *_rates(runs["peer", backend]), f"{peer_ratio:.2f} (each run "
                     f"{_each_ratio(runs['peer', backend])}); errors "
                     f"{sum(p['errors'] for p in peers)}"))
    return rows


def _beside(backend, people, clients):
    """The CPU a registration spends beside the hash, by process, regapp's and the peer's
    (:mod:`bench.beside`: the same loads with argon2id at its least cost), and the context
    switches a registration."""
    _, (ours, our_parts), (our_switches, our_by_kind) = beside.measure(
        lambda watch: load.run(backend, people, clients, watch=watch, least_hash=True))
    _, (theirs, their_parts), (their_switches, their_by_kind) = beside.measure(
        lambda watch: peer_fst.run(people, clients, load.WORKERS, backend, load.THREADS,
                                   watch=watch, least_hash=True))
    return (f"CPU beside the hash a registration, {clients} clients ({NAMES[backend]})",
            f"{beside.said(ours, our_parts)}; "
            f"{beside.said(our_switches, our_by_kind, 'switches', 0)}",
            f"Flask-Security-Too {beside.said(theirs, their_parts)}; "
            f"{beside.said(their_switches, their_by_kind, 'switches', 0)}",
            f"{ours / theirs:.1f}× the peer's (argon2id at its least cost in both); "
            f"switches {our_switches / their_switches:.1f}×")


def _rates(runs):
    """(mean rate, mean bound with each run's bounds) as the table shows them."""
    rate = sum(result["per_second"] for result, _, _ in runs) / len(runs)
    bound = sum(bound for _, bound, _ in runs) / len(runs)
    return f"{rate:.1f}/s", f"argon2id bound {bound:.1f}/s ({'; '.join(b for _, _, b in runs)})"


def _mean_ratio(runs, rate="per_second"):
    return sum(result[rate] / bound for result, bound, _ in runs) / len(runs)


def _each_ratio(runs):
    return ", ".join(f"{result['per_second'] / bound:.2f}" for result, bound, _ in runs)

if __name__ == "__main__":
    main()
