"""Support's view (R31): refusals kept with reasons, and `regapp support lookup`."""

import datetime as dt
import re

import pytest

from regapp import invitations, support
from regapp.matching import REASONS
from regapp.models import Account, Invitation, Refusal, RosterRecord, utcnow
from regapp.roster import import_roster
from tests.rosters import PEOPLE, person, write_csv


@pytest.fixture
def roster(app, tmp_path):
    rows = PEOPLE + [person("SP-1", last="Кузнецов", email="family@example.com"),
                     person("SP-2", last="Кузнецова", email="family@example.com")]
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"),
                  write_csv(tmp_path / "r.csv", rows))


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_each_refusal_kind_is_shown_in_words(app, roster, cli, reason):
    record = RosterRecord.get(RosterRecord.policy_number == "ДМС-101")
    support.refuse(reason, "form", record=record, phone="+79161234567",
                   email_key="a.petrov@example.com", client_ip="203.0.113.9")
    for query in ("ДМС 101", "8 916 123-45-67", "A.Petrov@Example.com"):
        result = cli("support", "lookup", query)
        assert result.exit_code == 0, result.output
        assert REASONS[reason] in result.output, query
        assert "Полис ДМС-101: Петров Александр Иванович" in result.output


def test_lookup_shows_account_and_invitation_state(app, roster, cli):
    invitations.send_invitations()
    record = RosterRecord.get(RosterRecord.policy_number == "ДМС-101")
    Account.create(record=record, phone="+79161234567", email=record.email,
                   email_key=record.email_key, email_confirmed=False, password_hash="x")
    output = cli("support", "lookup", "ДМС-101").output
    assert "e-mail a.petrov@example.com (не подтверждён)" in output
    assert re.search(r"Приглашение на a.petrov@example.com от [\d.]+: действует до", output)
    assert "Отказов при регистрации не было." in output


def test_lookup_explains_a_duplicate_roster_email(app, roster, cli):
    output = cli("support", "lookup", "family@example.com").output
    assert output.count("указан у нескольких застрахованных") == 2


def test_unknown_person(app, roster, cli):
    output = cli("support", "lookup", "+7 999 000-00-00").output
    assert "не найден" in output


def test_opening_an_expired_link_is_kept_as_a_refusal(app, roster, client, outbox):
    invitations.send_invitations()
    token = re.search(r"/invite/([\w-]+)", outbox()[0]["text"]).group(1)
    Invitation.update(expires_at=utcnow() - dt.timedelta(days=1)).execute()
    assert client.get(f"/invite/{token}").status_code == 410
    refusal = Refusal.get()
    assert refusal.reason == "link_expired" and refusal.channel == "link" and refusal.record_id


def test_refusals_are_kept_for_the_configured_days(app, roster):
    now = utcnow()
    support.refuse("no_such_person", "form", name_key="иванов иван", now=now - dt.timedelta(days=91))
    support.refuse("no_such_person", "form", name_key="иванов иван", now=now - dt.timedelta(days=89))
    assert support.purge(app.config["REFUSAL_RETENTION_DAYS"], now=now) == 1
    assert Refusal.select().count() == 1


def test_unknown_reason_is_a_programming_error(app):
    with pytest.raises(ValueError):
        support.refuse("because", "form")
