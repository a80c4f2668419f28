"""Registration without a link through the web (R13–R18, R30, R33)."""

import re

import pytest

from regapp.models import Account, Message, Refusal
from regapp.roster import import_roster
from tests.helpers import (
    GOOD,
    HX,
    check_of,
    csrf,
    statements_sent,
    step_of,
    step_page,
    without_tokens,
)
from tests.rosters import person, write_csv


@pytest.fixture
def roster(app, tmp_path):
    rows = [person("P1", last="Мамедов", first="Али", patronymic="Гасан оглы", born="21.11.1988",
                   phone="+7 916 123-45-67", email="ali@example.com")]
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"),
                  write_csv(tmp_path / "r.csv", rows))


def form(page, **change):
    data = {"csrf_token": csrf(page), "last_name": "Мамедов", "first_name": "Али Гасан",
            "patronymic": "оглы", "birth_date": "21.11.1988", "phone": "89161234567",
            "email": "Ali@Example.com", "password": GOOD, "confirmation": GOOD,
            "terms": "y", "pd": "y", "terms_version": "1", "pd_version": "1",
            "marketing_version": "1"}
    data.update(change)
    return {k: v for k, v in data.items() if v is not None}


def code(outbox, channel):
    entry = [e for e in outbox() if e["channel"] == channel][-1]
    return re.search(r"\b(\d{6})\b", entry["text"]).group(1)


def post_code(client, path, value):
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf(page), "code": value})


def test_the_form_has_the_seed_labels(client):  # R13
    page = client.get("/register").get_data(as_text=True)
    for label in ("Фамилия", "Имя", "Отчество", "Дата рождения", "Мобильный телефон", "E-mail",
                  "Пароль", "Подтверждение пароля", "Я принимаю правила пользования личным кабинетом",
                  "Я согласен с обработкой персональных данных",
                  "Я согласен получать маркетинговую коммуникацию", "Зарегистрироваться",
                  "Зарегистрироваться через Госуслуги",
                  "Заполнение обязательно, если отчество указано в Вашем документе"):
        assert label in page, label
    assert re.search(r'<input[^>]*id="birth_date"[^>]*inputmode="numeric"', page)
    assert re.search(r'<input[^>]*id="birth_date"[^>]*pattern=', page)


def test_roster_phone_branch_without_javascript(client, roster, outbox):  # R17, first branch
    page = client.get("/register").get_data(as_text=True)
    response = client.post("/register", data=form(page))
    assert response.status_code == 303 and response.headers["Location"] == "/register/code"
    done = post_code(client, "/register/code", code(outbox, "sms"))
    assert done.headers["Location"] == "/account"
    assert "ali@example.com — не подтверждён" in client.get("/account").get_data(as_text=True).lower()
    link = re.search(r"https://regapp\.example\.com(/email/confirm/[\w-]+)",
                     [e for e in outbox() if e["channel"] == "email"][-1]["text"]).group(1)
    client.post("/logout", data={"csrf_token": csrf(client.get("/account").get_data(as_text=True))})
    opened = client.get(link)  # a mail scanner, or the person, signed out
    assert opened.status_code == 200 and "Подтвердить" in opened.get_data(as_text=True)
    assert not Account.get().email_confirmed  # R33: opening changes nothing
    confirmed = client.post(link, data={"csrf_token": csrf(opened.get_data(as_text=True))})
    assert "E-mail подтверждён" in confirmed.get_data(as_text=True)
    assert Account.get().email_confirmed
    again = client.post(link, data={"csrf_token": csrf(client.get("/login").get_data(as_text=True))})
    assert "уже подтверждён" in again.get_data(as_text=True)


def test_the_code_page_is_two_look_ups(client, roster, outbox):  # issue 15
    from tests.helpers import statements_sent
    client.post("/register", data=form(client.get("/register").get_data(as_text=True)))
    with statements_sent() as sent:
        page = client.get("/register/code").get_data(as_text=True)
    assert "Мы отправили СМС с кодом на номер" in page and 'data-countdown="' in page
    assert len(sent) == 2, sent  # this browser's session, its registration with the page's


