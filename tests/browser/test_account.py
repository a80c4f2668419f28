"""The personal account walked in Chromium, JavaScript on and off (R23, issues 12 and 14):
a new phone and a new e-mail behind the current password, Gosuslugi linked through the fake
ESIA and unlinked, the password, marketing toggles, sign-out everywhere."""

from playwright.sync_api import expect

from tests.browser.person import (
    GOOD,
    at_account,
    error_of,
    field,
    press,
    retype,
    type_code,
    type_into,
)


def signed_in(page, portal):
    portal.add_account("+79161234567", GOOD)  # Петров, registered a while ago
    page.goto("/login")
    type_into(page, "Мобильный телефон", "89161234567", first=True)
    type_into(page, "Пароль", GOOD)
    page.keyboard.press("Enter")
    at_account(page, "Александр")


def test_a_new_phone_after_the_password_and_a_code(page, portal):
    signed_in(page, portal)
    page.get_by_role("link", name="Изменить").first.click()
    type_into(page, "Новый номер мобильного телефона", "8 903 765-43-21", first=True)
    type_into(page, "Текущий пароль", GOOD + "?")  # a slip
    page.keyboard.press("Enter")
    expect(error_of(page, "password")).to_have_text("Неверный пароль")
    expect(field(page, "Новый номер мобильного телефона")).to_have_value("8 903 765-43-21")
    retype(page, "Текущий пароль", GOOD)
    page.keyboard.press("Enter")

    page.wait_for_url("**/account/phone/code")
    type_code(page, "Код из СМС", portal.code_sent_to("+79037654321"))
    at_account(page, "Александр")
    expect(page.get_by_role("status")).to_have_text("Телефон изменён.")
    expect(page.locator("main")).to_contain_text("+7 903 765-43-21")
    portal.wait_for_message("+79161234567")  # the old phone is told


def test_gosuslugi_linked_after_the_password(page, portal):
    signed_in(page, portal)
    password = page.get_by_label("Текущий пароль", exact=True)
    password.click()
    page.keyboard.type(GOOD, delay=5)
    press(page, "Связать с Госуслугами")
    page.wait_for_url("**/fake-esia/**")
    page.get_by_role("button", name="Петров Александр Иванович").click()
    at_account(page, "Александр")
    expect(page.get_by_role("status")).to_contain_text("Госуслуги связаны")
    expect(page.locator("main")).to_contain_text("связаны")
    expect(page.get_by_role("button", name="Отвязать")).to_be_visible()


def test_a_new_password_behind_the_current_one(page, portal):  # issue 12
    signed_in(page, portal)
    page.get_by_role("link", name="Сменить пароль").click()
    type_into(page, "Текущий пароль", GOOD, first=True)
    type_into(page, "Новый пароль", "violet umbrella tango 42")
    if page.js:
        expect(page.locator("#password-hints .hint--met")).to_have_count(3)
    type_into(page, "Подтверждение пароля", "violet umbrella tango 42")
    page.keyboard.press("Enter")
    at_account(page, "Александр")
    expect(page.get_by_role("status")).to_contain_text("Пароль изменён")


def test_gosuslugi_unlinked_after_the_password(page, portal):  # issue 14
    test_gosuslugi_linked_after_the_password(page, portal)
    password = page.get_by_label("Текущий пароль", exact=True)
    password.click()
    page.keyboard.type(GOOD, delay=5)
    press(page, "Отвязать")
    at_account(page, "Александр")
    expect(page.get_by_role("status")).to_contain_text("Госуслуги отвязаны")
    expect(page.get_by_role("button", name="Связать с Госуслугами")).to_be_visible()


def test_a_new_email_after_the_password_and_a_code(page, portal):  # issue 14
    signed_in(page, portal)
    page.get_by_role("link", name="Изменить").nth(1).click()
    type_into(page, "Новый E-mail", "alex@example.org", first=True)
    type_into(page, "Текущий пароль", GOOD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/account/email/code")
    expect(page.get_by_role("heading", level=1)).to_have_text("Подтвердите новый E-mail")
    type_code(page, "Код из письма", portal.code_sent_to("alex@example.org"))
    at_account(page, "Александр")
    expect(page.locator("main")).to_contain_text("alex@example.org — подтверждён")


def test_marketing_toggles_keep_the_place(page, portal):  # R11, issue 14
    signed_in(page, portal)
    button = page.locator("#marketing-sms")
    before = button.inner_text()
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#marketing-sms")).not_to_have_text(before)
    if page.js:  # swapped in place, the focus still on the button pressed
        expect(page.locator("#marketing-sms")).to_be_focused()


def test_sign_out_everywhere_says_so(page, portal):  # issue 14
    signed_in(page, portal)
    press(page, "Выйти на всех устройствах", most=40)
    page.wait_for_url("**/")
    expect(page.get_by_role("status")).to_have_text(
        "Вы вышли из личного кабинета на всех устройствах.")
    expect(page.get_by_role("link", name="Войти")).to_be_visible()


def test_e_mail_never_breaks_at_its_hyphen(page, portal):  # issue 14, 390 px wide
    signed_in(page, portal)
    words = page.locator(".toggles .nowrap", has_text="e-mail")
    expect(words).to_have_count(1)
    assert words.evaluate("element => element.getClientRects().length") == 1
