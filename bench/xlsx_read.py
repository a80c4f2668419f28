"""XLSX rosters (issue 15): the roster source as deployed (python-calamine in a child
process under its memory cap, openpyxl for what that leaves) beside openpyxl alone, the
streaming reader it used to be; and each, with calamine bare, on a workbook of a few KiB
whose two cells stand a sheet apart.

    python -m bench.xlsx_read [--rows 100000]

Each reading runs in a process of its own, so its peak memory is its own: rows a second,
and the peak resident memory of the reading process and of the child it started. The
import's terms for a faster reader: faster, memory bounded (the child holds the sheet up
to ``ROSTER_XLSX_FAST_MEMORY``; the import, a batch), and no workbook able to end the
process reading it.
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.roster_import import HEADER, generate  # noqa: E402

#: run in a process of its own: (rows, seconds, peak bytes, the child's peak) on stdout;
#: argv[2] is ROSTER_XLSX_FAST_MEMORY (0: openpyxl alone)
_SOURCE = """
import json, resource, sys, time
from regapp_plugins.roster_xlsx import XlsxRosterSource
started = time.perf_counter()
source = XlsxRosterSource({"ROSTER_XLSX_FAST_MEMORY": int(sys.argv[2])})
rows = sum(1 for _ in source.read(sys.argv[1]))
print(json.dumps([rows, time.perf_counter() - started,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024]))
"""
#: calamine bare, in the process that would hold the import
_CALAMINE = """
from python_calamine import CalamineWorkbook
import sys
sum(1 for row in CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).iter_rows())
"""
FAST, STREAMING = str(512 * 2**20), "0"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(" | ".join(row(args.rows)))


def row(count):
    """The table's row: both ways on ``count`` generated rows and on the sparse workbook."""
    fast, streaming, sparse = measure(count)
    (rows, seconds, peak, child_peak) = fast
    (their_rows, their_seconds, their_peak, _) = streaming
    assert rows == their_rows == count, (rows, their_rows)
    return (f"XLSX roster read, {count:,} rows (calamine in a child, as the import reads)",
            f"{seconds:.1f} s, {count / seconds:,.0f} rows/s, peak {peak / 2**20:.0f} MiB "
            f"(its child {child_peak / 2**20:.0f} MiB)",
            f"openpyxl alone {their_seconds:.1f} s, peak {their_peak / 2**20:.0f} MiB",
            f"{their_seconds / seconds:.1f}× faster; a {sparse['size'] // 1024} KiB workbook "
            f"with two cells a sheet apart: as deployed {sparse['deployed']}, calamine bare "
            f"{sparse['calamine']}")


def measure(count):
    """((rows, seconds, peak, child's peak) as deployed, the same with openpyxl alone, the
    sparse workbook's outcomes) for a generated roster of ``count`` rows."""
    with tempfile.TemporaryDirectory(prefix="regapp-xlsx-") as folder:
        folder = Path(folder)
        roster = write_workbook(folder / "roster.xlsx", folder / "roster.csv", count)
        fast = _run(_SOURCE, roster, FAST)
        streaming = _run(_SOURCE, roster, STREAMING)
        sparse = write_sparse(folder / "sparse.xlsx")
        return fast, streaming, {"size": sparse.stat().st_size,
                                 "deployed": _outcome(sys.executable, _SOURCE, sparse, FAST),
                                 "calamine": _outcome(sys.executable, _CALAMINE, sparse)}


def write_workbook(path, csv_path, count):
    """The import benchmark's rows as a workbook, every cell text (openpyxl, write-only)."""
    from openpyxl import Workbook

    generate(csv_path, count)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    with open(csv_path, encoding="utf-8", newline="") as f:
        for cells in csv.reader(f, delimiter=";"):
            sheet.append(cells)
    workbook.save(path)
    return path


def write_sparse(path):
    """A roster's header and one cell in the sheet's last corner, XFD1048576."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(HEADER)
    workbook.active["XFD1048576"] = "Иванов"
    workbook.save(path)
    return path


def _run(program, path, *args):
    answer = subprocess.run([sys.executable, "-c", program, str(path), *args],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(answer.stdout)


def _outcome(python, program, path, *args):
    """What reading ``path`` came to: read, refused, or the process ended by a signal."""
    answer = subprocess.run([str(python), "-c", program, str(path), *args],
                            capture_output=True, text=True, cwd=ROOT)
    if answer.returncode < 0:
        last = [line for line in answer.stderr.splitlines() if "failed" in line][:1]
        return f"ended by signal {-answer.returncode} ({'; '.join(last) or 'no message'})"
    if answer.returncode:
        return "refused it («" + (answer.stderr.strip().splitlines() or ["?"])[-1].split(": ", 1)[-1][:60] + "…»)"
    return "read it"


if __name__ == "__main__":
    main()
