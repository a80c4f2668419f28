"""Benchmark (not a test): import a generated roster, beside a plain executemany.

    python bench/roster_import.py --rows 1000000 [--postgres]

Writes a CSV of N rows into a temporary folder, imports it through the real
``csv`` source and :func:`regapp.roster.import_roster` into a fresh SQLite
database, then inserts the same rows, already normalized, with one plain
``executemany`` into a second database of the same schema. Prints rows per
second of each, their ratio, and the process's peak resident memory.
"""

import argparse
import csv
import datetime as dt
import io
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers, for --postgres

from regapp import db, migrations  # noqa: E402
from regapp.models import RosterRecord  # noqa: E402
from regapp.pluginmanager import available, build_plugin_manager  # noqa: E402
from regapp.roster import import_roster  # noqa: E402

HEADER = ["Номер полиса", "Фамилия", "Имя", "Отчество", "Дата рождения", "Мобильный телефон",
          "E-mail", "Страхователь", "Дата начала", "Дата окончания"]
LAST = ["Иванов", "Петрова", "Семёнов", "Кузнецова", "Мамедов", "Петров-Водкин"]
FIRST = ["Иван", "Алёна", "Пётр", "Мария", "Али", "Кузьма"]


def generate(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow([
                f"ДМС-{n:08d}", LAST[n % 6], FIRST[n % 6], "Иванович" if n % 3 else "",
                f"{1 + n % 28:02d}.{1 + n % 12:02d}.{1950 + n % 55}",
                f"+7 (9{n % 100:02d}) {n % 1000:03d}-{n % 100:02d}-{(n // 100) % 100:02d}",
                f"person{n}@example.com", "ООО «Ромашка»", "01.01.2025", "",
            ])


def run_import(csv_path, url):
    """Import the file into the database at ``url``: (report, seconds, peak bytes)."""
    db.bind(url)
    migrations.upgrade()
    source = available(build_plugin_manager(), "roster")["csv"]({})
    started = time.perf_counter()
    with db.database.connection_context():
        report = import_roster(source, str(csv_path))
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return report, elapsed, peak


def run_executemany(db_path, reference_db):
    """The same rows, already normalized, inserted by one plain executemany."""
    db.bind(f"sqlite:///{db_path}")
    migrations.upgrade()
    columns = [f.column_name for f in RosterRecord._meta.sorted_fields if f.name != "id"]
    source = sqlite3.connect(reference_db)
    rows = source.execute(f"SELECT {', '.join(columns)} FROM roster_record").fetchall()
    source.close()
    target = sqlite3.connect(db_path)
    target.execute("PRAGMA journal_mode=wal")
    target.execute("PRAGMA synchronous=normal")
    marks = ", ".join("?" * len(columns))
    started = time.perf_counter()
    with target:
        target.executemany(f"INSERT INTO roster_record ({', '.join(columns)}) VALUES ({marks})", rows)
    elapsed = time.perf_counter() - started
    target.close()
    return len(rows), elapsed


def run_copy(url):
    """The imported rows, copied out and timed coming back in by one plain COPY into a table
    like roster_record (its indexes and constraints included)."""
    import psycopg2

    columns = ", ".join(f.column_name for f in RosterRecord._meta.sorted_fields if f.name != "id")
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        rows = io.StringIO()
        cursor.copy_expert(f"COPY roster_record ({columns}) TO STDOUT", rows)
        cursor.execute("CREATE TABLE plain (LIKE roster_record INCLUDING ALL)")
        connection.commit()
        rows.seek(0)
        started = time.perf_counter()
        cursor.copy_expert(f"COPY plain ({columns}) FROM STDIN", rows)
        connection.commit()
        return time.perf_counter() - started


def measure_postgres(rows):
    """(import seconds, COPY seconds) for ``rows`` generated rows on a PostgreSQL server
    started for the run, durable as deployed (fsync on)."""
    from tests.servers import postgres_server

    with tempfile.TemporaryDirectory() as tmp, postgres_server(durable=True) as url:
        csv_path = Path(tmp) / "roster.csv"
        generate(csv_path, rows)
        report, import_s, _ = run_import(csv_path, url)
        db.database.close()
        assert report.added == rows and not report.rejected, report.rejected[:5]
        return import_s, run_copy(url)


def measure(rows):
    """(import seconds, executemany seconds, peak bytes) for ``rows`` generated rows."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "roster.csv"
        generate(csv_path, rows)
        report, import_s, peak = run_import(csv_path, f"sqlite:///{tmp / 'import.db'}")
        assert report.added == rows and not report.rejected, report.rejected[:5]
        count, plain_s = run_executemany(tmp / "plain.db", tmp / "import.db")
        assert count == rows
    return import_s, plain_s, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true", help="beside COPY on PostgreSQL")
    args = parser.parse_args()
    if args.postgres:
        import_s, copy_s = measure_postgres(args.rows)
        print(f"PostgreSQL, {args.rows} rows: import {import_s:.1f} s, COPY {copy_s:.1f} s, "
              f"ratio {import_s / copy_s:.1f}x")
        return
    import_s, plain_s, peak = measure(args.rows)
    count = args.rows
    print(f"date:               {dt.date.today()}")
    print(f"rows:               {args.rows}")
    print(f"import:             {import_s:.1f} s, {args.rows / import_s:,.0f} rows/s "
          "(read, check, normalize, upsert)")
    print(f"plain executemany:  {plain_s:.1f} s, {count / plain_s:,.0f} rows/s "
          "(same rows, pre-normalized)")
    print(f"ratio:              {import_s / plain_s:.1f}x the time of executemany")
    print(f"peak memory:        {peak / 2**20:.1f} MiB (whole process, max RSS, after the import)")


if __name__ == "__main__":
    main()
