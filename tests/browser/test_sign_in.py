"""Sign-in, sign-out and «Забыли пароль?» walked in Chromium, JavaScript on and off (R23, R24)."""

from playwright.sync_api import expect

from tests.browser.person import (
    GOOD,
    OTHER_GOOD,
    at_account,
    error_of,
    press,
    register_by_link,
    retype,
    sign_out,
    type_into,
)

SEMENOVA = {"email": "alena.semenova@example.com", "policy": "ДМС-2025-000102",
            "phone_typed": "8 903 765-43-21", "phone_e164": "+79037654321", "first_name": "Алёна"}


def sign_in(page, phone, password):
    page.goto("/login")
    type_into(page, "Мобильный телефон", phone, first=True)
    type_into(page, "Пароль", password)
    page.keyboard.press("Enter")  # Enter in a field sends its form


def test_register_sign_out_and_sign_in_after_a_slip(page, portal):  # R23
    register_by_link(page, portal, **SEMENOVA)
    sign_out(page)

    sign_in(page, "+7 903 765 43 21", GOOD + "x")  # one message, whatever was wrong
    expect(page.get_by_role("alert")).to_have_text("Неверный номер телефона или пароль")
    expect(page.get_by_label("Мобильный телефон", exact=True)).to_have_value("+7 903 765 43 21")
    retype(page, "Пароль", GOOD)
    page.keyboard.press("Enter")
    at_account(page, "Алёна")
    sign_out(page)
    page.goto("/account")
    page.wait_for_url("**/login")


def test_forgotten_password_then_sign_in_with_the_new_one(page, portal):  # R24
    portal.add_account("+79037654321", GOOD)
    page.goto("/login")
    page.get_by_role("link", name="Забыли пароль?").focus()
    page.keyboard.press("Enter")
    type_into(page, "Мобильный телефон", "89037654321", first=True)
    press(page, "Получить код")
    page.wait_for_url("**/login/forgot/code")
    code = portal.code_sent_to("+79037654321")

    type_into(page, "Код из СМС", "000000" if code != "000000" else "111111", first=True)
    type_into(page, "Новый пароль", OTHER_GOOD)
    if page.js:  # the hints tick as one types, here too
        expect(page.locator("#password-hints .hint--met")).to_have_count(3)
    type_into(page, "Подтверждение пароля", OTHER_GOOD)
    press(page, "Сохранить пароль")
    expect(error_of(page, "code")).to_contain_text("Код неверный или устарел")
    retype(page, "Код из СМС", code)
    for label in ("Новый пароль", "Подтверждение пароля"):
        retype(page, label, OTHER_GOOD)
    press(page, "Сохранить пароль")
    at_account(page, "Алёна")
    sign_out(page)

    sign_in(page, "89037654321", OTHER_GOOD)
    at_account(page, "Алёна")
