"""The personal account (R23, R24, R11; issue 6)."""

import re

import pytest

from regapp import passwords
from regapp.models import Account, RosterRecord
from tests.helpers import GOOD, Auth, csrf, statements_sent


def login(client, phone="+79161234567", password=GOOD):
    return Auth(client).login(phone, password)


def test_sign_out_everywhere_ends_other_sessions(app, account):
    phone, laptop = app.test_client(), app.test_client()
    assert login(phone).headers["Location"] == "/account"
    assert login(laptop).headers["Location"] == "/account"
    page = laptop.get("/account").get_data(as_text=True)
    laptop.post("/logout/everywhere", data={"csrf_token": csrf(page)})
    assert phone.get("/account").status_code == 303  # signed out over there too
    assert laptop.get("/account").status_code == 303
    assert login(phone).headers["Location"] == "/account"  # and can sign in again


def forgot(client, phone):
    page = client.get("/login/forgot").get_data(as_text=True)
    return client.post("/login/forgot", data={"csrf_token": csrf(page), "phone": phone})


def reset(client, code, password=GOOD + " again", confirmation=None):
    page = client.get("/login/forgot/code").get_data(as_text=True)
    return client.post("/login/forgot/code", data={
        "csrf_token": csrf(page), "code": code, "password": password,
        "confirmation": password if confirmation is None else confirmation})



def test_recovery_sets_a_new_password_and_signs_out_elsewhere(app, account, outbox, last_code):  # R24
    other_device = app.test_client()
    login(other_device)
    client = app.test_client()
    answer = forgot(client, "8 916 123-45-67")
    assert answer.headers["Location"] == "/login/forgot/code"
    assert "код для смены пароля" in outbox()[-1]["text"]
    done = reset(client, last_code())
    assert done.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    assert other_device.get("/account").status_code == 303
    assert login(app.test_client()).status_code == 200  # the old password is gone
    assert login(app.test_client(), password=GOOD + " again").headers["Location"] == "/account"


def test_an_unknown_phone_gets_the_same_answer_and_no_sms(app, account, outbox, last_code):  # no enumeration
    known, unknown = app.test_client(), app.test_client()
    a, b = forgot(known, "+79161234567"), forgot(unknown, "+79031234567")
    assert (a.status_code, a.headers["Location"]) == (b.status_code, b.headers["Location"])
    page_a = known.get("/login/forgot/code").get_data(as_text=True)
    page_b = unknown.get("/login/forgot/code").get_data(as_text=True)
    strip = lambda page: re.sub(r'value="[^"]+"|<strong>[^<]+</strong>', "", page)  # noqa: E731
    assert strip(page_a) == strip(page_b)
    assert [e["to"] for e in outbox()] == ["+79161234567"]
    wrong_known = reset(known, f"{(int(last_code()) + 1) % 10**6:06d}").get_data(as_text=True)
    wrong_unknown = reset(unknown, "123456").get_data(as_text=True)
    assert "Код неверный или устарел" in wrong_known and "Код неверный или устарел" in wrong_unknown


def test_recovery_uses_the_registration_password_policy(app, account, outbox, last_code):
    client = app.test_client()
    forgot(client, "+79161234567")
    text = reset(client, last_code(), password="Петров1985!").get_data(as_text=True)
    assert "имя, телефон или номер полиса" in text
    text = reset(client, last_code(), confirmation="different").get_data(as_text=True)
    assert "Пароли не совпадают" in text
    assert reset(client, last_code()).headers["Location"] == "/account"  # code still good


def test_before_the_code_is_right_a_password_with_the_name_tells_nothing(app, account, outbox,
                                                                         last_code):  # issue 12
    known, unknown = app.test_client(), app.test_client()
    forgot(known, "+79161234567")
    forgot(unknown, "+79031234567")
    wrong = f"{(int(last_code()) + 1) % 10**6:06d}"
    answers = [reset(c, wrong, password="Петров1985 winter!", confirmation="Петров1985 winter!")
               .get_data(as_text=True) for c in (known, unknown)]
    for answer in answers:
        assert "Код неверный или устарел" in answer and "имя, телефон" not in answer


