"""Registration by link through the web (R7–R12, R28, R30, R33): JS off and htmx alike."""

import datetime as dt
import re

import pytest

from regapp import invitations
from regapp.models import Account, Invitation, Message, utcnow
from regapp.roster import import_roster
from tests.helpers import GOOD, HX, check_of, code_in, csrf, step_of, step_page, without_tokens
from tests.rosters import PEOPLE, write_csv


@pytest.fixture
def link(app, tmp_path, outbox):
    """The path of Петров's invitation link (ДМС-101)."""
    path = write_csv(tmp_path / "roster.csv", PEOPLE)
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"), path)
    invitations.send_invitations()
    mail = next(e for e in outbox() if e["to"] == "a.petrov@example.com")
    return re.search(r"https://regapp\.example\.com(/invite/[\w-]+)", mail["text"]).group(1)


def form_data(page, **change):
    data = {"csrf_token": csrf(page), "policy": "ДМС-101", "phone": "+7 (916) 123-45-67",
            "password": GOOD, "confirmation": GOOD, "terms": "y", "pd": "y",
            "terms_version": "1", "pd_version": "1", "marketing_version": "1"}
    data.update(change)
    return {k: v for k, v in data.items() if v is not None}


def sms_sent():
    return Message.select().where(Message.channel == "sms").count()



def test_the_link_opens_a_greeting_form_with_the_seed_labels(client, link):  # R7
    page = client.get(link).get_data(as_text=True)
    assert "Здравствуйте, Александр Иванович!" in page
    for label in ("Номер полиса", "Мобильный телефон", "Пароль", "Подтверждение пароля",
                  "Я принимаю правила пользования личным кабинетом",
                  "Я согласен с обработкой персональных данных",
                  "Я согласен получать маркетинговую коммуникацию", "Зарегистрироваться",
                  "Зарегистрироваться через Госуслуги", "Нужна помощь для регистрации?"):
        assert label in page, label
    assert re.search(r'<label class="field__label" for="phone">Мобильный телефон</label>', page)
    assert 'href="/documents/terms/1"' in page and 'href="/documents/pd/1"' in page
    assert 'name="marketing" type="checkbox" value="y">' in page  # unchecked by default


def test_opening_the_link_changes_nothing(client, link):  # R33
    for _ in range(3):
        assert client.get(link).status_code == 200
    assert Invitation.select().where(Invitation.spent_at.is_null(False)).count() == 0


def test_whole_flow_without_javascript(client, link, outbox, last_code):  # R12
    page = client.get(link).get_data(as_text=True)
    response = client.post(link, data=form_data(page, policy="дмс 101", phone="89161234567"))
    assert response.status_code == 303 and response.headers["Location"] == "/register/code"
    code_page = client.get("/register/code").get_data(as_text=True)
    assert "+7 916 123-45-67" in code_page and "Код из СМС" in code_page
    assert 'autocomplete="one-time-code"' in code_page and 'inputmode="numeric"' in code_page
    assert "Отправить код повторно" in code_page
    done = client.post("/register/code", data={"csrf_token": csrf(code_page),
                                                "code": last_code()})
    assert done.status_code == 303 and done.headers["Location"] == "/account"
    account_page = client.get("/account").get_data(as_text=True)
    assert "<h1>Личный кабинет</h1>" in account_page and "Александр" in account_page
    assert "a.petrov@example.com — подтверждён" in account_page
    account = Account.get()
    assert account.phone == "+79161234567" and account.email_confirmed


def test_whole_flow_with_htmx(client, link, outbox, last_code):  # R30
    page = client.get(link).get_data(as_text=True)
    response = client.post(link, data=form_data(page), headers=HX)
    assert response.status_code == 200 and step_of(response) == "/register/code"
    assert without_tokens(response) == step_page(client, "/register/code")  # issue 15
    fragment = client.post("/register/code", headers=HX, data={
        "csrf_token": csrf(response.get_data(as_text=True)), "code": "000000"})
    assert fragment.status_code == 200
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="code-step">') and "<html" not in text
    done = client.post("/register/code", headers=HX, data={"csrf_token": csrf(text),
                                                            "code": last_code()})
    assert step_of(done) == "/account" and Account.select().count() == 1


