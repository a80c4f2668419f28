"""Registration walked in Chromium with real key presses, JavaScript on and off (issue 9, R30).

The demo roster's people: Петров (ДМС-2025-000101, +7 916 123-45-67, a.petrov@example.com)
and Семёнова (ДМС-2025-000102, +7 903 765-43-21, alena.semenova@example.com).
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.person import (
    GOOD,
    at_account,
    error_of,
    field,
    leave,
    mark_page,
    press,
    retype,
    same_page,
    send_invitation_form,
    send_with_password,
    tick_consents,
    type_code,
    type_into,
)

PETROV_EMAIL = "a.petrov@example.com"
PETROV_PHONE = "+79161234567"


def open_invitation(page, portal, email=PETROV_EMAIL):
    page.goto(portal.link_sent_to(email, "/invite/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Здравствуйте")


def test_registration_by_link_keeps_what_was_typed(page, portal):  # R7-R12, issue 9
    open_invitation(page, portal)
    type_into(page, "Номер полиса", "ДМС-2025-000101", first=True)
    leave(page, checked="policy")
    page.keyboard.type("8 916 123-45-67", delay=5)
    leave(page, checked="phone")
    page.keyboard.type(GOOD, delay=5)
    if page.js:  # the hints tick as one types, without a page load
        mark_page(page)
        expect(page.locator("#password-hints .hint--met")).to_have_count(3)
    confirmation = type_into(page, "Подтверждение пароля", GOOD)
    leave(page, checked="confirmation")

    # the check has answered: the confirmation still holds what was typed, the focus
    # stayed on the check-box the person tabbed to, and no error stands there
    expect(confirmation).to_have_value(GOOD)
    expect(field(page, "Пароль")).to_have_value(GOOD)
    expect(error_of(page, "confirmation")).to_be_empty()
    tick_consents(page, start_with_tab=False)
    if page.js:
        assert same_page(page)
    press(page, "Зарегистрироваться")

    page.wait_for_url("**/register/code")
    type_code(page, "Код из СМС", portal.code_sent_to(PETROV_PHONE))
    at_account(page, "Александр")


def test_mistakes_on_the_link_form_are_corrected_in_place(page, portal):  # R8, R10, R28
    open_invitation(page, portal)
    type_into(page, "Номер полиса", "ДМС-2025-000102", first=True)  # a neighbour's policy
    leave(page, checked="policy")
    page.keyboard.type("89161234567", delay=5)
    leave(page, checked="phone")
    page.keyboard.type(GOOD, delay=5)
    type_into(page, "Подтверждение пароля", GOOD + "!")
    leave(page, checked="confirmation")
    if page.js:  # each mistake is said beside its field as the person leaves it
        expect(error_of(page, "policy")).to_have_text("Номер полиса не совпадает с указанным в письме")
        expect(error_of(page, "confirmation")).to_contain_text("Пароли не совпадают")
        retype(page, "Подтверждение пароля", GOOD)
        leave(page, checked="confirmation")
        expect(error_of(page, "confirmation")).to_be_empty()
        expect(field(page, "Подтверждение пароля")).to_have_value(GOOD)
    tick_consents(page)
    press(page, "Зарегистрироваться")

    # the submit refuses what is still wrong, beside its field, and keeps the rest
    expect(error_of(page, "policy")).to_contain_text("Номер полиса не совпадает")
    expect(field(page, "Мобильный телефон")).to_have_value("89161234567")
    retype(page, "Номер полиса", "дмс 2025 000101")  # case and spaces do not matter (R8)
    leave(page, checked="policy")
    if page.js:
        expect(error_of(page, "policy")).to_be_empty()
    for label in ("Пароль", "Подтверждение пароля"):  # a full submit never sends them back
        retype(page, label, GOOD)
    tick_consents(page)
    press(page, "Зарегистрироваться")

    page.wait_for_url("**/register/code")
    code = portal.code_sent_to(PETROV_PHONE)
    type_code(page, "Код из СМС", "000000" if code != "000000" else "111111")
    expect(error_of(page, "code")).to_contain_text("Неверный код")
    retype(page, "Код из СМС", code)
    press(page, "Подтвердить")
    at_account(page, "Александр")


def fill_registration(page, phone, email, birth_date="14.03.1985"):
    """The no-link form for Петров, field by field with Tab."""
    type_into(page, "Фамилия", "Петров", first=True)
    leave(page, checked="last_name")
    page.keyboard.type("Александр", delay=5)
    leave(page, checked="first_name")
    page.keyboard.type("Иванович", delay=5)
    leave(page, checked="patronymic")
    page.keyboard.type(birth_date, delay=5)
    leave(page, checked="birth_date")
    page.keyboard.type(phone, delay=5)
    leave(page, checked="phone")
    page.keyboard.type(email, delay=5)
    leave(page, checked="email")
    page.keyboard.type(GOOD, delay=5)
    type_into(page, "Подтверждение пароля", GOOD)
    leave(page, checked="confirmation")
    for label, value in (("Дата рождения", birth_date), ("Мобильный телефон", phone),
                         ("Пароль", GOOD), ("Подтверждение пароля", GOOD)):
        expect(field(page, label)).to_have_value(value)


def test_registration_without_link_then_the_confirmation_link(page, portal):  # R13-R17, R33
    page.goto("/register")
    fill_registration(page, "+7 (916) 123-45-67", PETROV_EMAIL)
    tick_consents(page, start_with_tab=False)
    press(page, "Зарегистрироваться")

    page.wait_for_url("**/register/code")
    type_code(page, "Код из СМС", portal.code_sent_to(PETROV_PHONE))
    at_account(page, "Александр")
    expect(page.locator("main")).to_contain_text("не подтверждён")

    # the demo invited him before he registered: the confirmation is his second e-mail
    page.goto(portal.link_sent_to(PETROV_EMAIL, "/email/confirm/", after=1))
    press(page, "Подтвердить")
    expect(page.get_by_role("status")).to_have_text("E-mail подтверждён. Спасибо!")


def test_registration_without_link_with_another_phone(page, portal):  # R17: an e-mail code
    page.goto("/register")
    fill_registration(page, "8 999 000-11-22", PETROV_EMAIL)
    tick_consents(page, start_with_tab=False)
    press(page, "Зарегистрироваться")

    page.wait_for_url("**/register/code")
    type_code(page, "Код из СМС", portal.code_sent_to("+79990001122"))
    page.wait_for_url("**/register/email-code")
    type_code(page, "Код из письма", portal.code_sent_to(PETROV_EMAIL, after=1))
    at_account(page, "Александр")
    expect(page.locator("main")).to_contain_text("подтверждён")
    expect(page.locator("main")).not_to_contain_text("не подтверждён")


def test_a_mistake_on_the_registration_form_is_corrected_in_place(page, portal):  # R13
    page.goto("/register")
    fill_registration(page, "89161234567", PETROV_EMAIL, birth_date="14.03.85")
    if page.js:
        expect(error_of(page, "birth_date")).to_contain_text("ДД.ММ.ГГГГ")
    tick_consents(page, start_with_tab=False)
    press(page, "Зарегистрироваться")

    expect(error_of(page, "birth_date")).to_contain_text("ДД.ММ.ГГГГ")
    expect(page.locator(".form-error")).to_be_focused()  # the summary first (issue 14)
    expect(page.locator("#password-hints .hint--met")).to_have_count(0)  # fields came empty
    expect(field(page, "Фамилия")).to_have_value("Петров")
    retype(page, "Дата рождения", "14031985")  # a phone's keypad has no dot (issue 14)
    leave(page, checked="birth_date")
    if page.js:  # no error now, and what was understood is said back
        expect(error_of(page, "birth_date")).to_have_text("Понятно: 14 марта 1985")
        expect(error_of(page, "birth_date")).not_to_have_attribute("role", "alert")
    for label in ("Пароль", "Подтверждение пароля"):
        retype(page, label, GOOD)
    tick_consents(page)
    press(page, "Зарегистрироваться")
    page.wait_for_url("**/register/code")


@pytest.mark.parametrize("page", [True], indirect=True, ids=["js"])  # htmx's own swap
def test_nothing_can_be_typed_into_a_form_while_it_is_being_sent(page, portal):  # issue 9
    open_invitation(page, portal)

    def slow(route):
        if route.request.method == "POST" and not route.request.headers.get("hx-trigger-name"):
            page.wait_for_timeout(800)  # a slow mobile network
        route.continue_()

    page.route("**/invite/**", slow)
    type_into(page, "Номер полиса", "ДМС-2025-000102", first=True)
    leave(page, checked="policy")
    page.keyboard.type("89161234567", delay=5)
    page.keyboard.press("Enter")  # sends the form from the phone field
    phone = field(page, "Мобильный телефон")
    expect(phone).to_be_disabled()  # the person cannot type into what is about to be replaced
    expect(error_of(page, "policy")).to_contain_text("Номер полиса не совпадает")
    expect(phone).to_be_enabled()
    expect(phone).to_have_value("89161234567")


def test_a_stale_page_says_so_and_keeps_what_was_typed(page, portal):  # issue 14
    """The session ended behind the page (its CSRF token is stale): with htmx the answer is
    an error that swaps nothing, so the page must say it; without JS the error page."""
    page.goto("/register")
    type_into(page, "Фамилия", "Петров", first=True)
    type_into(page, "Имя", "Александр")
    page.context.clear_cookies()  # the session is gone: an old tab, a restart, a cleared browser
    page.watch.expect_status(400)
    press(page, "Зарегистрироваться", most=20)
    if page.js:
        expect(page.get_by_role("alert").filter(has_text="Страница устарела")).to_be_visible()
        expect(field(page, "Фамилия")).to_have_value("Петров")
    else:
        expect(page.get_by_role("heading", level=1)).to_have_text("Запрос не принят")


def send_during_an_outage(page):
    """The no-link form typed for Петров and sent while the server cannot answer: the
    first POST from here on gets 503 «Сервис временно недоступен» (its database
    restarting), the next ones go through. The URLs refused."""
    refused = []

    def down(route):
        if route.request.method == "POST" and not refused:
            refused.append(route.request.url)
            route.fulfill(status=503, content_type="text/html; charset=utf-8",
                          body="<h1>Сервис временно недоступен</h1>")
        else:
            route.continue_()

    page.goto("/register")
    fill_registration(page, "89161234567", PETROV_EMAIL)
    tick_consents(page, start_with_tab=False)
    page.route("**/register", down)
    page.watch.expect_status(503)
    press(page, "Зарегистрироваться")
    return refused


@pytest.mark.parametrize("page", [False], indirect=True, ids=["no-js"])
def test_without_js_back_from_a_server_that_could_not_answer_keeps_what_was_typed(
        page, portal):
    """The browser's own error page for a 503 (no JS): Back, and the form is as it was."""
    send_during_an_outage(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Сервис временно недоступен")
    page.go_back()
    expect(field(page, "Фамилия")).to_have_value("Петров")
    expect(field(page, "Мобильный телефон")).to_have_value("89161234567")


@pytest.mark.parametrize("page", [True], indirect=True, ids=["js"])  # htmx's error answer
def test_a_server_that_cannot_answer_says_so_and_keeps_what_was_typed(page, portal):
    """The database restarting: the answer swaps nothing, the page says to try again, and
    the form sent again when it is back goes through."""
    refused = send_during_an_outage(page)
    expect(page.get_by_text("Не удалось отправить: проверьте связь")).to_be_visible()
    expect(field(page, "Фамилия")).to_have_value("Петров")
    expect(field(page, "Мобильный телефон")).to_have_value("89161234567")
    submit = page.get_by_role("button", name="Зарегистрироваться")
    expect(submit).to_be_focused()  # where the person left it (it had lost it): Enter again
    page.keyboard.press("Enter")
    page.wait_for_url("**/register/code")
    assert len(refused) == 1


@pytest.mark.parametrize("page", [True], indirect=True, ids=["js"])
def test_the_next_step_is_swapped_in_and_back_and_reload_still_work(page, portal):  # R30
    open_invitation(page, portal)
    link = page.url
    mark_page(page)
    asked = []
    page.on("request", lambda request: asked.append((request.method, request.url)))
    send_invitation_form(page, "ДМС-2025-000101", "89161234567")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Подтвердите")
    assert same_page(page)  # swapped in place, not a new page load
    # the step came with the form's answer: no second request for it (issue 15)
    assert not [url for method, url in asked if url.endswith("/register/code")], asked
    expect(page).to_have_title(re.compile("^Код из СМС"))  # the step's own title

    page.go_back()  # Back: the form again, never Chrome's «resubmit the form?»
    page.wait_for_url(link)
    expect(field(page, "Номер полиса")).to_be_visible()
    page.go_forward()
    page.wait_for_url("**/register/code")
    page.reload()  # F5 on the code step: the same step, no new code
    expect(page.get_by_role("heading", level=1)).to_contain_text("Подтвердите")
    code = portal.code_sent_to(PETROV_PHONE)
    page.wait_for_timeout(500)  # a second code would be on its way by now
    assert len([m for m in portal.messages() if m["to"] == PETROV_PHONE]) == 1
    type_code(page, "Код из СМС", code)
    at_account(page, "Александр")


def test_the_resend_button_waits_its_minute_counting_down(page, portal):  # R28, issue 14
    page.goto(portal.link_sent_to(PETROV_EMAIL, "/invite/"))
    send_invitation_form(page, "ДМС-2025-000101", "89161234567")
    resend = page.get_by_role("button", name="Отправить код повторно")
    expect(resend).to_be_disabled()
    wait = page.locator("#resend-wait")
    expect(wait).to_have_count(1)
    first = int(re.search(r"(\d+) с", wait.inner_text()).group(1))
    if page.js:  # it counts down
        expect(wait).to_contain_text(f"через {first - 2} с", timeout=4000)


def test_registration_through_gosuslugi(page, portal):  # R19-R21, issue 14
    """The banner, the fake ESIA, back with the names filled in; the rest typed, with a
    Shift+Tab back to fix a slip; the account ends up linked."""
    page.goto("/register")
    page.get_by_role("link", name="Зарегистрироваться через Госуслуги").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/fake-esia/**")
    page.get_by_role("button", name="Петров Александр Иванович").click()
    page.wait_for_url("**/register")
    expect(page.get_by_role("status").first).to_contain_text(
        "Данные получены с Госуслуг: Петров Александр Иванович.")
    expect(field(page, "Фамилия")).to_have_value("Петров")
    expect(field(page, "Отчество")).to_have_value("Иванович")
    type_into(page, "Дата рождения", "14.03.1985", first=True)
    page.keyboard.press("Tab")
    page.keyboard.type("8916", delay=5)
    page.keyboard.press("Shift+Tab")  # back to the date: a slip noticed
    expect(field(page, "Дата рождения")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("End")
    page.keyboard.type("1234567", delay=5)
    expect(field(page, "Мобильный телефон")).to_have_value(re.compile(r"916.*123.*45.*67"))
    type_into(page, "E-mail", PETROV_EMAIL)
    send_with_password(page)
    type_code(page, "Код из СМС", portal.code_sent_to(PETROV_PHONE))
    at_account(page, "Александр")
    expect(page.locator("main")).to_contain_text("связаны")
