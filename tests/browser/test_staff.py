"""The staff console in a browser (issue 16), JavaScript on and off, behind the SSO round trip:
the demo's QA mode mounts the fake OpenID Connect provider, whose page the walk goes through
as staff would (keys only)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import crowd
from tests.browser.person import press, type_into
from tests.rosters import (
    PEOPLE,
    as_shared_strings,
    far_corner,
    rewritten,
    typed_xlsx_people,
    write_xlsx,
)

DEMO_ROSTER_POLICY = "ДМС-2025-000101"


def sign_in_as(page, who):
    """From /staff/ through the provider's page and back, signed in."""
    page.goto("/staff/")
    page.wait_for_url("**/staff/login")
    press(page, "Войти через корпоративную учётную запись", most=12)
    page.wait_for_url("**/qa/fake-oidc/authorize**")
    choice = page.get_by_label(who)
    choice.focus()
    page.keyboard.press("Space")
    press(page, "Войти", most=8)
    page.wait_for_url("**/staff/")
    expect(page.get_by_role("heading", name="Кабинет сотрудника")).to_be_visible()


def check_and_load(page, roster, added, rejected=None):
    """The roster checked, its report read (a rejected row's words too), then loaded."""
    page.goto("/staff/roster")
    page.get_by_label("Файл списка застрахованных (CSV или XLSX)").set_input_files(str(roster))
    press(page, "Проверить", most=10)
    expect(page.get_by_role("status").first).to_contain_text(f"добавится {added}",
                                                              timeout=20_000)
    if rejected:
        expect(page.locator(".rejected")).to_contain_text(rejected)
    press(page, "Загрузить", most=10)
    expect(page.get_by_role("status").first).to_contain_text(f"Загружено: добавится {added}",
                                                              timeout=20_000)


def test_support_finds_a_person_and_resends_the_invitation(page, portal):
    sign_in_as(page, "Сергей Поддержкин (support@insurer.example; группы: regapp-support)")
    page.get_by_role("link", name="Поиск застрахованного").focus()
    page.keyboard.press("Enter")
    type_into(page, "Номер полиса, телефон или e-mail", DEMO_ROSTER_POLICY, first=True)
    page.keyboard.press("Enter")
    expect(page.locator(".support-findings")).to_contain_text("Петров")
    type_into(page, f"Причина: отправить приглашение заново ({DEMO_ROSTER_POLICY})",
              "звонок на линию: письмо не пришло", first=True)
    press(page, f"Отправить приглашение заново ({DEMO_ROSTER_POLICY})")
    expect(page.get_by_role("status").first).to_contain_text("Приглашение отправлено заново")
    page.watch.expect_status(403)
    page.goto("/staff/audit")  # support is not an operator
    expect(page.get_by_role("heading", name="Нет доступа")).to_be_visible()


def test_support_ends_a_persons_sessions_with_a_reason(page, portal):
    portal.add_account("+79161234567", "correct horse battery staple")
    sign_in_as(page, "Сергей Поддержкин (support@insurer.example; группы: regapp-support)")
    page.goto("/staff/support")
    type_into(page, "Номер полиса, телефон или e-mail", "+7 916 123-45-67", first=True)
    page.keyboard.press("Enter")
    expect(page.locator(".support-findings")).to_contain_text("Зарегистрирован")
    type_into(page, "Причина: завершить сеансы (+79161234567)", "звонок: телефон украден",
              first=True)
    press(page, "Завершить все сеансы (+79161234567)", most=12)
    expect(page.get_by_role("status").first).to_contain_text("Сеансы застрахованного завершены")


def test_an_operator_checks_and_loads_a_roster_then_reads_the_funnel(page, portal, tmp_path):
    sign_in_as(page, "Ольга Операторова (operator@insurer.example; группы: regapp-operators)")
    roster = tmp_path / "новый список.csv"
    roster.write_text("Номер полиса;Фамилия;Имя;Отчество;Дата рождения;Мобильный телефон;"
                      "E-mail;Страхователь;Дата начала;Дата окончания\n"
                      "ДМС-2026-900001;Новикова;Анна;Сергеевна;03.04.1991;+79167770011;"
                      "anna@example.com;ООО «Новая»;01.01.2026;\n"
                      "ДМС-2026-900002;Плохой;Ряд;;31.02.1990;;;ООО «Новая»;;\n", encoding="utf-8")
    check_and_load(page, roster, added=1, rejected="строка 3")
    page.goto("/staff/funnel")
    expect(page.get_by_role("row", name="ООО «Новая»")).to_be_visible()
    page.goto("/staff/invitations")
    expect(page.locator("body")).to_contain_text("Новых приглашений: 1")
    press(page, "Отправить приглашения", most=10)
    expect(page.get_by_role("status").first).to_contain_text("Отправлено приглашений: 1",
                                                              timeout=20_000)
    assert portal.wait_for_message("anna@example.com")["subject"]


def test_an_operator_is_told_why_a_workbook_is_refused(page, portal, tmp_path):
    # issue 15: a cell in the sheet's last corner left the check reading empty cells for hours
    sign_in_as(page, "Ольга Операторова (operator@insurer.example; группы: regapp-operators)")
    page.goto("/staff/roster")
    page.get_by_label("Файл списка застрахованных (CSV или XLSX)").set_input_files(
        far_corner(tmp_path / "список.xlsx", "XFD1048576"))
    press(page, "Проверить", most=10)
    expect(page.get_by_role("alert")).to_contain_text(
        "Не получилось, ничего не изменено: на листе пустые клетки тянутся далеко за таблицу",
        timeout=60_000)
    expect(page.get_by_role("alert")).to_contain_text("удалите строки и столбцы за таблицей")