@pytest.mark.parametrize("change, message", [
    ({"policy": "ДМС-102"}, "Номер полиса не совпадает"),
    ({"phone": "+7 495 123-45-67"}, "не мобильный"),
    ({"password": "qwerty123", "confirmation": "qwerty123"}, "легко подобрать"),
    ({"confirmation": "something else entirely"}, "Пароли не совпадают"),
    ({"pd": None}, "Без этого согласия"),
    ({"terms": None}, "Без этого согласия"),
])
@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_refusals_stand_beside_their_field_and_send_no_sms(client, link, change, message, headers):
    page = client.get(link).get_data(as_text=True)
    response = client.post(link, data=form_data(page, **change), headers=headers)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and message in text
    assert re.search(r'role="alert">[^<]*' + re.escape(message), text)
    assert 'aria-invalid="true"' in text
    assert sms_sent() == 0
    if headers:
        assert "<html" not in text
    if "policy" not in change:
        assert 'value="ДМС-101"' in text  # what was typed is kept
    assert GOOD not in text  # passwords are not sent back


def test_inline_check_of_one_field(client, link):  # R30
    page = client.get(link).get_data(as_text=True)
    response = client.post(link, headers=check_of("phone"),
                           data=form_data(page, phone="+7 495 123-45-67", policy=""))
    text = response.get_data(as_text=True).strip()
    # issue 9: the answer is the error line alone; the input itself is never swapped
    assert text.startswith('<p class="field__error" id="phone-error" role="alert">')
    assert "<input" not in text
    assert "не мобильный" in text and "полиса" not in text  # only the field asked about
    ok = client.post(link, headers=check_of("phone"), data=form_data(page))
    assert ok.get_data(as_text=True).strip() == '<p class="field__error" id="phone-error"></p>'


def test_an_inline_check_never_sends_a_password_back(client, link):  # issue 9
    page = client.get(link).get_data(as_text=True)
    for field in ("password", "confirmation"):
        text = client.post(link, headers=check_of(field),
                           data=form_data(page, confirmation="different")).get_data(as_text=True)
        assert GOOD not in text and "different" not in text and "<input" not in text
    assert "Пароли не совпадают" in text


def test_password_hints_tick_as_one_types(client, link):  # R10
    page = client.get(link).get_data(as_text=True)
    weak = client.post(link, headers=check_of("password"), data=form_data(page, password="abc"))
    strong = client.post(link, headers=check_of("password"), data=form_data(page, password=GOOD))
    assert weak.get_data(as_text=True).count("hint--met") == 1  # only "no personal data"
    assert strong.get_data(as_text=True).count("hint--met") == 3


def test_a_taken_phone_is_refused(client, link, outbox, app):  # R9
    from regapp.models import RosterRecord

    other = RosterRecord.get(RosterRecord.policy_number == "ДМС-102")
    Account.create(record=other, phone="+79161234567", email="x@example.com",
                   email_key="x@example.com", password_hash="x")
    page = client.get(link).get_data(as_text=True)
    text = client.post(link, data=form_data(page)).get_data(as_text=True)
    assert "Номер уже занят" in text and sms_sent() == 0


@pytest.mark.parametrize("mutate, status, title", [
    (lambda link: link[:-2] + "xx", 404, "Ссылка не работает"),
    (lambda link: "/invite/", 404, "Страница не найдена"),
])
def test_tampered_links_explain_and_offer_no_form(client, link, mutate, status, title):  # R6
    response = client.get(mutate(link))
    text = response.get_data(as_text=True)
    assert response.status_code == status and title in text
    assert "<form" not in text.split("</header>")[1]


def test_expired_and_spent_links_explain(client, link, outbox):
    Invitation.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    expired = client.get(link)
    assert expired.status_code == 410 and "Срок действия ссылки истёк" in expired.get_data(as_text=True)
    assert "8-800-100-88-00" in expired.get_data(as_text=True)
    Invitation.update(expires_at=utcnow() + dt.timedelta(days=1), spent_at=utcnow()).execute()
    spent = client.get(link)
    assert spent.status_code == 410 and "Вы уже зарегистрированы" in spent.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    posted = client.post(link, data={"csrf_token": csrf(page), "policy": "ДМС-101"})
    assert posted.status_code == 410 and sms_sent() == 0


