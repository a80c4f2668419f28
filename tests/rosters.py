"""Roster files for the tests, written in each format and encoding."""

import csv
import datetime as dt
import re
import zipfile

from openpyxl import Workbook, load_workbook

RU_HEADER = ["Номер полиса", "Фамилия", "Имя", "Отчество", "Дата рождения",
             "Мобильный телефон", "E-mail", "Страхователь", "Дата начала", "Дата окончания"]
EN_HEADER = ["policy_number", "last_name", "first_name", "patronymic", "birth_date",
             "phone", "email", "employer", "valid_from", "valid_to"]

PEOPLE = [
    ["ДМС-101", "Петров", "Александр", "Иванович", "14.03.1985", "+7 (916) 123-45-67",
     "a.petrov@example.com", "ООО «Ромашка»", "01.01.2025", ""],
    ["ДМС-102", "Семёнова", "Алёна", "Петровна", "02.07.1990", "8 903 765-43-21",
     "alena@example.com", "ООО «Ромашка»", "", "31.12.2030"],
    ["ДМС-103", "Мамедов", "Али", "Гасан оглы", "1988-11-21", "", "ali@example.com",
     "АО «Вектор»", "", ""],
]


def write_csv(path, rows, header=RU_HEADER, encoding="utf-8", delimiter=";"):
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def write_xlsx(path, rows, header=RU_HEADER):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return str(path)


def far_corner(path, corner):
    """PEOPLE in a workbook with one more cell at ``corner`` (XFD1048576: the sheet's
    last): a few KiB, and every cell between the table and the corner empty."""
    workbook = load_workbook(write_xlsx(path, PEOPLE))
    workbook.active[corner] = "Иванов"
    workbook.save(path)
    return str(path)


def person(policy, last="Иванов", first="Иван", patronymic="Иванович", born="01.02.1985",
           phone="", email="", employer="", start="", end=""):
    return [policy, last, first, patronymic, born, phone, email, employer, start, end]


def typed_xlsx_people():
    """PEOPLE as Excel stores them when HR types numbers and dates into cells."""
    return [
        ["ДМС-101", "Петров", "Александр", "Иванович", dt.datetime(1985, 3, 14),
         79161234567.0, "a.petrov@example.com", "ООО «Ромашка»", dt.datetime(2025, 1, 1), None],
        ["ДМС-102", "Семёнова", "Алёна", "Петровна", dt.datetime(1990, 7, 2), "8 903 765-43-21",
         "alena@example.com", "ООО «Ромашка»", None, dt.datetime(2030, 12, 31)],
        ["ДМС-103", "Мамедов", "Али", "Гасан оглы", dt.date(1988, 11, 21), None,
         "ali@example.com", "АО «Вектор»", None, None],
    ]


SPREADSHEET = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def rewritten(path, change):
    """The workbook at ``path`` with ``change(parts)`` made to its parts, by name."""
    with zipfile.ZipFile(path) as archive:
        parts = {item.filename: archive.read(item) for item in archive.infolist()}
    change(parts)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


#: a text cell as openpyxl writes it
_INLINE = re.compile(r'<c ([^>]*?) ?t="inlineStr"><is>(.*?)</is></c>', re.S)


def as_shared_strings(parts):
    """openpyxl's inline text made shared strings, one a distinct text, as Excel writes."""
    strings = {}

    def shared(cell):
        return f'<c {cell[1]} t="s"><v>{strings.setdefault(cell[2], len(strings))}</v></c>'

    sheet = _INLINE.sub(shared, parts["xl/worksheets/sheet1.xml"].decode())
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    every = "".join(f"<si>{text}</si>" for text in strings)
    with_shared_strings(parts, f'<sst {SPREADSHEET} count="{len(strings)}" '
                               f'uniqueCount="{len(strings)}">{every}</sst>')


def with_shared_strings(parts, xml):
    """The workbook's parts with ``xml`` as its shared strings."""
    parts["xl/sharedStrings.xml"] = xml.encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>'))
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", (b'<Relationship Type="http://schemas.openxmlformats.org/'
                              b'officeDocument/2006/relationships/sharedStrings" '
                              b'Target="sharedStrings.xml" Id="rId9" /></Relationships>'))
