"""Registration by link as plain steps (R8–R12, R29), without Flask views."""

import datetime as dt
import re

import pytest

from regapp import invitations, otp, passwords, registration
from regapp.models import Account, ConsentEvent, Invitation, Message, PendingRegistration, utcnow
from regapp.roster import import_roster
from regapp.texts import text
from tests.helpers import GOOD, all_at_once
from tests.rosters import PEOPLE, write_csv

CONSENTS = {"terms": (True, "1"), "pd": (True, "1"), "marketing": (False, "1")}


@pytest.fixture
def invited(app, tmp_path, outbox):
    """Every demo person invited; returns policy → their live invitation."""
    path = write_csv(tmp_path / "roster.csv", PEOPLE)
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"), path)
    invitations.send_invitations()
    found = {}
    for entry in outbox():
        token = re.search(r"/invite/([\w-]+)", entry["text"]).group(1)
        invitation, state = invitations.find_invitation(token)
        found[invitation.record.policy_number] = invitation
    return found


def fill(invitation, policy=None, phone="+7 (916) 123-45-67", password=GOOD, confirmation=None,
         consents=None):
    return registration.check_link_form(
        invitation, policy or invitation.record.policy_number, phone, password,
        GOOD if confirmation is None else confirmation, consents or CONSENTS)


def start(app, invitation, **kw):
    cleaned, errors = fill(invitation, **kw)
    assert errors == {}
    return registration.start_by_link(invitation, cleaned, kw.get("password", GOOD), app.config,
                                      registration.Client("203.0.113.7", "Mobile Safari"))



def test_a_valid_form_sends_a_code_and_the_code_opens_the_account(app, invited, outbox, last_code):  # R12
    invitation = invited["ДМС-101"]
    pending = start(app, invitation, policy="дмс 101")  # R8: case and spaces do not matter
    sms = outbox()[-1]
    assert sms["channel"] == "sms" and sms["to"] == "+79161234567"
    assert len(re.findall(r"\d{6}", sms["text"])) == 2  # the code, and again in the WebOTP line
    assert sms["text"].endswith(f"@regapp.example.com #{last_code()}")
    account = registration.complete(pending, last_code(), app.config)
    assert (account.phone, account.email, account.email_confirmed) == (
        "+79161234567", "a.petrov@example.com", True)
    assert passwords.verify_password(account.password_hash, GOOD)
    assert Invitation.get_by_id(invitation.id).spent_at is not None
    assert registration.find_pending(pending.id) is None


def test_consents_are_recorded_with_version_hash_address_and_agent(app, invited, outbox, last_code):  # R11
    pending = start(app, invited["ДМС-101"])
    account = registration.complete(pending, last_code(), app.config)
    events = {e.kind: e for e in ConsentEvent.select().where(ConsentEvent.account == account)}
    assert set(events) == {"terms", "pd"}  # marketing not given: no row
    assert all(e.granted and e.version == "1" and len(e.text_sha256) == 64 for e in events.values())
    assert events["pd"].client_ip == "203.0.113.7" and events["pd"].user_agent == "Mobile Safari"
    assert events["terms"].channel == "link"


def test_marketing_consent_when_given_is_recorded(app, invited, outbox, last_code):
    consents = {**CONSENTS, "marketing": (True, "1")}
    pending = start(app, invited["ДМС-101"], consents=consents)
    account = registration.complete(pending, last_code(), app.config)
    assert ConsentEvent.get(ConsentEvent.account == account, ConsentEvent.kind == "marketing").granted


@pytest.mark.parametrize("change, field, message", [
    ({"policy": "ДМС-102"}, "policy", "не совпадает"),
    ({"policy": "№"}, "policy", "полиса ДМС"),
    ({"phone": "+7 495 123-45-67"}, "phone", "не мобильный"),
    ({"password": "qwerty123", "confirmation": "qwerty123"}, "password", "легко подобрать"),
    ({"password": "Петров-Александр-1985", "confirmation": "Петров-Александр-1985"}, "password",
     "имя"),
    ({"confirmation": GOOD + "!"}, "confirmation", "не совпадают"),
    ({"consents": {"terms": (True, "1"), "pd": (False, "1")}}, "pd", "невозможна"),
    ({"consents": {"pd": (True, "1")}}, "terms", "невозможна"),
])
def test_each_refusal_names_its_field_and_sends_no_sms(app, invited, change, field, message):
    _, errors = fill(invited["ДМС-101"], **change)
    assert message in errors[field]
    assert Message.select().where(Message.channel == "sms").count() == 0