def test_resend_too_soon_says_when(client, link, outbox):  # R28
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    code_page = client.get("/register/code").get_data(as_text=True)
    response = client.post("/register/code/resend", data={"csrf_token": csrf(code_page)})
    assert "Новый код можно запросить через" in response.get_data(as_text=True)
    assert sms_sent() == 1


def test_login_and_logout(client, link, outbox, last_code):  # R23
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    code_page = client.get("/register/code").get_data(as_text=True)
    client.post("/register/code", data={"csrf_token": csrf(code_page), "code": last_code()})
    account_page = client.get("/account").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf(account_page)})
    assert client.get("/account").status_code == 303
    login = client.get("/login").get_data(as_text=True)
    assert "Войти" in login and "Забыли пароль?" in login
    wrong = client.post("/login", data={"csrf_token": csrf(login), "phone": "89161234567",
                                        "password": "wrong password here"})
    nobody = client.post("/login", data={"csrf_token": csrf(login), "phone": "89031112233",
                                         "password": GOOD})
    for response in (wrong, nobody):
        assert "Неверный номер телефона или пароль" in response.get_data(as_text=True)
    right = client.post("/login", data={"csrf_token": csrf(login), "phone": "+7 916 123 45 67",
                                        "password": GOOD})
    assert right.status_code == 303 and client.get("/account").status_code == 200


def test_documents_are_versioned_pages(client):  # R11
    page = client.get("/documents/pd/1").get_data(as_text=True)
    assert "Согласие на обработку персональных данных" in page
    assert client.get("/documents/pd/99").status_code == 404


def test_back_button_and_resubmit_keep_one_registration_and_one_code(client, link, outbox, last_code):
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    again = client.post(link, data=form_data(client.get(link).get_data(as_text=True)))
    assert again.status_code == 303 and again.headers["Location"] == "/register/code"
    assert sms_sent() == 1
    code_page = client.get("/register/code").get_data(as_text=True)
    done = client.post("/register/code", data={"csrf_token": csrf(code_page), "code": last_code()})
    assert done.headers["Location"] == "/account" and Account.select().count() == 1


def test_two_tabs_finishing_at_once_make_one_account(client, link, outbox, app, last_code):
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    code_page = client.get("/register/code").get_data(as_text=True)
    code = last_code()
    first = client.post("/register/code", data={"csrf_token": csrf(code_page), "code": code})
    second = app.test_client()  # the other tab lost the session cookie race; it still has the page
    with client.session_transaction() as session:
        pending = session.get("pending")
    assert first.headers["Location"] == "/account"
    with second.session_transaction() as other:
        other["pending"] = pending
    late = second.post("/register/code", data={"code": code})
    assert late.status_code in (400, 410) and Account.select().count() == 1


@pytest.mark.settings(RATELIMIT_ENABLED=True)
def test_code_checks_are_rate_limited_per_address(client, link, outbox):  # R28
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    code_page = client.get("/register/code").get_data(as_text=True)
    statuses = [client.post("/register/code", data={"csrf_token": csrf(code_page), "code": "000000"}).status_code
                for _ in range(21)]
    assert statuses[-1] == 429 and 429 not in statuses[:20]
    limited = client.post("/register/code", data={"csrf_token": csrf(code_page), "code": "000000"})
    assert limited.status_code == 429 and "Слишком много попыток" in limited.get_data(as_text=True)


@pytest.mark.settings(RATELIMIT_ENABLED=False)
def test_rate_limits_can_be_switched_off(client, link, outbox):
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    code_page = client.get("/register/code").get_data(as_text=True)
    statuses = {client.post("/register/code", data={"csrf_token": csrf(code_page), "code": "000000"}).status_code
                for _ in range(25)}
    assert 429 not in statuses


def test_a_taken_phone_on_the_link_form_is_kept_for_support(client, link):  # R31
    from regapp.models import Refusal, RosterRecord

    other = RosterRecord.get(RosterRecord.policy_number == "ДМС-102")
    Account.create(record=other, phone="+79161234567", email="x@example.com",
                   email_key="x@example.com", password_hash="x")
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    refusal = Refusal.get()
    assert (refusal.reason, refusal.channel, refusal.phone) == ("phone_taken", "link", "+79161234567")
    assert refusal.record.policy_number == "ДМС-101"


