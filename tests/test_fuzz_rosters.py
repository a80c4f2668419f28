"""Property-based hostile rosters (issue 13): arbitrary cells in CSV of every encoding and
separator, arbitrary bytes under a roster's name, XLSX workbooks of arbitrary cells and
broken or inflating archives. `regapp roster import` either loads what is valid and reports
every other row, or exits 2 with a reason and changes nothing; never a traceback.
Bounded here; ``tox -e soak`` runs more (``HYPOTHESIS_PROFILE=soak``)."""

import csv
import io
import json
import zipfile

from hypothesis import event, given
from hypothesis import strategies as st

from regapp.models import RosterRecord
from tests.rosters import EN_HEADER, PEOPLE, RU_HEADER, write_xlsx
from tests.test_fuzz_forms import FRAGMENTS, texts

#: cells a roster may hold, valid ones among them so some rows load
cells = st.one_of(st.sampled_from(FRAGMENTS), texts, st.sampled_from(
    [c for row in PEOPLE for c in row]), st.just(""))
headers = st.one_of(st.just(RU_HEADER), st.just(EN_HEADER),
                    st.permutations(RU_HEADER), st.lists(st.sampled_from(RU_HEADER + ["?"]),
                                                         max_size=12))
rows = st.lists(st.lists(cells, max_size=12), max_size=8)


def _roster():
    return sorted((r.policy_key, r.last_name, r.phone, r.email, r.valid_to)
                  for r in RosterRecord.select())


def _import(cli, path, before):
    """Import; a refusal must change nothing, an import must account for what it did."""
    result = cli("roster", "import", str(path), "--json")
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), (result.output, result.exception)
    if result.exit_code == 2:
        assert "Файл не загружен" in (result.stderr or result.output)
        assert _roster() == before
    else:  # every row accounted for: the roster grew by what was added, and no more
        report = json.loads(result.stdout)
        assert len(_roster()) == len(before) + report["added"]
        assert all(item["reason"] and item["line"] >= 2 for item in report["rejected"])
    return result


@given(header=headers, body=rows,
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "utf-16", "koi8-r"]),
       delimiter=st.sampled_from([";", ",", "\t", "|"]))
def test_any_csv(app, cli, tmp_path, header, body, encoding, delimiter):
    path = tmp_path / "roster.csv"
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerows([header, *body])
    path.write_bytes(text.getvalue().encode(encoding, errors="replace"))
    _import(cli, path, _roster())


@given(content=st.binary(max_size=2000), name=st.sampled_from(["r.csv", "r.xlsx"]))
def test_any_bytes(app, cli, tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    _import(cli, path, _roster())


@given(header=headers, body=rows)
def test_any_workbook(app, cli, tmp_path, header, body):
    path = write_xlsx(tmp_path / "roster.xlsx", [[_xlsx_safe(c) for c in row] for row in body],
                      header=header)
    _import(cli, path, _roster())


@given(part=st.sampled_from(["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml",
                             "xl/workbook.xml", "[Content_Types].xml", "xl/styles.xml"]),
       filler=st.sampled_from([b"A", b"<x/>", b"\x00", b"&lol;", b"<"]),
       size=st.integers(min_value=0, max_value=4 * 2**20), doctype=st.booleans())
def test_a_workbook_with_a_part_replaced(app, cli, tmp_path, part, filler, size, doctype):
    """Broken, inflating or entity-laden parts in a real workbook: refused, nothing changed.
    Without the DOCTYPE (whose entity defusedxml refuses first), a part that is not XML."""
    good = write_xlsx(tmp_path / "good.xlsx", PEOPLE)
    path = tmp_path / "roster.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == part:
                data = (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY lol 'lol'>]>" * doctype
                        + b"<sst>" + filler * (size // len(filler)) + b"</sst>")
            out.writestr(item, data)
    _import(cli, path, _roster())


def _xlsx_safe(cell):
    """openpyxl refuses control characters in cells: the file could not hold them anyway."""
    return "".join(ch for ch in cell if ch >= " " and not 0xD800 <= ord(ch) <= 0xDFFF)