def test_forgot_link_on_the_login_page(client):
    assert 'href="/login/forgot">Забыли пароль?' in client.get("/login").get_data(as_text=True)


def test_marketing_per_channel_is_saved_as_consent_events(app, account):  # R11, R23
    from regapp import consents
    from regapp.models import ConsentEvent

    client = app.test_client()
    login(client)
    page = client.get("/account").get_data(as_text=True)
    assert 'Маркетинговая коммуникация <span class="nowrap">по СМС</span>: <strong>выключена</strong>' in page
    client.post("/account/notifications/sms", data={"csrf_token": csrf(page), "granted": "1"})
    assert consents.may_market(account, "sms") and not consents.may_market(account, "email")
    fragment = client.post("/account/notifications/sms", headers={"HX-Request": "true"},
                           data={"csrf_token": csrf(page), "granted": "0"})
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith('<section id="notifications"') and "<html" not in text
    assert "по СМС</span>: <strong>выключена</strong>" in text
    assert not consents.may_market(account, "sms")  # the withdrawal holds at once
    events = list(ConsentEvent.select().where(ConsentEvent.kind == "marketing_sms")
                  .order_by(ConsentEvent.id))
    assert [e.granted for e in events] == [True, False]
    assert all(e.channel == "account" and len(e.text_sha256) == 64 and e.label.endswith("по СМС")
               for e in events)


def test_registration_marketing_consent_covers_both_channels(app, account):
    from regapp import consents
    from regapp.models import ConsentEvent

    ConsentEvent.create(account=account, record=account.record, kind="marketing", granted=True,
                        document="marketing", version="1", text_sha256="0" * 64, label="x",
                        channel="link")
    assert consents.marketing_state(account) == {"sms": True, "email": True}
    consents.set_marketing(account, "email", False, client=type("C", (), {"ip": None,
                                                                          "user_agent": None}))
    assert consents.marketing_state(account) == {"sms": True, "email": False}


def test_unconfirmed_email_can_have_its_link_sent_again(app, account, outbox):  # R23
    Account.update(email_confirmed=False).execute()
    client = app.test_client()
    login(client)
    page = client.get("/account").get_data(as_text=True)
    assert "не подтверждён" in page and "Отправить ссылку ещё раз" in page
    answer = client.post("/account/email/resend", data={"csrf_token": csrf(page)})
    assert answer.headers["Location"] == "/account"
    mail = outbox()[-1]
    assert mail["subject"] == "Подтвердите E-mail" and "/email/confirm/" in mail["text"]
    assert "Ссылка для подтверждения отправлена" in client.get("/account").get_data(as_text=True)


def test_the_account_shows_the_policy(app, signed_in):
    client = signed_in
    page = client.get("/account").get_data(as_text=True)
    assert "P1, ООО «Ромашка»" in page and "Петров Александр Иванович" in page


def test_a_new_device_is_announced_and_a_known_one_is_not(app, account, outbox):
    first = app.test_client()
    login(first)
    assert outbox() == []  # the first device is simply remembered
    login(first)
    assert outbox() == []
    second = app.test_client()
    login(second)
    [notice] = outbox()
    assert notice["to"] == "a.petrov@example.com" and notice["subject"] == "Вход с нового устройства"
    assert "/login/forgot" in notice["text"]
    login(second)
    assert len(outbox()) == 1