@pytest.mark.settings(DATABASE_PREPARE=False)  # each statement as written, its table named
def test_the_session_is_stored_with_the_registration(client, roster, outbox, backend):  # issue 15
    from tests.helpers import statements_sent
    page = client.get("/register").get_data(as_text=True)
    with statements_sent() as sent:
        assert client.post("/register", data=form(page)).status_code == 303
    [stored] = [sql for sql in sent if '"web_session"' in sql]
    if backend:  # one string, one commit: the code, its SMS and the session pointing at them
        assert stored.endswith("COMMIT") and '"one_time_code"' in stored and '"message"' in stored
    again = client.post("/register", data=form(client.get("/register").get_data(as_text=True)))
    assert again.headers["Location"] == "/register/code"  # the same form again: kept as it was
    assert "Мы отправили СМС с кодом" in client.get("/register/code").get_data(as_text=True)
    assert len([e for e in outbox() if e["channel"] == "sms"]) == 1


@pytest.mark.settings(DATABASE_PREPARE=False)  # each statement as written, its table named
def test_the_right_code_signs_in_by_the_accounts_own_commit(client, roster, outbox, backend):
    """Issue 15: the account, this browser's device and its session's new row are one
    transaction; on PostgreSQL the last two go with its COMMIT, no round trip of their own."""
    client.post("/register", data=form(client.get("/register").get_data(as_text=True)))
    page = client.get("/register/code").get_data(as_text=True)
    with statements_sent() as sent:
        done = client.post("/register/code", data={"csrf_token": csrf(page),
                                                   "code": code(outbox, "sms")})
    assert done.headers["Location"] == "/account" and client.get("/account").status_code == 200
    if backend:
        [device] = [sql for sql in sent if '"known_device"' in sql]
        assert device.endswith("COMMIT") and 'INSERT INTO "web_session"' in device
        assert 'DELETE FROM "web_session"' in device  # its old key dead
        assert 'INSERT INTO "consent_event"' in device  # the account's, in the same commit


def test_a_key_copied_during_the_registration_opens_nothing_after_it(
        app, client, roster, outbox):  # issue 15: the old key's row deleted with the account
    """A co-worker who copied the cookie while the form was open holds the registration's
    key; the sign-in in the account's transaction kills it: neither the account nor the
    registration opens with it, and nothing stored under it is left behind."""
    from regapp.models import WebSession
    from regapp.tokens import hash_token

    client.post("/register", data=form(client.get("/register").get_data(as_text=True)))
    copied = client.get_cookie("session").value
    assert post_code(client, "/register/code", code(outbox, "sms")).headers[
        "Location"] == "/account"
    assert client.get_cookie("session").value != copied
    other = app.test_client()
    other.set_cookie("session", copied)
    assert other.get("/account").status_code == 303  # the sign-in page
    assert other.get("/register/code").status_code == 410
    assert client.get("/account").status_code == 200
    assert not WebSession.select().where(WebSession.id == hash_token(copied)).exists()


def test_a_code_refused_at_the_last_moment_leaves_the_browser_on_its_step(
        client, roster, outbox, monkeypatch):  # R29, issue 15
    """The account's transaction fails after this browser was signed in within it (here
    the device's row, as its COMMIT could): the sign-in is undone with it, the browser's
    registration kept; the phone's refusal stands beside the code, nothing lost."""
    from peewee import IntegrityError

    from regapp import devices

    client.post("/register", data=form(client.get("/register").get_data(as_text=True)))

    def fails(*_, **__):
        raise IntegrityError("UNIQUE constraint failed: account.phone")

    monkeypatch.setattr(devices, "note", fails)
    refused = post_code(client, "/register/code", code(outbox, "sms"))
    assert (refused.status_code, refused.headers["Location"]) == (303, "/register/code")
    shown = client.get("/register/code")
    assert shown.status_code == 200 and "Номер уже занят" in shown.get_data(as_text=True)
    assert client.get("/account").status_code == 303  # not signed in
    assert Account.select().count() == 0
    monkeypatch.undo()  # the code is still open: typed again, it opens the account
    assert post_code(client, "/register/code", code(outbox, "sms")).headers[
        "Location"] == "/account"


def test_a_planted_key_never_carries_the_registration(app, client, roster, outbox):  # issue 15
    """The session's row, stored in the registration's own transaction, goes under a new key
    as any first thing kept does: the one someone set in the person's browser opens nothing."""
    planted = "v" + "C" * 43
    client.set_cookie("session", planted)
    client.post("/register", data=form(client.get("/register").get_data(as_text=True)))
    key = client.get_cookie("session").value
    assert key != planted and client.get("/register/code").status_code == 200
    planter = app.test_client()
    planter.set_cookie("session", planted)
    assert planter.get("/register/code").status_code == 410  # «start again»: not the person's


