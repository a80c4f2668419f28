"""XLSX rosters (issue 15): the roster source as deployed (python-calamine in a child
process under its memory cap, openpyxl for what that leaves) beside openpyxl alone, the
streaming reader it used to be, on a roster saved as Excel saves text (shared strings)
and as openpyxl and scripts write it (each cell its own text); and each, with calamine
bare, on a workbook of a few KiB whose two cells stand a sheet apart.

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
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.roster_import import HEADER, generate  # noqa: E402
from tests.rosters import SPREADSHEET, with_shared_strings  # noqa: E402

#: run in a process of its own: (rows, seconds, peak bytes, the child's peak) on stdout;
#: argv[2] is ROSTER_XLSX_FAST_MEMORY (0: openpyxl alone). Its own peak is its memory's
#: (VmHWM): Linux's ru_maxrss keeps the bench's own from before the exec
_SOURCE = """
import json, resource, sys, time
from regapp_plugins.roster_xlsx import XlsxRosterSource
started = time.perf_counter()
source = XlsxRosterSource({"ROSTER_XLSX_FAST_MEMORY": int(sys.argv[2])})
rows = sum(1 for _ in source.read(sys.argv[1]))
seconds = time.perf_counter() - started
peak = next(int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps([rows, seconds, peak * 1024,
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
    for line in rows(args.rows):
        print(" | ".join(line))


def rows(count):
    """The table's rows: both ways on ``count`` generated rows in each shape, the last
    with the sparse workbook's outcomes."""
    shapes, sparse = measure(count)
    said = []
    for shape, (fast, streaming) in shapes.items():
        (read, seconds, peak, child_peak) = fast
        (their_read, their_seconds, their_peak, _) = streaming
        assert read == their_read == count, (shape, read, their_read)
        said.append([f"XLSX roster read, {count:,} rows {shape} (calamine in a child, as the "
                     "import reads)",
                     f"{seconds:.1f} s, {count / seconds:,.0f} rows/s, peak "
                     f"{peak / 2**20:.0f} MiB (its child {child_peak / 2**20:.0f} MiB)",
                     f"openpyxl alone {their_seconds:.1f} s, peak {their_peak / 2**20:.0f} MiB",
                     f"{their_seconds / seconds:.1f}× faster"])
    said[-1][-1] += (f"; a {sparse['size'] // 1024} KiB workbook with two cells a sheet "
                     f"apart: as deployed {sparse['deployed']}, calamine bare "
                     f"{sparse['calamine']}")
    return [tuple(line) for line in said]


def measure(count):
    """({shape: ((rows, seconds, peak, child's peak) as deployed, the same with openpyxl
    alone)}, the sparse workbook's outcomes) for a generated roster of ``count`` rows."""
    with tempfile.TemporaryDirectory(prefix="regapp-xlsx-") as folder:
        folder = Path(folder)
        inline = write_workbook(folder / "roster.xlsx", folder / "roster.csv", count)
        shared = write_as_excel(folder / "excel.xlsx", inline, folder / "roster.csv")
        shapes = {shape: (_run(_SOURCE, roster, FAST), _run(_SOURCE, roster, STREAMING))
                  for shape, roster in (("as Excel saves them", shared),
                                        ("as openpyxl writes them", inline))}
        sparse = write_sparse(folder / "sparse.xlsx")
        return shapes, {"size": sparse.stat().st_size,
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


def write_as_excel(path, inline, csv_path):
    """The same rows as Excel saves text: each cell a number in the shared strings, one a
    distinct text (the sheet written as it is made, the strings held)."""
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(inline) as archive:
        parts = {item.filename: archive.read(item) for item in archive.infolist()
                 if item.filename != sheet}
    strings = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(sheet, "w", force_zip64=True) as out, \
                open(csv_path, encoding="utf-8", newline="") as f:
            out.write(f"<worksheet {SPREADSHEET}><sheetData>".encode())
            for line, cells in enumerate(csv.reader(f, delimiter=";"), start=1):
                out.write(f'<row r="{line}">'.encode() + "".join(
                    f'<c r="{chr(65 + column)}{line}" t="s"><v>'
                    f'{strings.setdefault(text, len(strings))}</v></c>'
                    for column, text in enumerate(cells) if text).encode() + b"</row>")
            out.write(b"</sheetData></worksheet>")
        every = "".join(f"<si><t>{escape(text)}</t></si>" for text in strings)
        with_shared_strings(parts, f'<sst {SPREADSHEET} count="{len(strings)}" '
                                   f'uniqueCount="{len(strings)}">{every}</sst>')
        for name, data in parts.items():
            archive.writestr(name, data)
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
