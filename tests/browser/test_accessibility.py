"""Every page and error state checked by axe-core at WCAG 2.1 AA, and photographed at a
phone's and a laptop's size (issue 14).

axe-core comes with the ``axe-playwright-python`` package (installed by pip, run inside the
page under test, never fetched). Screenshots go to ``test-artifacts/screens/`` (ignored by
git); the README shows the main ones.
"""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, open_page
from tests.browser.person import press, retype, send_invitation_form, type_into

SCREENS = ARTIFACTS.parent / "screens"
SIZES = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 800}}
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              "resultTypes": ["violations"]}
PETROV_PHONE = "+79161234567"


def _states(page, portal):
    """(name, how to get there): each page and error state a person can meet."""
    link = portal.link_sent_to("a.petrov@example.com", "/invite/")

    def submit_empty(path, button):
        def go():
            page.goto(path)
            press(page, button, most=40)
            expect(page.get_by_role("alert").first).to_be_visible()
        return go

    def link_code_step():
        page.goto(link)
        send_invitation_form(page, "ДМС-2025-000101", "89161234567")

    def wrong_code():
        type_into(page, "Код из СМС", "000000", first=True)
        press(page, "Подтвердить")
        expect(page.locator("#code-error")).not_to_be_empty()

    def account():
        retype(page, "Код из СМС", portal.code_sent_to(PETROV_PHONE))
        press(page, "Подтвердить")
        page.wait_for_url("**/account")

    return [
        ("start", lambda: page.goto("/")),
        ("login", lambda: page.goto("/login")),
        ("login-refused", submit_empty("/login", "Войти")),
        ("register", lambda: page.goto("/register")),
        ("register-refused", submit_empty("/register", "Зарегистрироваться")),
        ("forgot", lambda: page.goto("/login/forgot")),
        ("invitation", lambda: page.goto(link)),
        ("invitation-refused", submit_empty(link, "Зарегистрироваться")),
        ("invitation-broken", lambda: page.goto("/invite/not-a-real-token")),
        ("terms", lambda: page.goto("/documents/terms/1")),
        ("not-found", lambda: page.goto("/no-such-page")),
        ("code", link_code_step),
        ("code-refused", wrong_code),
        ("account", account),
        ("account-password", lambda: page.goto("/account/password")),
        ("account-phone", lambda: page.goto("/account/phone")),
    ]


@pytest.fixture
def checked_page(browser, portal):
    """A tab where axe may run: it sets inline styles to measure contrast, which the CSP
    refuses, so this tab alone bypasses the CSP (every other walk keeps it)."""
    context, tab, watch = open_page(browser, portal.base, bypass_csp=True)
    watch.expect_status(404)  # the broken link and the missing page answer so
    yield tab
    context.close()
    assert not watch.problems, "\n".join(watch.problems)


def test_every_page_and_error_state_passes_axe(checked_page, portal):
    page = checked_page
    SCREENS.mkdir(parents=True, exist_ok=True)
    axe, found = Axe(), {}
    for name, go in _states(page, portal):
        go()
        page.wait_for_load_state()
        results = axe.run(page, options=WCAG_21_AA)
        if results.violations_count:
            found[name] = _described(results.response["violations"])
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            page.screenshot(path=str(SCREENS / f"{name}-{size}.png"), full_page=True)
        page.set_viewport_size(SIZES["phone"])
    assert not found, "\n".join(f"{name}: {v}" for name, items in found.items() for v in items)


def _described(violations):
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(re.sub(r"\s+", " ", n["html"])[:120] for n in v["nodes"][:3])
            for v in violations]


@pytest.mark.parametrize("path", ["/register", "/login"])
def test_the_focus_is_visible_on_everything_tab_reaches(page, portal, path):  # issue 14
    page.goto(path)
    seen = []
    for _ in range(30):
        page.keyboard.press("Tab")
        outline = page.evaluate("""() => {
            const element = document.activeElement;
            const style = getComputedStyle(element);
            return [element.tagName + '#' + element.id, style.outlineStyle, style.outlineWidth];
        }""")
        seen.append(outline)
    hidden = [s for s in seen if s[0] != "BODY#" and (s[1] == "none" or s[2] == "0px")]
    assert not hidden, hidden


def test_the_staff_console_passes_axe(checked_page, portal, tmp_path):  # issue 16
    from tests.browser.test_staff import sign_in_as

    page = checked_page
    page.goto("/staff/login")
    _axe_clean(page, "staff-login")
    sign_in_as(page, "Лидия Старшая (lead@insurer.example; группы: regapp-operators, "
                     "regapp-support)")
    roster = tmp_path / "list.csv"
    roster.write_text("Номер полиса;Фамилия;Имя;Дата рождения\nДМС-9;Новикова;Анна;03.04.1991\n"
                      "ДМС-10;Ряд;Плохой;31.02.1990\n", encoding="utf-8")
    for name, path in [("staff-home", "/staff/"), ("staff-support", "/staff/support?q=ДМС-2025-000101"),
                       ("staff-roster", "/staff/roster"), ("staff-invitations", "/staff/invitations"),
                       ("staff-funnel", "/staff/funnel"), ("staff-deliveries", "/staff/deliveries"),
                       ("staff-audit", "/staff/audit")]:
        page.goto(path)
        _axe_clean(page, name)
    page.goto("/staff/roster")
    page.get_by_label("Файл списка застрахованных (CSV или XLSX)").set_input_files(str(roster))
    page.get_by_role("button", name="Проверить").click()
    expect(page.get_by_role("button", name="Загрузить")).to_be_visible(timeout=20_000)
    _axe_clean(page, "staff-job")


def _axe_clean(page, name):
    page.wait_for_load_state()
    results = Axe().run(page, options=WCAG_21_AA)
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}-phone.png"), full_page=True)
    assert not results.violations_count, f"{name}: {_described(results.response['violations'])}"