def test_a_device_noted_without_a_notice_is_remembered_once(app, account, outbox, backend):  # issue 15
    from regapp import devices
    from regapp.models import KnownDevice

    devices.note(account, "browser-1", notify=False)  # a registration's
    with statements_sent() as sent:
        devices.note(account, "browser-1", notify=False)  # a second tab's: no error
        if backend:  # prepared on this connection now: held for the next statement
            assert sent == []
        assert devices.note(account, "browser-1") is False  # known: no notice either
    if backend:
        assert f"EXECUTE {devices._REMEMBER.name}(" in sent[0]  # with the look-up
    assert (KnownDevice.select().count(), outbox()) == (1, [])


def test_two_tabs_signing_in_at_once_give_one_notice(app, account, outbox, monkeypatch):
    from regapp import devices
    from regapp.tokens import hash_token

    assert devices.note(account, "browser-1") is True  # the first: remembered, no notice
    assert devices.note(account, "browser-2") is True and len(outbox()) == 1  # a new one
    # the other tab looked before this one's INSERT: it finds browser-2 unknown, adds nothing
    monkeypatch.setattr(devices, "_SEEN", type("Seen", (), {
        "first": staticmethod(lambda *_: (hash_token("browser-1"),))}))
    assert devices.note(account, "browser-2") is False and len(outbox()) == 1


def test_new_device_notice_goes_by_sms_while_the_email_is_unconfirmed(app, account, outbox):
    Account.update(email_confirmed=False).execute()
    login(app.test_client())
    login(app.test_client())
    assert [(e["channel"], e["to"]) for e in outbox()] == [("sms", "+79161234567")]


def change_contact(client, kind, value, password=GOOD):
    page = client.get(f"/account/{kind}").get_data(as_text=True)
    return client.post(f"/account/{kind}", data={"csrf_token": csrf(page), "value": value,
                                                 "password": password})


def enter_code(client, kind, code):
    page = client.get(f"/account/{kind}/code").get_data(as_text=True)
    return client.post(f"/account/{kind}/code", data={"csrf_token": csrf(page), "code": code})


def test_change_phone_with_a_code_to_the_new_number(app, outbox, last_code, signed_in):
    client = signed_in
    assert change_contact(client, "phone", "8 903 765-43-21").headers["Location"] == "/account/phone/code"
    assert Account.get().phone == "+79161234567"  # the old one stays until confirmed
    sms = outbox()[-1]
    assert sms["to"] == "+79037654321" and "код для смены номера" in sms["text"]
    assert enter_code(client, "phone", last_code()).headers["Location"] == "/account"
    assert Account.get().phone == "+79037654321"
    assert login(app.test_client(), phone="+79037654321").headers["Location"] == "/account"


def test_change_email_with_a_code_to_the_new_address(app, outbox, last_code, signed_in):
    client = signed_in
    change_contact(client, "email", "Alex.Petrov@Example.org")
    assert Account.get().email == "a.petrov@example.com"
    mail = outbox()[-1]
    assert mail["to"] == "Alex.Petrov@example.org" and mail["subject"] == "Код подтверждения E-mail"
    assert enter_code(client, "email", last_code()).headers["Location"] == "/account"
    changed = Account.get()
    assert (changed.email, changed.email_key, changed.email_confirmed) == (
        "Alex.Petrov@example.org", "alex.petrov@example.org", True)


def test_a_contact_taken_by_another_account_is_refused(app, account, outbox):
    other = RosterRecord.create(policy_number="P2", policy_key="p2", last_name="Смит",
                                first_name="Джон", name_key="смит джон",
                                birth_date=account.record.birth_date)
    Account.create(record=other, phone="+79030000000", email="j@example.com",
                   email_key="j@example.com", password_hash="x",
                   email_confirmed=True)  # issue 12: only a confirmed address is taken
    client = app.test_client()
    login(client)
    assert "Номер уже занят" in change_contact(client, "phone", "+79030000000").get_data(as_text=True)
    assert "E-mail уже занят" in change_contact(client, "email", "J@example.com").get_data(as_text=True)
    assert outbox() == []


