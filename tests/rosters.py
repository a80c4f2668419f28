"""Roster files for the tests, written in each format and encoding."""

import csv
import datetime as dt

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