def test_a_long_password_gets_an_answer_not_a_server_error(client, link):  # issue 12
    page = client.get(link).get_data(as_text=True)
    long_one = ("ferret lantern quiz " * 6)[:100]
    response = client.post(link, data=form_data(page, password=long_one, confirmation=long_one))
    assert response.status_code == 303 and response.headers["Location"] == "/register/code"


@pytest.mark.parametrize("version", ["9" * 300, "999", "../../etc/passwd", ""])
def test_a_forged_consent_version_is_recorded_as_the_one_shown(client, link, last_code, version):
    from regapp.models import ConsentEvent

    page = client.get(link).get_data(as_text=True)  # issue 12: the server records what it showed
    client.post(link, data=form_data(page, terms_version=version, pd_version=version))
    code_page = client.get("/register/code").get_data(as_text=True)
    client.post("/register/code", data={"csrf_token": csrf(code_page), "code": last_code()})
    assert Account.select().count() == 1
    assert {e.version for e in ConsentEvent.select()} == {"1"}


@pytest.mark.parametrize("path", ["/documents/terms/" + "9" * 300, "/documents/pd/2",
                                  "/documents/terms/..%2F..%2Fsetup"])
def test_an_edition_that_does_not_exist_is_not_found(client, path):  # issue 12: was a 500
    assert client.get(path).status_code == 404


def test_an_unconfirmed_claim_on_the_invited_address_yields_to_its_owner(client, link, app,
                                                                        last_code):  # issue 12
    from regapp import email_confirmation
    from regapp.models import EmailConfirmation, RosterRecord
    from regapp.tokens import hash_token

    squatter = Account.create(record=RosterRecord.get(RosterRecord.policy_number == "ДМС-103"),
                              phone="+79030000001", email="a.petrov@example.com",
                              email_key="a.petrov@example.com", password_hash="x")
    EmailConfirmation.create(account=squatter, email_key="a.petrov@example.com",
                             token_hash=hash_token("t" * 43))
    page = client.get(link).get_data(as_text=True)
    assert client.post(link, data=form_data(page)).headers["Location"] == "/register/code"
    code_page = client.get("/register/code").get_data(as_text=True)
    done = client.post("/register/code", data={"csrf_token": csrf(code_page), "code": last_code()})
    assert done.headers["Location"] == "/account"
    owner = Account.get(Account.phone == "+79161234567")
    assert owner.email_confirmed
    assert email_confirmation.confirm("t" * 43) == "taken"  # the squatter's link cannot win now
    assert not Account.get_by_id(squatter.id).email_confirmed


def test_an_invited_address_another_owner_confirmed_is_said_before_the_sms(client, link):
    from regapp.models import RosterRecord

    Account.create(record=RosterRecord.get(RosterRecord.policy_number == "ДМС-103"),
                   phone="+79030000001", email="a.petrov@example.com",
                   email_key="a.petrov@example.com", password_hash="x", email_confirmed=True)
    page = client.get(link).get_data(as_text=True)
    answer = client.post(link, data=form_data(page))
    assert answer.status_code == 200 and "E-mail уже занят" in answer.get_data(as_text=True)
    assert sms_sent() == 0


@pytest.mark.settings(RATELIMIT_ENABLED=True)
def test_inline_checks_have_limits_a_person_typing_never_meets(client, link):  # issue 12
    page = client.get(link).get_data(as_text=True)
    statuses = [client.post(link, headers=check_of("phone"),
                            data=form_data(page, phone=f"+7 916 000-{n:04d}"[:16]),
                            environ_base={"REMOTE_ADDR": f"198.51.100.{n % 250}"}).status_code
                for n in range(125)]
    assert statuses[:120] == [200] * 120  # far more than a person leaving fields
    assert 429 in statuses[120:]  # one session cannot probe without end, from any address