def test_a_number_taken_while_the_code_was_on_its_way(app, account, outbox, last_code, signed_in):  # R29
    client = signed_in
    change_contact(client, "phone", "+79037654321")
    other = RosterRecord.create(policy_number="P2", policy_key="p2", last_name="Смит",
                                first_name="Джон", name_key="смит джон",
                                birth_date=account.record.birth_date)
    Account.create(record=other, phone="+79037654321", email="j@example.com",
                   email_key="j@example.com", password_hash="x")
    refused = enter_code(client, "phone", last_code())
    assert refused.headers["Location"] == "/account/phone/code"  # POST → redirect → GET
    text = client.get("/account/phone/code").get_data(as_text=True)
    assert "Номер уже занят" in text and Account.get_by_id(account.id).phone == "+79161234567"


def test_recovery_does_the_same_work_for_unknown_phones(app, account, outbox):
    """No timing tell: a code is made (and limited) either way; only the SMS differs."""
    from regapp import recovery
    from regapp.models import OneTimeCode

    recovery.send_code("+79161234567", app.config)
    recovery.send_code("+79031234567", app.config)
    assert sorted(c.target for c in OneTimeCode.select()) == ["+79031234567", "+79161234567"]
    assert [e["to"] for e in outbox()] == ["+79161234567"]


@pytest.mark.real_hash
def test_sign_in_upgrades_a_password_hash_made_with_older_parameters(app, account):  # R28
    from argon2 import PasswordHasher

    from regapp.models import Account

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(GOOD)
    Account.update(password_hash=weak).where(Account.id == account.id).execute()
    client = app.test_client()
    assert login(client).headers["Location"] == "/account"
    upgraded = Account.get_by_id(account.id).password_hash
    assert upgraded != weak and not passwords.needs_rehash(upgraded)
    assert passwords.verify_password(upgraded, GOOD)


@pytest.mark.parametrize("password", ["", "not the password"])
def test_a_contact_change_asks_for_the_password_again(signed_in, outbox, password):  # issue 12
    answer = change_contact(signed_in, "phone", "8 903 765-43-21", password=password)
    assert answer.status_code == 200 and "Неверный пароль" in answer.get_data(as_text=True)
    assert outbox() == [] and Account.get().phone == "+79161234567"


def test_after_a_change_the_old_contacts_are_told_and_other_sessions_end(app, account, outbox,
                                                                        last_code):  # issue 12
    borrowed, owner = app.test_client(), app.test_client()
    login(borrowed)
    login(owner)
    change_contact(owner, "phone", "8 903 765-43-21")
    enter_code(owner, "phone", last_code())
    told = {m["to"]: m for m in outbox() if "изменён номер телефона" in m["text"]}
    assert set(told) == {"+79161234567", "a.petrov@example.com"}  # the old phone, the e-mail
    assert "+79037654321" not in told["+79161234567"]["text"]
    assert "8-800-100-88-00" in told["a.petrov@example.com"]["text"]
    assert owner.get("/account").status_code == 200
    assert borrowed.get("/account").status_code == 303  # signed out


def change_password(client, current=GOOD, new=GOOD + " again", confirmation=None):
    page = client.get("/account/password").get_data(as_text=True)
    return client.post("/account/password", data={
        "csrf_token": csrf(page), "current": current, "password": new,
        "confirmation": new if confirmation is None else confirmation})


def test_a_password_change_asks_for_the_current_one(app, account, outbox):  # issue 12, V6.2.3
    borrowed, owner = app.test_client(), app.test_client()
    login(borrowed)
    login(owner)
    refused = change_password(owner, current="not it")
    assert "Неверный пароль" in refused.get_data(as_text=True)
    weak = change_password(owner, new="Петров1985 pass", confirmation="Петров1985 pass")
    assert "имя, телефон или номер полиса" in weak.get_data(as_text=True)
    assert change_password(owner).headers["Location"] == "/account"
    assert login(app.test_client(), password=GOOD + " again").headers["Location"] == "/account"
    assert borrowed.get("/account").status_code == 303 and owner.get("/account").status_code == 200
    told = {m["to"] for m in outbox() if "изменён пароль" in m["text"]}
    assert told == {"+79161234567", "a.petrov@example.com"}


