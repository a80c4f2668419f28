"""Checking roster rows (R1–R3): one row's cells in, the record's fields or a reason out.

A roster repeats itself: thousands of people share an employer, a first name, a
patronymic, a start date. :class:`RowChecker` checks each distinct spelling of
those columns once per file and remembers the answer (a bounded memory, so a
million rows stay flat); the columns that are unique per person (policy, phone,
e-mail) are checked every time. The answers are the same as checking every cell
afresh: the cache only skips repeated work (tests/test_roster_rows.py).
"""

from __future__ import annotations

import datetime as dt

from regapp import normalize
from regapp.normalize import Invalid
from regapp.texts import key_of
from regapp.texts import text as say

#: distinct spellings remembered per column and file: enough for any employer list or
#: name column, small enough to stay flat on a column that never repeats
CACHE_MOST = 20_000
#: what :meth:`RowChecker.check_cells` returns, in this order (the roster record's columns)
RECORD_FIELDS = ("policy_number", "policy_key", "last_name", "first_name", "patronymic",
                 "name_key", "birth_date", "phone", "email", "email_key", "employer",
                 "valid_from", "valid_to")
NAME_LABELS = {"last_name": "фамилия", "first_name": "имя", "patronymic": "отчество"}
#: the columns checked once a spelling (:meth:`RowChecker._checked`), as a reason names them
LABELS = {**NAME_LABELS, "birth_date": "дата рождения", "employer": "страхователь",
          "valid_from": "дата начала", "valid_to": "дата окончания"}
#: what Excel shows in a cell whose formula gave no value (a lookup's #N/A), and writes
#: so into a CSV: a value of no field (it loaded as a patronymic, an employer, a policy)
EXCEL_ERRORS = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                          "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!",
                          "#CONNECT!", "#UNKNOWN!", "#BUSY!", "#EXTERNAL!", "#PYTHON!"))


class RowChecker:
    """Checks the rows of one file whose headers map to fields as ``mapping`` says."""

    def __init__(self, mapping: dict, today: dt.date | None = None):
        self.mapping = tuple(mapping.items())
        self.headers = tuple(header for header, _ in self.mapping)
        self.fields = tuple(fld for _, fld in self.mapping)
        self.today = today or dt.date.today()
        self._seen = {}

    def cells_of(self, raw: dict) -> tuple:
        """A source's row as this checker reads it: its cells in column order, and whether
        it had more cells than columns (small to hand to another process)."""
        return tuple(map(raw.get, self.headers)), bool(raw.get(None))

    def check(self, raw: dict, warn=None) -> dict:
        """The record's fields for one row; :class:`Invalid` with the reason if it cannot be."""
        return dict(zip(RECORD_FIELDS, self.check_cells(*self.cells_of(raw), warn), strict=True))

    def check_cells(self, values: tuple, overflow: bool, warn=None) -> tuple:
        """:meth:`check` of a row read by :meth:`cells_of`: the values in ``RECORD_FIELDS``
        order (a tuple travels between processes faster than a dict)."""
        if overflow:
            raise Invalid("в строке больше значений, чем столбцов: проверьте разделители и кавычки")
        cells = dict(zip(self.fields, values, strict=True))
        policy_number = normalize.cell_text(cells.get("policy_number"))
        if not policy_number:
            raise Invalid("нет номера полиса")
        _not_excel_error("номер полиса", policy_number)
        # the cleaned number: cleaning again inside policy_key would change nothing (issue 15)
        policy_key = _field("номер полиса", normalize.policy_key, policy_number)
        names = [self._remembered(name, cells.get(name)) for name in NAME_LABELS]
        birth_date = self._remembered("birth_date", cells.get("birth_date"))
        phone = _mobile_or_none(cells.get("phone"), warn)
        email, email_key = _optional("e-mail", normalize.normalize_email, cells.get("email")) or (
            None, None)
        employer, valid_from, valid_to = (self._remembered(name, cells.get(name))
                                          for name in ("employer", "valid_from", "valid_to"))
        if valid_from and valid_to and valid_to < valid_from:
            raise Invalid("дата окончания раньше даты начала")
        for text, mixed, _ in names:
            if mixed and warn:  # said of rows that load, after every check passed
                warn(f"латинская буква среди русских: «{text}» — проверьте в списке")
        name_key = " ".join(key for _, _, key in names if key)
        return (policy_number, policy_key, *(text for text, _, _ in names), name_key, birth_date,
                phone, email, email_key, employer, valid_from, valid_to)

    def _remembered(self, column, value):
        """The checked cell, from this file's memory when the same text came before."""
        if type(value) is not str:  # only text: 1, 1.0 and True are equal keys but not cells
            return self._checked(column, value)
        seen = self._seen.setdefault(column, {})
        answer = seen.get(value)
        if answer is None:
            try:
                answer = (True, self._checked(column, value))
            except Invalid as exc:
                answer = (False, str(exc))
            if len(seen) < CACHE_MOST:
                seen[value] = answer
        if answer[0]:
            return answer[1]
        raise Invalid(answer[1])

    def _checked(self, column, value):
        if type(value) is str:
            _not_excel_error(LABELS[column], value.strip())
        if column in NAME_LABELS:
            if column == "patronymic":
                value = normalize.clean_patronymic(value)
            text = _name(NAME_LABELS[column], value, required=column != "patronymic")
            return text, normalize.has_mixed_script(text), normalize.name_key_part(text)
        if column == "birth_date":
            return _field("дата рождения", lambda v: normalize.parse_birth_date(v, self.today), value)
        if column == "employer":
            return normalize.clean_text(value)
        label = "дата начала" if column == "valid_from" else "дата окончания"
        return _optional(label, normalize.parse_date, value)


