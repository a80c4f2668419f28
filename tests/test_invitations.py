"""Invitations (R4–R6): who is invited, duplicate e-mails, links that expire and cannot be forged."""

import datetime as dt
import json
import re

import pytest

from regapp import invitations, normalize
from regapp.models import Account, Invitation, Message, RosterRecord, utcnow
from regapp.roster import import_roster
from tests.rosters import PEOPLE, person, write_csv

LINK = re.compile(r"https://regapp\.example\.com/invite/([\w-]+)")


@pytest.fixture
def roster(app, tmp_path):
    rows = PEOPLE + [
        person("SP-1", last="Кузнецов", first="Игорь", email="Family@Example.com"),
        person("SP-2", last="Кузнецова", first="Мария", email="family@example.COM"),
        person("OLD-1", email="family@example.com", end="31.12.2020"),  # ended: does not count
        person("GONE-1", last="Сидоров", email="sidorov@example.com", end="31.12.2020"),
        person("NEW-1", last="Орлов", email="orlov@example.com", start="01.01.2099"),
        person("NOMAIL-1", last="Никитин", email=""),
        person("ONE-1", last="Волков", email="shared.once@example.com"),
        person("ONE-2", last="Волкова", email="shared.once@example.com", end="01.01.2021"),
    ]
    path = write_csv(tmp_path / "roster.csv", rows)
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"), path)


def links(outbox):
    return {e["to"]: LINK.search(e["text"]).group(1) for e in outbox() if e["channel"] == "email"}


def test_each_active_uninvited_record_with_an_email_gets_one(app, roster, outbox):  # R4, R5
    report = invitations.send_invitations()
    assert report.as_json() == {"sent": 4, "skipped": {
        "duplicate_email": ["SP-1", "SP-2"], "no_email": 1, "registered": 0, "already_invited": 0}}
    sent = links(outbox)
    assert set(sent) == {"a.petrov@example.com", "alena@example.com", "ali@example.com",
                         "shared.once@example.com"}
    mail = next(e for e in outbox() if e["to"] == "a.petrov@example.com")
    assert "ДМС-101" in mail["text"] and "Александр Иванович" in mail["text"]
    assert mail["subject"] == "Приглашение в личный кабинет застрахованного"
    assert Message.select().where(Message.status == "sent").count() == 4


def test_a_batchs_mails_are_what_flask_renders_for_each(app, roster):  # R4, issue 15
    """The batch renders its templates with Flask's context made once: every e-mail the
    same, to the byte, as ``render_template`` makes it (names with and without patronymic,
    employer or none, a name to escape in the HTML)."""
    from flask import render_template

    from regapp import notifications

    records = list(RosterRecord.select().order_by(RosterRecord.id))
    records[0].first_name, records[0].employer = "<b>Анна</b>", "ООО «Ромашка» & Ко"
    records[1].patronymic = None
    expires = dt.datetime(2027, 1, 31, 12)
    tokens = [f"token-{n}" for n in range(len(records))]
    with app.test_request_context():
        mails = notifications.invitations(records, tokens, expires)
        for record, token, mail in zip(records, tokens, mails, strict=True):
            context = notifications._context(
                record=record, expires=expires,
                link=notifications.link("invite.form", token=token),
                first_name=normalize.display_name(record.first_name),
                patronymic=normalize.display_name(record.patronymic))
            assert mail.text == render_template("email/invitation.txt", **context)
            assert mail.html == render_template("email/invitation.html", **context)
            assert f"/invite/{token}" in mail.text and record.policy_number in mail.html
    assert "&lt;b&gt;Анна&lt;/b&gt;" in mails[0].html and "<b>Анна</b>" in mails[0].text


def test_a_batch_is_stored_in_as_many_statements_for_four_people_as_for_one(app, roster):
    """Issue 15: an invitation and its e-mail go in with the rest of their batch, not in two
    INSERTs a person each (a large employer's morning is 100,000 of them)."""
    from tests.helpers import statements_sent

    with statements_sent() as sent:
        assert invitations.send_invitations().sent == 4
    inserts = [sql for sql in sent if "INSERT" in sql.upper()]
    assert len(inserts) == 2, inserts
    assert {i.message.to for i in Invitation.select()} == {
        "a.petrov@example.com", "alena@example.com", "ali@example.com",
        "shared.once@example.com"}


def test_a_second_run_sends_nothing_new(app, roster, outbox):
    invitations.send_invitations()
    again = invitations.send_invitations()
    assert again.sent == 0 and again.already_invited == 4 and len(outbox()) == 4


def test_registered_records_are_not_invited(app, roster):
    record = RosterRecord.get(RosterRecord.policy_number == "ДМС-101")
    Account.create(record=record, phone="+79161234567", email=record.email,
                   email_key=record.email_key, password_hash="x")
    report = invitations.send_invitations()
    assert (report.sent, report.registered) == (3, 1)


def test_dry_run_counts_and_sends_nothing(app, roster, outbox):
    report = invitations.send_invitations(dry_run=True)
    assert report.sent == 4
    assert outbox() == [] and Invitation.select().count() == 0