def test_other_phone_branch_needs_the_email_code(client, roster, outbox):  # R17, second branch
    page = client.get("/register").get_data(as_text=True)
    client.post("/register", data=form(page, phone="+7 903 765-43-21"))
    after_sms = post_code(client, "/register/code", code(outbox, "sms"))
    assert after_sms.headers["Location"] == "/register/email-code"
    step = client.get("/register/email-code").get_data(as_text=True)
    assert "Код из письма" in step and "Ali@example.com" in step
    assert Account.select().count() == 0
    done = post_code(client, "/register/email-code", code(outbox, "email"))
    assert done.headers["Location"] == "/account"
    assert Account.get().email_confirmed and Account.get().phone == "+79037654321"


def test_htmx_submit_brings_the_code_step_in_its_answer(client, roster, outbox):  # R30
    """Issue 15: the step's page comes with the form's answer, not from a second request;
    htmx swaps its <main> for the form's and pushes its URL, so Back and F5 work."""
    page = client.get("/register").get_data(as_text=True)
    response = client.post("/register", data=form(page), headers=HX)
    assert response.status_code == 200 and step_of(response) == "/register/code"
    assert (response.headers["HX-Retarget"], response.headers["HX-Reselect"],
            response.headers["HX-Reswap"]) == ("#main", "#main", "outerHTML")
    assert without_tokens(response) == step_page(client, "/register/code")
    assert "<title>Код из СМС" in response.get_data(as_text=True)


@pytest.mark.parametrize("queue", [
    pytest.param(name, marks=pytest.mark.settings(QUEUE=name, DATABASE_PREPARE=False), id=name)
    for name in ("sqlite", "immediate")])
def test_the_code_step_after_the_form_reads_back_only_what_may_have_changed(
        client, roster, outbox, queue):  # issue 15
    """A worker takes the SMS later (``sqlite``, ``redis://``): the step's page shows what
    the registration's transaction wrote (the SMS on its way, the countdown from now), and
    nothing is read back. Delivered in the call (``immediate``): read back, sent."""
    page = client.get("/register").get_data(as_text=True)
    with statements_sent() as sent:
        answer = client.post("/register", data=form(page), headers=HX).get_data(as_text=True)
    stored = max(i for i, sql in enumerate(sent) if 'INSERT INTO "message"' in sql)
    assert "Мы отправили СМС с кодом на номер" in answer and 'data-countdown="60"' in answer
    polls = 'hx-trigger="every 3s"' in answer  # htmx asks until the SMS has gone
    if queue == "sqlite":
        assert not [sql for sql in sent[stored + 1:] if '"message"' in sql] and polls
        assert outbox() == []
    else:
        assert not polls and len(outbox()) == 1


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
@pytest.mark.parametrize("change", [
    {"birth_date": "22.11.1988"},
    {"last_name": "Мамедова"},
    {"phone": "+7 903 000-00-00", "email": "other@example.com"},
])
def test_no_match_says_one_thing_and_sends_no_sms(client, roster, change, headers):  # R15
    page = client.get("/register").get_data(as_text=True)
    text = client.post("/register", data=form(page, **change), headers=headers).get_data(as_text=True)
    assert re.search(r'role="alert"[^>]*>Мы не нашли вас среди застрахованных с действующим полисом', text)
    assert "8-800-100-88-00" in text and 'value="Мамедов' in text
    assert Message.select().count() == 0 and Refusal.select().count() == 1


@pytest.mark.parametrize("change, message", [
    ({"first_name": "Ali"}, "кириллицей"),
    ({"birth_date": "31.04.1990"}, "Такой даты нет"),
    ({"email": "ali@gmail.сom"}, "раскладку"),
    ({"pd": None}, "Без этого согласия"),
])
def test_field_errors_send_no_sms(client, roster, change, message):
    page = client.get("/register").get_data(as_text=True)
    text = client.post("/register", data=form(page, **change)).get_data(as_text=True)
    assert message in text and 'aria-invalid="true"' in text
    assert Message.select().count() == 0


def test_inline_check_of_the_birth_date(client):
    page = client.get("/register").get_data(as_text=True)
    text = client.post("/register", headers=check_of("birth_date"),
                       data=form(page, birth_date="01.02.85")).get_data(as_text=True)
    assert text.strip().startswith('<p class="field__error" id="birth_date-error" role="alert">')
    assert "ДД.ММ.ГГГГ" in text and "<input" not in text  # issue 9: the input stays put