def parse_row(raw: dict, mapping: dict, warn=None) -> dict:
    """Check one roster row on its own (what a source's contract test compares)."""
    return RowChecker(mapping).check(raw, warn)


def _not_excel_error(label, cell):
    if cell in EXCEL_ERRORS:
        raise Invalid(f"{label} «{cell}»: {say('cell.excel_error')}")


def _field(label, parse, value):
    try:
        return parse(value)
    except Invalid as exc:
        shown = normalize.cell_text(value)
        raise Invalid(f"{label} «{shown}»: {exc}" if shown else f"{label}: {exc}") from None


def _optional(label, parse, value):
    blank = value is None or (isinstance(value, str) and _blank(value))
    return None if blank else _field(label, parse, value)


def _blank(text):
    """Whether a cell holds nothing but spaces (and invisible characters): for ASCII text,
    whitespace alone, as ``clean_text`` would leave it empty (issue 15: phone and e-mail
    cells are each new, and cleaning them only to see they are not blank cost 2 µs a row)."""
    if text.isascii():
        return not text or text.isspace()
    return not normalize.clean_text(text)


def _mobile_or_none(value, warn):
    """R15 finds a person by phone and/or e-mail: a landline leaves the row without a phone,
    said in a warning, instead of losing the whole row."""
    try:
        return _optional("телефон", normalize.normalize_phone, value)
    except Invalid:
        if not _is_landline(value):
            raise
        if warn:
            warn(f"телефон «{normalize.cell_text(value)}» не мобильный: строка загружена без "
                 "телефона, найти человека можно по e-mail")
        return None


def _is_landline(value):
    try:
        normalize.normalize_phone(value)
    except Invalid as exc:
        return key_of(exc.args[0]) == "phone.not_mobile"
    return False


def _name(label, value, required=False):
    text = normalize.clean_text(value)
    if not text:
        if required:
            raise Invalid(f"нет поля «{label}»")
        return ""
    if len(text) > normalize.NAME_MAX:
        raise Invalid(f"{label}: длиннее {normalize.NAME_MAX} символов")
    if any(ch.isdigit() for ch in text):
        raise Invalid(f"{label} «{text}»: цифры в имени")
    return text