def test_a_phone_already_used_by_an_account_is_taken(app, invited, outbox, last_code):  # R9, seed's spouses
    first = start(app, invited["ДМС-101"])
    registration.complete(first, last_code(), app.config)
    _, errors = fill(invited["ДМС-102"], phone="89161234567")
    assert errors["phone"] == text("phone.taken")


def _same_phone_as(first, invitation):
    """A second person's registration for the phone ``first`` uses (R29's race)."""
    return PendingRegistration.create(
        id="race", record=invitation.record, invitation=invitation, phone=first.phone,
        email="alena@example.com", email_key="alena@example.com", email_confirmed=True,
        password_hash=first.password_hash, consents=first.consents, channel="link",
        expires_at=first.expires_at)


def test_two_people_racing_for_one_phone_one_wins(app, invited, outbox, last_code):  # R29
    one = start(app, invited["ДМС-101"])
    code_one = last_code()
    registration.complete(one, code_one, app.config)
    # the second filled the form before the first finished, and asks for a code later
    other = _same_phone_as(one, invited["ДМС-102"])
    later = utcnow() + dt.timedelta(minutes=2)
    registration.resend_code(other, app.config, now=later)
    with pytest.raises(registration.Refused) as caught:
        registration.complete(other, last_code(), app.config, now=later)
    assert caught.value.field == "phone" and "занят" in str(caught.value)
    assert Account.select().count() == 1


def test_a_refusal_at_the_account_leaves_the_code_open_and_nothing_written(
        app, invited, outbox, last_code):  # R29, issue 15: code and account in one transaction
    from regapp.models import OneTimeCode
    one = start(app, invited["ДМС-101"])
    registration.complete(one, last_code(), app.config)
    other = _same_phone_as(one, invited["ДМС-102"])
    later = utcnow() + dt.timedelta(minutes=2)
    registration.resend_code(other, app.config, now=later)
    code = last_code()
    for _ in range(2):  # the same answer however often the right code is typed
        with pytest.raises(registration.Refused):
            registration.complete(other, code, app.config, now=later)
    live = OneTimeCode.get((OneTimeCode.target == other.phone) & OneTimeCode.closed_at.is_null())
    assert live.wrong_tries == 0  # a right code costs no try
    assert Account.select().count() == 1 and ConsentEvent.select().count() == 2
    assert PendingRegistration.get_by_id("race").account_id is None
    assert Invitation.get_by_id(invited["ДМС-102"].id).spent_at is None


def test_the_code_and_the_account_commit_once(app, invited, outbox, last_code):  # issue 15
    from regapp.db import database
    pending = start(app, invited["ДМС-101"])
    code = last_code()
    commits = []
    original = database.obj.commit
    database.obj.commit = lambda: commits.append(1) or original()
    try:
        registration.complete(pending, code, app.config)
    finally:
        del database.obj.commit
    assert len(commits) == 1


def test_two_tabs_finishing_at_once_make_one_account(app, invited, outbox, last_code):
    pending = start(app, invited["ДМС-101"])
    code = last_code()
    registration.complete(pending, code, app.config)
    with pytest.raises(otp.CodeError):
        registration.complete(pending, code, app.config)
    assert Account.select().count() == 1


def test_a_wrong_code_creates_nothing(app, invited, outbox, last_code):
    pending = start(app, invited["ДМС-101"])
    wrong = f"{(int(last_code()) + 1) % 10**6:06d}"
    with pytest.raises(otp.Wrong):
        registration.complete(pending, wrong, app.config)
    assert Account.select().count() == 0
    assert registration.find_pending(pending.id) is not None


def test_the_code_sent_from_eight_tabs_at_once_makes_one_account(app, invited, last_code):
    # issue 13, R29: on both databases
    pending = start(app, invited["ДМС-101"])
    code = last_code()
    results = all_at_once(lambda i: registration.complete(
        PendingRegistration.get_by_id(pending.id), code, app.config))
    accounts = [r for r in results if isinstance(r, Account)]
    refused = [r for r in results if not isinstance(r, Account)]
    assert len(accounts) == 1 and Account.select().count() == 1
    assert all(isinstance(r, (otp.CodeError, registration.Refused)) for r in refused), refused