def test_a_date_typed_without_dots_is_said_back_as_understood(client):  # issue 14
    page = client.get("/register").get_data(as_text=True)
    text = client.post("/register", headers=check_of("birth_date"),
                       data=form(page, birth_date="05111978")).get_data(as_text=True)
    assert 'role="alert"' not in text and "Понятно: 5 ноября 1978" in text
    whole = client.post("/register", data=form(page, birth_date="05111978", pd=None))
    assert "Понятно: 5 ноября 1978" in whole.get_data(as_text=True)  # JS off, another slip


def test_a_taken_email_is_refused_and_kept_for_support(client, roster, outbox):  # R16, R31
    from regapp.models import RosterRecord

    Account.create(record=RosterRecord.get(), phone="+79039999999", email="ali@example.com",
                   email_key="ali@example.com", password_hash="x",
                   email_confirmed=True)  # issue 12: only a confirmed address is taken
    page = client.get("/register").get_data(as_text=True)
    text = client.post("/register", data=form(page)).get_data(as_text=True)
    assert "E-mail уже занят" in text and Message.select().count() == 0
    assert Refusal.get().reason == "email_taken"


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_a_password_holding_the_found_policy_number_is_refused_before_the_sms(
        client, app, tmp_path, headers):  # R10, issue 14: «Без имени, телефона и номера полиса»
    rows = [person("ДМС-2025-4471", last="Мамедов", first="Али", patronymic="Гасан оглы",
                   born="21.11.1988", phone="+7 916 123-45-67", email="ali@example.com")]
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"),
                  write_csv(tmp_path / "r.csv", rows))
    page = client.get("/register").get_data(as_text=True)
    weak = "zebra-violin-2025-4471"  # strong enough, but built on the policy number
    assert Message.select().count() == 0
    answer = client.post("/register", data=form(page, password=weak, confirmation=weak),
                         headers=headers)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Location" not in answer.headers
    assert re.search(r'id="password-error"[^>]*>[^<]*номер', text, re.IGNORECASE), text[:3000]
    assert Message.select().count() == 0 and Account.select().count() == 0


@pytest.fixture
def estimates(monkeypatch):
    """How many strength estimates were made (each costs a millisecond and more of CPU)."""
    from regapp import passwords

    made, real = [], passwords.zxcvbn
    monkeypatch.setattr(passwords, "zxcvbn", lambda *a, **kw: made.append(a) or real(*a, **kw))
    return made


def test_a_submit_estimates_the_password_once(client, roster, outbox, estimates):  # R10, issue 15
    page = client.get("/register").get_data(as_text=True)
    assert client.post("/register", data=form(page)).status_code == 303
    assert len(estimates) == 1


@pytest.mark.parametrize("change", [{}, {"birth_date": "22.11.1988"}], ids=["found", "not-found"])
def test_a_weak_password_is_said_beside_its_field_and_nothing_else_happens(
        client, roster, estimates, change):  # R10, R15, R31: as before issue 15's one estimate
    page = client.get("/register").get_data(as_text=True)
    text = client.post("/register", data=form(page, password="password123",
                                              confirmation="password123", **change)).get_data(
        as_text=True)
    assert re.search(r'id="password-error"[^>]*>[^<]*легко подобрать', text, re.IGNORECASE), text[:3000]
    assert "Мы не нашли вас" not in text and len(estimates) == 1
    assert Message.select().count() == 0 and Refusal.select().count() == 0


def test_a_weak_password_is_said_before_a_mismatched_confirmation(client, roster, estimates):
    page = client.get("/register").get_data(as_text=True)
    text = client.post("/register", data=form(page, password="password123",
                                              confirmation="password124")).get_data(as_text=True)
    assert re.search(r'id="password-error"[^>]*>[^<]*легко подобрать', text, re.IGNORECASE), text[:3000]
    assert not re.search(r'id="confirmation-error"[^>]*role="alert"', text)


def test_the_form_sent_again_within_a_minute_reuses_the_code(client, roster, outbox):  # issue 14
    page = client.get("/register").get_data(as_text=True)
    assert client.post("/register", data=form(page)).headers["Location"] == "/register/code"
    first = code(outbox, "sms")
    again = client.post("/register", data=form(page, patronymic="оглы "))  # the back button
    assert (again.status_code, again.headers.get("Location")) == (303, "/register/code")
    assert len([e for e in outbox() if e["channel"] == "sms"]) == 1  # no second code
    done = post_code(client, "/register/code", first)
    assert done.headers["Location"] == "/account"


