"""What a person does at a keyboard: click into a field, type, Tab on, Space, Enter."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.helpers import GOOD

OTHER_GOOD = "violet umbrella tango 42"
CONSENTS = ("Я принимаю правила пользования", "Я согласен с обработкой персональных данных")


def field(page, label):
    return page.get_by_label(label, exact=True)


def tab_to(page, target, most=4):
    """Press Tab until ``target`` has the focus, as a person does past links in between."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{most} presses of Tab did not reach {target}")


def type_into(page, label, text, first=False):
    """Reach the field (a click for the first one, Tab for the rest) and type."""
    target = field(page, label)
    if first:
        target.click()
    else:
        tab_to(page, target)
    page.keyboard.type(text, delay=5)
    return target


def retype(page, label, text):
    """Go back to a field with the mouse, select what is there and type it anew."""
    target = field(page, label)
    target.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text, delay=5)
    return target


def leave(page, checked=None):
    """Tab out of the current field; with JavaScript, wait for that field's inline check."""
    if checked and page.js:
        with page.expect_response(lambda r: r.request.headers.get("hx-trigger-name") == checked) as answer:
            page.keyboard.press("Tab")
        assert answer.value.ok
        page.wait_for_timeout(50)  # let htmx settle the swap
    else:
        page.keyboard.press("Tab")


def tick_consents(page, marketing=False, start_with_tab=True):
    """Space on each required check-box not yet ticked, reached by Tab (past the links)."""
    starts = CONSENTS + (("Я согласен получать маркетинговую",) if marketing else ())
    for number, start in enumerate(starts):
        box = page.get_by_role("checkbox", name=re.compile("^" + start))
        if number or start_with_tab:
            if not box.evaluate("element => element === document.activeElement"):
                tab_to(page, box)
        if not box.is_checked():  # a refused submit keeps the ticks
            page.keyboard.press("Space")
        expect(box).to_be_checked()


def press(page, button, most=6):
    """Tab to a button and press Enter on it."""
    target = page.get_by_role("button", name=button, exact=True)
    if not target.evaluate("element => element === document.activeElement"):
        tab_to(page, target, most)
    page.keyboard.press("Enter")


def type_code(page, label, code):
    target = field(page, label)
    target.click()
    page.keyboard.type(code, delay=5)
    press(page, "Подтвердить")


def mark_page(page):
    """Remember this document; :func:`same_page` then tells no full load happened."""
    page.evaluate("window.regappWalk = 'still here'")


def same_page(page):
    return page.evaluate("window.regappWalk") == "still here"


def error_of(page, field_id):
    return page.locator(f"#{field_id}-error")


def at_account(page, first_name):
    page.wait_for_url("**/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Личный кабинет")
    expect(page.locator("main")).to_contain_text(first_name)


def send_invitation_form(page, policy, phone_typed):
    """Fill in the open invitation form by keyboard and send it; at the code step."""
    type_into(page, "Номер полиса", policy, first=True)
    type_into(page, "Мобильный телефон", phone_typed)
    send_with_password(page)


def send_with_password(page):
    """The end of either registration form: the password twice, the consents, the button;
    at the code step."""
    type_into(page, "Пароль", GOOD)
    type_into(page, "Подтверждение пароля", GOOD)
    tick_consents(page)
    press(page, "Зарегистрироваться")
    page.wait_for_url("**/register/code")


def register_by_link(page, portal, email, policy, phone_typed, phone_e164, first_name):
    """The shortest walk from the invitation to the account (for walks that need an account)."""
    page.goto(portal.link_sent_to(email, "/invite/"))
    type_into(page, "Номер полиса", policy, first=True)
    type_into(page, "Мобильный телефон", phone_typed)
    type_into(page, "Пароль", GOOD)
    type_into(page, "Подтверждение пароля", GOOD)
    leave(page, checked="confirmation")
    tick_consents(page, start_with_tab=False)
    press(page, "Зарегистрироваться")
    page.wait_for_url("**/register/code")
    type_code(page, "Код из СМС", portal.code_sent_to(phone_e164))
    at_account(page, first_name)


def sign_out(page):
    press(page, "Выйти", most=20)
    page.wait_for_url("**/")
    expect(page.get_by_role("link", name="Войти")).to_be_visible()