def test_two_people_confirming_one_phone_at_once_one_wins(app, invited, last_code):  # R29
    first = start(app, invited["ДМС-101"])
    first_code = last_code()
    second = _same_phone_as(first, invited["ДМС-102"])
    later = utcnow() + dt.timedelta(minutes=2)
    registration.resend_code(second, app.config, now=later)
    second_code = last_code()
    pairs = [(first, first_code, None), (second, second_code, later)] * 6
    results = all_at_once(lambda i: registration.complete(
        PendingRegistration.get_by_id(pairs[i][0].id), pairs[i][1], app.config, now=pairs[i][2]))
    assert Account.select().count() == 1
    assert all(isinstance(r, (Account, otp.CodeError, registration.Refused)) for r in results)


def _two_at_once(app, invited, last_code, first, second):
    """Two pending registrations (``first``, ``second``: keyword arguments of
    :func:`registration.start`) completed six times each, all at once."""
    pendings = []
    for kw in (first, second):
        pending = registration.start(consents=CONSENTS, password=GOOD, settings=app.config,
                                     email_code_required=False, **kw)
        pendings.append((pending, last_code()))
    pairs = pendings * 6
    return all_at_once(lambda i: registration.complete(
        PendingRegistration.get_by_id(pairs[i][0].id), pairs[i][1], app.config))


@pytest.mark.parametrize("shared", ["policy", "email", "esia"])
def test_two_registrations_sharing_a_policy_email_or_esia_id_make_one_account(
        app, invited, last_code, shared):  # issue 13, R29: on both databases
    petrov, semenova = invited["ДМС-101"].record, invited["ДМС-102"].record
    first = {"record": petrov, "phone": "+79161234567", "email": "a.petrov@example.com",
             "email_confirmed": True, "esia_id": None}
    second = {"record": semenova, "phone": "+79037654321", "email": "alena@example.com",
              "email_confirmed": True, "esia_id": None}
    if shared == "policy":  # the same person from two browsers with two phones
        second.update(record=petrov, email="a.petrov@example.com")
    elif shared == "email":
        second.update(email="a.petrov@example.com")
    else:
        first["esia_id"] = second["esia_id"] = "1000000001"
    results = _two_at_once(app, invited, last_code, first, second)
    accounts = {r.id for r in results if isinstance(r, Account)}
    assert len(accounts) == 1 and Account.select().count() == 1, results
    assert all(isinstance(r, (Account, otp.CodeError, registration.Refused)) for r in results)


def test_the_code_page_in_one_statement_says_what_its_two_look_ups_say(app, invited):  # issue 15
    from regapp import messaging
    from tests.helpers import statements_sent

    pending = start(app, next(iter(invited.values())))
    made = Message.select().where(Message.to == pending.phone).get()
    late = made.created_at + messaging.LATE_AFTER + dt.timedelta(seconds=1)
    seen = []
    for status, now in [("pending", made.created_at), ("pending", late), ("sent", late),
                        ("failed", late + dt.timedelta(seconds=70))]:
        Message.update(status=status).where(Message.id == made.id).execute()
        with statements_sent() as sent:
            state = registration.code_page(pending, now)
        assert len(sent) == 1
        assert state == (messaging.code_delivery(pending.phone, now),
                         otp.seconds_until_resend(pending.phone, registration.PURPOSE, now))
        with statements_sent() as sent:  # the page's GET: read with the pending row
            read = registration.find_pending(pending.id, now, with_page=True)
            assert read.id == pending.id and registration.code_page(read, now) == state
        assert len(sent) == 1
        seen.append(state)
    assert seen[0][0] == "waiting" and seen[1][0] == "late" and seen[2][0] == "sent"
    assert seen[0][1] > 0 and seen[3][1] == 0  # a new code may be asked for a minute on
    Message.delete().where(Message.id == made.id).execute()  # none (swept): as the two say
    assert registration.code_page(pending, late) == ("sent", otp.seconds_until_resend(
        pending.phone, registration.PURPOSE, late))
