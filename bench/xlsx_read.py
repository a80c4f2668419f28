"""XLSX rosters (issue 15): the import's reader (openpyxl, streaming) beside python-calamine,
the Rust reader the issue names, on one workbook; and each on a workbook of a few KiB whose
two cells stand a sheet apart.

    python -m bench.xlsx_read [--rows 100000]

Each reader runs in a process of its own, so its peak memory is its own: rows a second and
peak resident memory. openpyxl is read through the roster source itself (plugins/
roster_xlsx.py, defusedxml and all); calamine with the same loop over its rows, from a
virtualenv of the bench's own (``.bench/xlsx``, made on first use), regapp not depending on
it. The import's terms for a faster reader: faster, memory flat (a batch held, never the
file), and no workbook able to end the process reading it.
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
from bench.venvs import ensure_venv  # noqa: E402

CALAMINE = ["python-calamine==0.9.1"]

#: run in a process of its own: (rows, seconds, peak bytes) as JSON on stdout
_OPENPYXL = """
import json, resource, sys, time
from regapp_plugins.roster_xlsx import XlsxRosterSource
started = time.perf_counter()
rows = sum(1 for _ in XlsxRosterSource({}).read(sys.argv[1]))
print(json.dumps([rows, time.perf_counter() - started,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]))
"""
_CALAMINE = """
import json, resource, sys, time
from python_calamine import CalamineWorkbook
started = time.perf_counter()
cells = CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).iter_rows()
header = [str(h).strip() for h in next(cells)]
rows = sum(1 for row in cells if any(str(c).strip() for c in row) and dict(zip(header, row)))
print(json.dumps([rows, time.perf_counter() - started,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(" | ".join(row(args.rows)))


def row(count):
    """The table's row: both readers on ``count`` generated rows and on the sparse workbook."""
    ours, theirs, sparse = measure(count)
    (rows, seconds, peak), (their_rows, their_seconds, their_peak) = ours, theirs
    assert rows == their_rows == count, (rows, their_rows)
    return (f"XLSX roster read, {count:,} rows (openpyxl, as the import reads)",
            f"{seconds:.1f} s, {count / seconds:,.0f} rows/s, peak {peak / 2**20:.0f} MiB",
            f"python-calamine {their_seconds:.1f} s, peak {their_peak / 2**20:.0f} MiB",
            f"calamine {seconds / their_seconds:.0f}× faster, its memory the whole sheet; "
            f"a {sparse['size'] // 1024} KiB workbook with two cells a sheet apart: "
            f"openpyxl {sparse['openpyxl']}, calamine {sparse['calamine']}")


def measure(count):
    """((rows, seconds, peak) openpyxl, the same for calamine, the sparse workbook's
    outcomes) for a generated roster of ``count`` rows."""
    python = ensure_venv("xlsx", CALAMINE) / "python"
    with tempfile.TemporaryDirectory(prefix="regapp-xlsx-") as folder:
        folder = Path(folder)
        roster = write_workbook(folder / "roster.xlsx", folder / "roster.csv", count)
        ours = _run(sys.executable, _OPENPYXL, roster)
        theirs = _run(python, _CALAMINE, roster)
        sparse = write_sparse(folder / "sparse.xlsx")
        return ours, theirs, {"size": sparse.stat().st_size,
                              "openpyxl": _outcome(sys.executable, _OPENPYXL, sparse),
                              "calamine": _outcome(python, _CALAMINE, sparse)}


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


def _run(python, program, path):
    answer = subprocess.run([str(python), "-c", program, str(path)], capture_output=True,
                            text=True, cwd=ROOT, check=True)
    return json.loads(answer.stdout)


def _outcome(python, program, path):
    """What reading ``path`` came to: read, refused, or the process ended by a signal."""
    answer = subprocess.run([str(python), "-c", program, str(path)], capture_output=True,
                            text=True, cwd=ROOT)
    if answer.returncode < 0:
        last = [line for line in answer.stderr.splitlines() if "failed" in line][:1]
        return f"ended by signal {-answer.returncode} ({'; '.join(last) or 'no message'})"
    if answer.returncode:
        return "refused it («" + (answer.stderr.strip().splitlines() or ["?"])[-1].split(": ", 1)[-1][:60] + "…»)"
    return "read it"


if __name__ == "__main__":
    main()