def test_a_code_pasted_with_spaces_or_a_dash_is_taken(client, roster, outbox):  # issue 14
    page = client.get("/register").get_data(as_text=True)
    client.post("/register", data=form(page))
    code_page = client.get("/register/code").get_data(as_text=True)
    maxlength = int(re.search(r'<input[^>]*id="code"[^>]*maxlength="(\d+)"', code_page).group(1))
    sms = code(outbox, "sms")
    pasted = f" {sms[:3]} {sms[3:]}"  # as an SMS app copies it
    assert len(pasted) <= maxlength and len(f"{sms[:3]}-{sms[3:]}") <= maxlength
    done = post_code(client, "/register/code", pasted)
    assert done.headers["Location"] == "/account"


def test_a_wrong_code_without_js_redirects_so_f5_spends_no_try(client, roster, outbox):  # issue 14
    from regapp.models import OneTimeCode

    page = client.get("/register").get_data(as_text=True)
    client.post("/register", data=form(page))
    wrong = post_code(client, "/register/code", "000000" if code(outbox, "sms") != "000000"
                      else "111111")
    assert (wrong.status_code, wrong.headers["Location"]) == (303, "/register/code")
    shown = client.get("/register/code").get_data(as_text=True)  # what F5 repeats
    assert re.search(r'id="code-error" role="alert">Неверный код', shown)
    assert "Неверный код" not in client.get("/register/code").get_data(as_text=True)  # said once
    assert sum(c.wrong_tries for c in OneTimeCode.select()) == 1


def test_back_from_the_email_code_says_the_phone_is_confirmed(client, roster, outbox):  # issue 14
    page = client.get("/register").get_data(as_text=True)
    client.post("/register", data=form(page, phone="+7 903 765-43-21"))
    post_code(client, "/register/code", code(outbox, "sms"))
    back = client.get("/register/code")  # Back from «Код из письма»
    assert back.headers["Location"] == "/register/email-code"
    step = client.get("/register/email-code").get_data(as_text=True)
    assert "Номер телефона уже подтверждён: осталось ввести код из письма." in step


def test_the_blank_form_is_each_visitors_own_and_a_notice_still_shows(app, roster):  # issue 15
    first, second = app.test_client(), app.test_client()
    pages = [c.get("/register").get_data(as_text=True) for c in (first, second)]
    tokens = [csrf(page) for page in pages]
    assert tokens[0] != tokens[1]
    assert pages[0].replace(tokens[0], "") == pages[1].replace(tokens[1], "")
    # the token in each page is its visitor's own: another's is refused, one's own taken
    assert second.post("/register", data=form(pages[0])).status_code == 400
    assert second.post("/register", data=form(pages[1])).status_code == 303
    with first.session_transaction() as session:
        session["_flashes"] = [("status", "Начните регистрацию заново")]
    assert "Начните регистрацию заново" in first.get("/register").get_data(as_text=True)
    assert "Начните регистрацию заново" not in first.get("/register").get_data(as_text=True)


def test_a_registrations_pages_leave_no_cycles_of_forms_or_templates(client, roster, outbox):
    """Issue 15: what a request makes goes when it ends, not at the garbage collector's
    next pass, which stops every thread of the worker (a form and its fields were a cycle,
    and so was the macros' module a page imported with its context). The test client and
    werkzeug make a few cycles of their own: only the app's kinds are looked for."""
    import gc

    from jinja2.runtime import Context, Macro
    from wtforms import Field, Form

    def cyclic_garbage_of(step):
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            step()
            gc.collect()
            return [type(o).__name__ for o in gc.garbage if issubclass(
                type(o), (Form, Field, Macro, Context))]  # type(): a dead proxy has no class
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()

    page = client.get("/register").get_data(as_text=True)
    assert cyclic_garbage_of(lambda: client.get("/register", headers={"Cookie": ""})) == []
    assert cyclic_garbage_of(lambda: client.post(
        "/register", data=form(page, phone="8916"), headers=check_of("phone"))) == []
    assert cyclic_garbage_of(lambda: client.post("/register", data=form(page),
                                                 headers=HX)) == []
    assert cyclic_garbage_of(lambda: client.get("/register/code")) == []
    assert cyclic_garbage_of(lambda: post_code(client, "/register/code",
                                               code(outbox, "sms"))) == []