def test_link_resolves_until_it_expires(app, roster, outbox):  # R6
    invitations.send_invitations()
    token = links(outbox)["a.petrov@example.com"]
    invitation, state = invitations.find_invitation(token)
    assert state == "ok" and invitation.record.policy_number == "ДМС-101"
    almost = utcnow() + dt.timedelta(days=29, hours=23)
    assert invitations.find_invitation(token, now=almost)[1] == "ok"
    later = utcnow() + dt.timedelta(days=30, minutes=1)
    assert invitations.find_invitation(token, now=later)[1] == "expired"


@pytest.mark.settings(INVITATION_TTL_DAYS=2)
def test_link_lifetime_is_a_setting(app, roster, outbox):
    invitations.send_invitations()
    token = links(outbox)["a.petrov@example.com"]
    assert invitations.find_invitation(token, now=utcnow() + dt.timedelta(days=2, seconds=1))[1] == "expired"


def test_a_tampered_link_finds_nothing(app, roster, outbox):  # R6
    invitations.send_invitations()
    token = links(outbox)["a.petrov@example.com"]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert invitations.find_invitation(flipped) == (None, "unknown")
    assert invitations.find_invitation(token[:-1]) == (None, "unknown")
    assert invitations.find_invitation("") == (None, "unknown")
    # only the hash is stored: the database alone cannot rebuild a link
    assert not Invitation.select().where(Invitation.token_hash.contains(token)).exists()


def test_a_spent_link_stops_working_and_is_not_renewed(app, roster, outbox):
    invitations.send_invitations()
    token = links(outbox)["a.petrov@example.com"]
    invitation, _ = invitations.find_invitation(token)
    Invitation.update(spent_at=utcnow()).where(Invitation.id == invitation.id).execute()
    assert invitations.find_invitation(token)[1] == "spent"


def test_an_expired_invitation_is_replaced_by_the_next_dispatch(app, roster, outbox):
    invitations.send_invitations()
    report = invitations.send_invitations(now=utcnow() + dt.timedelta(days=31))
    assert report.sent == 4


@pytest.mark.settings(FAKE_EMAIL_FAIL=True, DELIVERY_MAX_ATTEMPTS=1)
def test_an_invitation_whose_mail_failed_is_sent_again_by_the_next_dispatch(app, roster, outbox,
                                                                            cli):
    """R4, R26: the mail server out of reach past every retry, the invitations end failed;
    their links were never read, so they do not count as live: the next dispatch sends
    new ones in their place (the old links stop working) and says how many."""
    first = invitations.send_invitations()
    assert first.sent == 4 and links(outbox) == {}
    failed = Message.select().where(Message.status == "failed")
    assert failed.count() == 4 and all(m.last_error for m in failed)
    old = Invitation.get(Invitation.email == "alena@example.com")
    app.config["FAKE_EMAIL_FAIL"] = False  # the server is back
    assert invitations.send_invitations(dry_run=True).undelivered == 4
    result = cli("invitations", "send")
    assert "Отправлено приглашений: 4. Из них взамен недоставленных" in result.output
    new = links(outbox)["alena@example.com"]
    assert invitations.find_invitation(new)[1] == "ok"
    assert Invitation.get_by_id(old.id).revoked_at is not None
    again = invitations.send_invitations()  # delivered now: live, not sent a third time
    assert again.sent == 0 and again.already_invited == 4 and again.undelivered == 0


def test_resend_revokes_the_old_link(app, roster, outbox):  # R6
    invitations.send_invitations()
    old = links(outbox)["alena@example.com"]
    report = invitations.resend_invitation("дмс 102")
    assert report.sent == 1 and report.refused is None
    new = [LINK.search(e["text"]).group(1) for e in outbox() if e["to"] == "alena@example.com"][-1]
    assert new != old
    assert invitations.find_invitation(old)[1] == "revoked"
    assert invitations.find_invitation(new)[1] == "ok"


@pytest.mark.parametrize("policy, reason", [
    ("NOPE-1", "нет такого полиса"),
    ("GONE-1", "не действует"),
    ("NOMAIL-1", "нет e-mail"),
    ("SP-1", "нескольких"),
])
def test_resend_refusals_say_why(app, roster, policy, reason):
    report = invitations.resend_invitation(policy)
    assert report.sent == 0 and reason in report.refused


def test_cli_send_json(app, roster, cli):
    result = cli("invitations", "send", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"sent": 4, "skipped": {
        "duplicate_email": ["SP-1", "SP-2"], "no_email": 1, "registered": 0, "already_invited": 0}}
    again = json.loads(cli("invitations", "send", "--json").output)
    assert again["sent"] == 0 and again["skipped"]["already_invited"] == 4


def test_cli_dry_run_and_resend(app, roster, cli, outbox):
    dry = cli("invitations", "send", "--dry-run")
    assert "Будет отправлено приглашений: 4" in dry.output and "SP-1, SP-2" in dry.output
    assert outbox() == []
    resent = cli("invitations", "send", "--resend", "ДМС-101", "--json")
    assert resent.exit_code == 0 and json.loads(resent.output)["sent"] == 1
    refused = cli("invitations", "send", "--resend", "SP-2")
    assert refused.exit_code == 1 and "нескольких" in refused.stderr