def test_an_operator_loads_a_workbook_with_typed_cells(page, portal, tmp_path):
    # issue 15: read by calamine in a process of its own, numbers and dates as Excel keeps them
    sign_in_as(page, "Ольга Операторова (operator@insurer.example; группы: regapp-operators)")
    rows = [[f"ДМС-2026-91000{n}", *row[1:]] for n, row in enumerate(typed_xlsx_people())]
    check_and_load(page, write_xlsx(tmp_path / "список.xlsx", rows), added=3)
    page.goto("/staff/funnel")
    expect(page.get_by_role("row", name="АО «Вектор»")).to_be_visible()


def test_an_operator_loads_an_excel_list_with_a_lookups_na(page, portal, tmp_path):
    # issue 15: text as Excel saves it (shared strings) and a VLOOKUP's #N/A, read by
    # calamine: the row with it refused, never loaded without its patronymic
    sign_in_as(page, "Ольга Операторова (operator@insurer.example; группы: regapp-operators)")
    rows = [[f"ДМС-2026-92000{n}", *row[1:]] for n, row in enumerate(PEOPLE)]

    def lookup_failed(parts):
        parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
            '<c r="D2" t="inlineStr"><is><t>Иванович</t></is></c>'.encode(),
            b'<c r="D2" t="e"><f>VLOOKUP(A2,B:C,2,0)</f><v>#N/A</v></c>')
        as_shared_strings(parts)

    workbook = rewritten(write_xlsx(tmp_path / "список.xlsx", rows), lookup_failed)
    check_and_load(page, workbook, added=2, rejected="строка 2: отчество «#N/A»: ошибка Excel")


def test_support_unlinks_gosuslugi_and_an_operator_reads_why_then_signs_out(page, portal):
    from regapp import db
    from regapp.models import Account

    portal.add_account("+79161234567", "correct horse battery staple")
    with db.bind(portal.database).connection_context():
        Account.update(esia_id="1000001").execute()
    sign_in_as(page, "Лидия Старшая (lead@insurer.example; группы: regapp-operators, "
                     "regapp-support)")
    page.goto("/staff/support?q=%2B79161234567")
    type_into(page, "Причина: отключить Госуслуги (+79161234567)",
              "заявление 77: чужая учётная запись", first=True)
    press(page, "Отключить Госуслуги (+79161234567)", most=12)
    expect(page.get_by_role("status").first).to_contain_text("Госуслуги отключены")
    page.goto("/staff/audit")
    expect(page.get_by_role("row", name=re.compile("unlink_esia"))).to_contain_text(
        "заявление 77: чужая учётная запись")
    page.goto("/staff/")
    press(page, "Выйти", most=12)
    page.wait_for_url("**/staff/login")
    expect(page.get_by_role("status").first).to_contain_text("Вы вышли из кабинета сотрудника")
    page.goto("/staff/audit")
    page.wait_for_url("**/staff/login")


def test_an_operator_downloads_the_funnel_as_csv(page, portal):
    sign_in_as(page, "Ольга Операторова (operator@insurer.example; группы: regapp-operators)")
    page.goto("/staff/funnel")
    page.watch.expect_download("format=csv")
    with page.expect_download() as download:
        press(page, "Скачать CSV", most=20)  # a date field is three stops
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.startswith("Страхователь;В списке") and "ООО «Ромашка»" in text


@pytest.mark.settings(STAFF_RECHECK_SECONDS=1)
def test_an_operator_taken_out_of_the_group_loses_the_console_at_the_next_look(
        page, portal, tmp_path):
    """While a long check of her roster runs, QA takes the operator out of the operators'
    group on the fake provider's members page (keys only, another tab): the job's page,
    asking again every second (htmx; a reload without JavaScript), becomes the sign-in
    page, saying why."""
    sign_in_as(page, "Ольга Операторова (operator@insurer.example; группы: regapp-operators)")
    directory = page.context.new_page()
    directory.goto("/qa/fake-oidc/members")
    member = directory.get_by_role("group", name="Ольга Операторова (operator@insurer.example)")
    group = member.get_by_label("regapp-operators")
    expect(group).to_be_checked()
    group.focus()
    directory.keyboard.press("Space")
    page.goto("/staff/roster")
    page.get_by_label("Файл списка застрахованных (CSV или XLSX)").set_input_files(
        str(crowd.write_roster(tmp_path / "большой список.csv", 100_000)))
    press(page, "Проверить", most=10)
    expect(page.get_by_role("status").first).to_contain_text(re.compile("очереди|Идёт работа"))
    press(directory, "Сохранить: Ольга Операторова", most=8)
    expect(directory.get_by_role("group", name="Ольга Операторова (operator@insurer.example)")
           .get_by_label("regapp-operators")).not_to_be_checked()
    page.wait_for_url("**/staff/login", timeout=15_000)
    expect(page.get_by_text("нет доступа к кабинету сотрудника")).to_be_visible()