def test_a_late_code_is_said_on_its_page(app, client, link):  # issue 13
    import datetime as dt

    app.extensions["regapp.adapters"].sms.settings["FAKE_SMS_FAIL"] = True  # the gateway is down
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    code_page = client.get("/register/code").get_data(as_text=True)
    assert "СМС задерживается" not in code_page and 'hx-trigger="every 3s"' in code_page
    Message.update(created_at=Message.get().created_at - dt.timedelta(seconds=10)).execute()
    late = client.get("/register/code/delivery", headers=HX).get_data(as_text=True)
    assert "СМС задерживается, мы пробуем ещё раз" in late
    assert "СМС задерживается" in client.get("/register/code").get_data(as_text=True)  # no JS
    app.extensions["regapp.adapters"].sms.settings["FAKE_SMS_FAIL"] = False
    from regapp import messaging

    messaging.deliver_due(app.extensions["regapp.adapters"], app.config,
                          now=utcnow() + dt.timedelta(seconds=2))
    sent = client.get("/register/code/delivery", headers=HX).get_data(as_text=True)
    assert "задерживается" not in sent and "every 3s" not in sent  # polling stops


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_a_policy_ended_since_the_invitation_is_refused_like_without_a_link(
        client, link, headers):  # R1, issue 14
    import datetime as dt

    from regapp.models import RosterRecord

    RosterRecord.update(valid_to=dt.date.today() - dt.timedelta(days=1)).where(
        RosterRecord.policy_number == "ДМС-101").execute()
    page = client.get(link).get_data(as_text=True)
    answer = client.post(link, data=form_data(page), headers=headers)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Location" not in answer.headers
    assert re.search(r'role="alert"[^>]*>Мы не нашли вас среди застрахованных с действующим полисом',
                     text)
    assert sms_sent() == 0 and 'value="ДМС-101"' in text


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_after_a_refused_submit_the_hints_start_again_with_the_empty_fields(client, link,
                                                                            headers):  # issue 14
    page = client.get(link).get_data(as_text=True)
    text = client.post(link, data=form_data(page, pd=None), headers=headers).get_data(as_text=True)
    assert "hint--met" not in text and GOOD not in text


def test_the_resend_wait_is_said_once_with_the_button_disabled(client, link):  # issue 14
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    code_page = client.get("/register/code").get_data(as_text=True)
    assert re.search(r'<input[^>]*disabled[^>]*value="Отправить код повторно"|'
                     r'<input[^>]*value="Отправить код повторно"[^>]*disabled', code_page)
    assert code_page.count("Новый код можно запросить через") == 1
    assert re.search(r'data-countdown="(5\d|60)"', code_page)
    again = client.post("/register/code/resend", data={"csrf_token": csrf(code_page)})
    assert again.get_data(as_text=True).count("Новый код можно запросить через") == 1
    assert sms_sent() == 1


def test_two_tabs_of_one_invitation_say_which_number_the_live_code_went_to(
        client, link, outbox):  # issue 14
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))  # tab A: +7 916 …
    tab_a = client.get("/register/code").get_data(as_text=True)
    client.post(link, data=form_data(page, phone="8 903 765-43-21"))  # tab B: another number
    first_code = code_in(next(m for m in outbox() if m["to"] == "+79161234567")["text"])
    answer = client.post("/register/code", data={"csrf_token": csrf(tab_a), "code": first_code,
                                                 "step": re.search(r'id="step"[^>]*value="(\w+)"',
                                                                   tab_a).group(1)})
    text = answer.get_data(as_text=True)
    assert "действующий код ушёл на номер +7 903 765-43-21" in text
    from regapp.models import OneTimeCode

    assert sum(c.wrong_tries for c in OneTimeCode.select()) == 0  # no try spent on it



def test_back_from_the_code_step_finds_the_form_as_it_was_sent(client, link):  # issue 14
    page = client.get(link).get_data(as_text=True)
    client.post(link, data=form_data(page))
    again = client.get(link).get_data(as_text=True)  # Back
    assert 'value="ДМС-101"' in again and 'value="+7 916 123-45-67"' in again
    assert GOOD not in again and "hint--met" not in again
    assert re.search(r'<input[^>]*checked[^>]*id="terms"|<input[^>]*id="terms"[^>]*checked',
                     again)
    assert 'value="ДМС-101"' not in client.application.test_client().get(link).get_data(
        as_text=True)  # another browser sees an empty form
