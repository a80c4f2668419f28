"""The import's speed-ups change no answer (issue 15, R1–R3).

A file's checker remembers each distinct name, employer and date it checked, and
long files are checked in worker processes: both must answer every row exactly as a
fresh check of that row alone does, in file order.
"""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regapp import normalize, roster_workers
from regapp.models import RosterRecord
from regapp.normalize import Invalid
from regapp.roster import column_map
from regapp.roster_rows import RECORD_FIELDS, RowChecker

HEADERS = ["Номер полиса", "Фамилия", "Имя", "Отчество", "Дата рождения", "Мобильный телефон",
           "E-mail", "Страхователь", "Дата начала", "Дата окончания"]
MAPPING = column_map(HEADERS)
TODAY = dt.date(2026, 11, 26)

#: cells from a small pool, so rows repeat them as rosters do; some bad on purpose
names = st.sampled_from(["Иванов", "иванов", "Петров-Водкин", "Ivanov", "Иvanов", "", "-",
                         "нет", "Мамедов1", "Семёнова", None, 5.0, "#N/A", " #REF! "])
dates = st.sampled_from(["01.02.1990", "1990-02-01", "31.02.1990", "01.02.2090", "", None,
                         dt.datetime(1985, 3, 4), 30000, "nonsense", "05111978", "#VALUE!"])
phones = st.sampled_from(["+7 916 123-45-67", "8 (495) 123-45-67", "89031234567", "", None,
                          "12", "+7 930 123 45 67"])
emails = st.sampled_from(["a@example.com", "A.B@Example.RU", "кто@пример.рф", "", None, "x@@y"])
policies = st.sampled_from(["P1", "P-2", "№ 3", "", None, "p1", "#N/A"])
rows = st.lists(st.tuples(policies, names, names, names, dates, phones, emails,
                          st.sampled_from(["ООО «Ромашка»", "", None, "АО  Вектор"]),
                          dates, dates), max_size=30)


def _alone(raw):
    """One row checked by a checker that has seen nothing else."""
    warnings = []
    try:
        return RowChecker(MAPPING, TODAY).check(raw, warnings.append), warnings
    except Invalid as exc:
        return str(exc), warnings


@given(rows)
def test_a_checker_that_remembers_answers_as_a_fresh_one(cells):
    checker = RowChecker(MAPPING, TODAY)
    for values in cells:
        raw = dict(zip(HEADERS, values, strict=True))
        warnings = []
        try:
            answer = checker.check(raw, warnings.append)
        except Invalid as exc:
            answer = str(exc)
        assert (answer, warnings) == _alone(raw), raw


@pytest.mark.parametrize("column", ["Номер полиса", "Фамилия", "Отчество", "Дата рождения",
                                    "Страхователь", "Дата начала"])
def test_an_excel_error_refuses_its_row_whatever_the_column(column):
    # a lookup's #N/A loaded as a patronymic (no digits in it), an employer, a policy number
    raw = dict(zip(HEADERS, ["P1", "Иванов", "Иван", "Иванович", "01.02.1990",
                             "+7 916 123-45-67", "a@example.com", "ООО «Ромашка»",
                             "01.01.2025", ""], strict=True))
    assert RowChecker(MAPPING, TODAY).check(raw)["patronymic"] == "Иванович"
    raw[column] = "#N/A"
    with pytest.raises(Invalid, match="«#N/A»: ошибка Excel: формула в клетке не дала значения"):
        RowChecker(MAPPING, TODAY).check(raw)


def test_the_name_key_is_made_of_the_fields_keys():
    fields = RowChecker(MAPPING, TODAY).check(dict(zip(HEADERS, [
        "P1", "Петров-Водкин", "Кузьма", "Сергеевич", "05.11.1978", "", "", "", "", ""],
        strict=True)))
    assert fields["name_key"] == normalize.name_key("Петров Водкин", "Кузьма", "Сергеевич")


def test_the_checked_fields_are_the_roster_records_columns():
    columns = [f.name for f in RosterRecord._meta.sorted_fields]
    assert columns == ["id", *RECORD_FIELDS, "created_at", "updated_at"]


def test_rows_checked_in_worker_processes_come_back_in_file_order(monkeypatch):
    monkeypatch.setattr(roster_workers, "CHUNK", 7)  # many chunks, several in flight
    people = [(n, dict(zip(HEADERS, [f"P{n}", "Иванов", "Иван", "", "01.02.1990" if n % 5 else "bad",
                                     "", "", "", "", ""], strict=True))) for n in range(2, 200)]
    parallel = list(roster_workers.checked_chunks(iter(people), MAPPING, workers=2))
    inline = list(roster_workers.checked_chunks(iter(people), MAPPING, workers=1))
    assert parallel == inline
    assert [count for count, _, _ in parallel] == [7] * 28 + [2]
    good = [line for _, rows, _ in parallel for line, _ in rows]
    refused = [line for _, _, said in parallel for line, reason, _ in said if reason]
    assert refused == list(range(5, 200, 5))
    assert sorted(good + refused) == [n for n, _ in people] and good == sorted(good)


def test_a_long_rosters_checkers_yield_the_cores():  # issue 15
    """Checking a roster on every core must not stall a registration's hash, which yields
    to pages at SCHED_IDLE too (regapp.priority): the checkers share that class with it."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"),
                             initializer=roster_workers._start_worker,
                             initargs=(MAPPING, TODAY, list)) as pool:
        assert pool.submit(os.sched_getscheduler, 0).result() == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the importer, writing, does not