def test_the_password_page_checks_the_confirmation_inline(signed_in):  # R30
    page = signed_in.get("/account/password").get_data(as_text=True)
    answer = signed_in.post("/account/password", headers={"HX-Request": "true",
                                                          "HX-Trigger-Name": "confirmation"},
                            data={"csrf_token": csrf(page), "password": GOOD,
                                  "confirmation": "other"})
    assert "Пароли не совпадают" in answer.get_data(as_text=True)


def test_the_new_device_notice_says_moscow_time(app, account, outbox):  # issue 14
    import datetime as dt
    import re

    login(app.test_client())
    login(app.test_client())
    [notice] = outbox()
    when = re.search(r"(\d\d)\.(\d\d)\.(\d{4}) в (\d\d):(\d\d) \(МСК\)", notice["text"])
    assert when and "UTC" not in notice["text"]
    moscow = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    assert abs(int(when.group(4)) * 60 + int(when.group(5))
               - (moscow.hour * 60 + moscow.minute)) % (24 * 60) in (0, 1, 1439)


def test_the_contact_code_step_names_itself_resends_and_offers_a_way_back(
        app, outbox, last_code, signed_in):  # issue 14
    change_contact(signed_in, "phone", "8 903 765-43-21")
    page = signed_in.get("/account/phone/code").get_data(as_text=True)
    assert "<h1>Подтвердите новый номер телефона</h1>" in page
    assert "+7 903 765-43-21" in page and "+79037654321" not in page
    assert "Отправить код повторно" in page and 'href="/account">Отмена' in page
    again = signed_in.post("/account/phone/code/resend", data={"csrf_token": csrf(page)})
    assert again.status_code == 200 and len(outbox()) == 1  # too soon: said, nothing sent
    assert again.get_data(as_text=True).count("Новый код можно запросить через") == 1


def test_the_email_change_code_says_what_it_is_for(app, outbox, signed_in):  # issue 14
    change_contact(signed_in, "email", "alex@example.org")
    text = outbox()[-1]["text"]
    assert "для смены E-mail в личном кабинете" in text and "регистрации" not in text


@pytest.mark.parametrize(("kind", "typed", "said"), [
    ("phone", "8 916 123-45-67", "Это ваш текущий номер"),
    ("email", "A.Petrov@Example.com", "Это ваш текущий E-mail"),
])
def test_the_current_contact_typed_as_new_is_said_plainly_and_not_counted(
        signed_in, outbox, kind, typed, said):  # issue 14
    for _ in range(7):  # more than the limit of 5 a minute
        page = signed_in.get(f"/account/{kind}").get_data(as_text=True)
        answer = signed_in.post(f"/account/{kind}", data={"csrf_token": csrf(page),
                                                          "value": typed, "password": "x"})
        text = answer.get_data(as_text=True)
        assert answer.status_code == 200 and said in text and "другой пользователь" not in text
    assert outbox() == []
    assert change_contact(signed_in, kind, "8 903 765-43-21" if kind == "phone"
                          else "new@example.org").status_code == 303  # the limit is intact


def test_asking_for_the_link_again_at_once_says_it_is_on_its_way(signed_in, outbox):  # issue 14
    Account.update(email_confirmed=False).execute()
    for _ in range(5):  # more than 3 a minute
        page = signed_in.get("/account").get_data(as_text=True)
        answer = signed_in.post("/account/email/resend", data={"csrf_token": csrf(page)})
        assert answer.status_code == 303
    assert len(outbox()) == 1
    assert "Ссылка уже отправлена на a.petrov@example.com" in signed_in.get(
        "/account").get_data(as_text=True)
