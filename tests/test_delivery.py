"""Durable delivery (R26): SMTP for real, the HTTP gateway, retries, failure, the queue."""

import datetime as dt
import re
import smtplib
import time
from email import message_from_bytes
from email import policy as email_policy

import pytest
from regapp_plugins import email_smtp
from regapp_plugins.email_smtp import SmtpEmailSender

from regapp import create_app, messaging, migrations
from regapp.adapters import Email
from regapp.db import database
from regapp.models import Account, Message, RosterRecord, utcnow
from regapp.testing.http import RecordingGateway
from regapp.testing.peers import free_port
from regapp.testing.smtp import RecordingSmtpServer

LATER = dt.timedelta(days=1)


def queue(*messages):
    """Store messages as a step would, then dispatch them after the commit."""
    with database.atomic():
        ids = [m().id for m in messages]
    messaging.dispatch(ids)
    return ids


def sms(to="+79161234567", text="Код: 123456", kind="new_device"):
    """An SMS of a kind with the slow back-off (codes retry in seconds: see below)."""
    return lambda: messaging.queue_sms(to, text, kind=kind)


def mail(to="ivan@example.com", subject="Приглашение в личный кабинет", kind="invitation"):
    return lambda: messaging.queue_email(to, subject, "Здравствуйте!\nСсылка: https://x/1",
                                         kind=kind, html="<p>Здравствуйте!</p>")


def status(message_id):
    return Message.get_by_id(message_id)


def deliver_due(app, now):
    return messaging.deliver_due(app.extensions["regapp.adapters"], app.config, now=now)


# -- SMTP, against a real SMTP server on loopback ---------------------------------------

@pytest.fixture(params=[True, False], ids=["pipelining", "one command at a time"])
def smtp_server(request):
    """A server that offers PIPELINING (RFC 2920), as Postfix does, and one that does not:
    each SMTP test holds for both conversations."""
    with RecordingSmtpServer(credentials=("regapp", "s3cret"), pipelining=request.param) as server:
        yield server


def smtp_app(tmp_path, monkeypatch, server, **extra):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path / "instance"))
    settings = {"TESTING": True, "QUEUE": "immediate", "EMAIL_SENDER": "smtp",
                "SMTP_HOST": server.host, "SMTP_PORT": server.port, "SMTP_USER": "regapp",
                "SMTP_PASSWORD": "s3cret", "MAIL_FROM": "Личный кабинет <noreply@example.com>",
                "SMTP_TIMEOUT": 3,
                **extra}
    return create_app(settings)


def test_smtp_delivers_a_batch_over_one_connection(tmp_path, monkeypatch, smtp_server):
    app = smtp_app(tmp_path, monkeypatch, smtp_server)
    with app.app_context():
        migrations.upgrade()
        ids = queue(*(mail(to=f"user{n}@example.com") for n in range(5)))
        assert [status(i).status for i in ids] == ["sent"] * 5
    assert len(smtp_server.messages) == 5
    assert len(smtp_server.sessions) == 1, "one SMTP connection for the whole batch"
    received = smtp_server.messages[0]
    message = received["message"]
    assert received["from"] == "noreply@example.com" and received["to"] == ["user0@example.com"]
    assert str(message["Subject"]) == "Приглашение в личный кабинет"
    assert b"=?utf-8?" in received["raw"].split(b"\r\n\r\n")[0].lower()  # RFC 2047 subject
    assert message["Message-ID"] == f"<{ids[0]}@example.com>" and message["Date"]  # stable
    assert message.get_content_type() == "multipart/alternative"
    assert received["text"].replace("\r\n", "\n").strip() == "Здравствуйте!\nСсылка: https://x/1"
    assert received["html"].strip() == "<p>Здравствуйте!</p>"


@pytest.mark.parametrize("html", ["<p>Здравствуйте, Алёна!</p>", None])
@pytest.mark.parametrize("subject", ["Приглашение в личный кабинет «ДМС» " * 3, "Code"])
def test_the_fast_message_reads_as_the_email_package_writes_it(subject, html):  # issue 15
    sender = SmtpEmailSender({"MAIL_FROM": "Личный кабинет <noreply@example.com>"})
    email = Email(message_id=7, to="alena@example.com", subject=subject,
                  text="Здравствуйте!\nСсылка: https://x/1\n" + "длинная строка " * 20, html=html)
    fast = message_from_bytes(sender.compose_bytes(email), policy=email_policy.default)
    usual = message_from_bytes(sender._compose_any(email).as_bytes(), policy=email_policy.default)
    for header in ("From", "To", "Subject", "Message-ID", "MIME-Version"):
        assert str(fast[header]) == str(usual[header]), header
    assert fast.get_content_type() == usual.get_content_type()
    assert [(p.get_content_type(), p.get_content()) for p in fast.walk() if not p.is_multipart()] == [
        (p.get_content_type(), p.get_content()) for p in usual.walk() if not p.is_multipart()]
    assert all(len(line) <= 78 for line in sender.compose_bytes(email).split(b"\r\n"))


def test_a_server_offering_pipelining_waits_once_a_message(tmp_path, monkeypatch,
                                                          smtp_server):  # issue 15
    """RFC 2920: MAIL, RCPT and DATA in one write, the message's content with the next
    one's three (the content may lead a group), the last content alone: a write and one
    wait a message. One command a write to a server that does not offer it."""
    writes = []
    real_send = smtplib.SMTP.send
    monkeypatch.setattr(smtplib.SMTP, "send",
                        lambda self, data: (writes.append(data), real_send(self, data))[1])
    app = smtp_app(tmp_path, monkeypatch, smtp_server)
    with app.app_context():
        migrations.upgrade()
        ids = queue(*(mail(to=f"user{n}@example.com") for n in range(3)))
        assert [status(i).status for i in ids] == ["sent"] * 3
    assert [m["to"] for m in smtp_server.messages] == [[f"user{n}@example.com"] for n in range(3)]
    assert [m["text"].strip() for m in smtp_server.messages] == ["Здравствуйте!\r\nСсылка: https://x/1"
                                                                 .replace("\r\n", "\n")] * 3
    said = [w if isinstance(w, str) else w.decode("ascii") for w in writes]
    sending = said[said.index(next(w for w in said if "mail from:" in w.lower())):]
    if smtp_server.pipelining:
        assert len(sending) == 4
        for n, write in enumerate(sending):
            content, _, commands = write.rpartition("\r\n.\r\n")
            assert ("Message-ID: <" in content) == (n > 0)  # the one before's
            assert commands == "" if n == 3 else re.fullmatch(
                rf"MAIL FROM:<noreply@example.com>( SIZE=\d+)?\r\nRCPT TO:<user{n}@example.com>"
                r"\r\nDATA\r\n", commands)
    else:
        assert len(sending) > 9 and all(w.lower().count("\r\n") == 1 for w in sending[:3])


def test_a_server_closing_mid_batch_keeps_what_it_took(tmp_path, monkeypatch, smtp_server):
    """A 421 (the server is closing) in the middle: the messages it took are sent, that one
    and the rest wait for the next try, none lost nor sent twice."""
    smtp_server.refuse = {"user2@example.com": "421 4.3.2 closing"}
    app = smtp_app(tmp_path, monkeypatch, smtp_server)
    with app.app_context():
        migrations.upgrade()
        ids = queue(*(mail(to=f"user{n}@example.com") for n in range(4)))
        assert [status(i).status for i in ids] == ["sent", "sent", "pending", "pending"]
        assert "421" in status(ids[2]).last_error
    assert [m["to"] for m in smtp_server.messages] == [["user0@example.com"],
                                                       ["user1@example.com"]]


@pytest.mark.parametrize("refused", ["550 5.1.1 no such mailbox", "451 4.3.0 try again later"])
def test_a_refused_recipient_leaves_the_rest_of_the_batch_going(tmp_path, monkeypatch,
                                                                smtp_server, refused):
    """A refusal in the middle of a batch: that message only, the connection reset for the
    next (pipelined, the DATA after a refused RCPT is refused too: no empty mail goes)."""
    smtp_server.refuse = {"user1@example.com": refused}
    app = smtp_app(tmp_path, monkeypatch, smtp_server)
    with app.app_context():
        migrations.upgrade()
        ids = queue(*(mail(to=f"user{n}@example.com") for n in range(3)))
        assert [status(i).status for i in ids] == [
            "sent", "failed" if refused.startswith("5") else "pending", "sent"]
        assert status(ids[1]).last_error == f"SMTP {refused[:3]}: {refused[4:]}"
    assert [m["to"] for m in smtp_server.messages] == [["user0@example.com"], ["user2@example.com"]]
    assert len(smtp_server.sessions) == 1


def test_a_line_starting_with_a_dot_arrives_whole(smtp_server):  # RFC 5321, 4.5.2
    raw = b"Subject: dots\r\n\r\n.one\r\n..two\r\nthree.\r\n.\r\nfour\r\n"
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=3) as connection:
        connection.login("regapp", "s3cret")
        connection.ehlo_or_helo_if_needed()
        if smtp_server.pipelining:
            results = {}
            pipeline = email_smtp._Pipeline(connection, "a@example.com", results)
            pipeline.send(0, "b@example.com", raw)
            pipeline.finish()
            assert results == {0: None}
        else:
            connection.sendmail("a@example.com", ["b@example.com"], raw)
    [received] = smtp_server.messages
    assert received["raw"].replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("to", ["b@example.com\r\nRCPT TO:<c@example.com>", "b@example.com\n"])
def test_no_command_is_smuggled_in_an_address(smtp_server, to):
    """An address with a line break never reaches the server as a command of its own:
    pipelined, the message is refused for good with its reason; one command at a time,
    smtplib reads the address and sends only what it reads."""
    sender = SmtpEmailSender({"SMTP_HOST": smtp_server.host, "SMTP_PORT": smtp_server.port,
                              "SMTP_USER": "regapp", "SMTP_PASSWORD": "s3cret",
                              "MAIL_FROM": "a@example.com", "SMTP_TIMEOUT": 3})
    [outcome] = sender.send_batch([Email(message_id="1", to=to, subject="s", text="t")])
    assert all("c@example.com" not in m["to"] for m in smtp_server.messages)
    if smtp_server.pipelining:
        assert smtp_server.messages == [] and not outcome.temporary
        assert str(outcome) == "SMTP 501: a line break in the address"


def test_smtp_to_a_cyrillic_domain_uses_its_ascii_form(tmp_path, monkeypatch, smtp_server):
    app = smtp_app(tmp_path, monkeypatch, smtp_server)
    with app.app_context():
        migrations.upgrade()
        queue(mail(to="ivan@почта.рф"))
    assert smtp_server.messages[0]["to"] == ["ivan@xn--80a1acny.xn--p1ai"]


def test_smtp_wrong_password_is_retried_not_lost(tmp_path, monkeypatch, smtp_server):
    app = smtp_app(tmp_path, monkeypatch, smtp_server, SMTP_PASSWORD="wrong")
    with app.app_context():
        migrations.upgrade()
        [message_id] = queue(mail())
        assert status(message_id).status == "pending"
        assert "SMTP" in status(message_id).last_error
    assert smtp_server.messages == []


def test_smtp_starttls(tmp_path, monkeypatch):
    ssl_context, ca_file = _self_signed(tmp_path)
    with RecordingSmtpServer(tls_context=ssl_context, require_starttls=True) as server:
        app = smtp_app(tmp_path, monkeypatch, server, SMTP_TLS="starttls", SMTP_CA_FILE=ca_file,
                       SMTP_USER=None, SMTP_HOST="localhost")
        with app.app_context():
            migrations.upgrade()
            [message_id] = queue(mail())
            assert status(message_id).status == "sent", status(message_id).last_error
    assert len(server.messages) == 1


def test_smtp_server_down_is_a_temporary_error():
    sender = SmtpEmailSender({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": 1, "MAIL_FROM": "a@example.com",
                              "SMTP_TIMEOUT": 2})
    with pytest.raises(Exception) as caught:
        sender.send_batch([Email(message_id="1", to="b@example.com", subject="s", text="t")])
    assert caught.value.temporary


def _self_signed(tmp_path):
    """A throwaway certificate for localhost, and an SSL context serving it."""
    import ssl

    from tests.deployment import make_certificate

    cert_path, key_path = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, str(cert_path)


# -- the http SMS gateway: fails first, then accepts ------------------------------------

def test_http_gateway_failing_first_is_retried_until_accepted(app, monkeypatch):
    with RecordingGateway(statuses=[503, 500], token="tok") as gateway:
        app.config.update(SMS_HTTP_URL=gateway.url, SMS_HTTP_TOKEN="tok")
        app.extensions["regapp.adapters"].sms = _gateway(app, "http")
        [message_id] = queue(sms())
        first = status(message_id)
        assert (first.status, first.attempts) == ("pending", 1)
        assert "503" in first.last_error
        assert first.next_attempt_at > utcnow() + dt.timedelta(seconds=25)  # back-off
        deliver_due(app, now=first.next_attempt_at)
        second = status(message_id)
        assert (second.status, second.attempts) == ("pending", 2)
        assert second.next_attempt_at - first.next_attempt_at >= dt.timedelta(seconds=59)  # doubled
        deliver_due(app, now=second.next_attempt_at)
        assert status(message_id).status == "sent"
    assert [r["status"] for r in gateway.requests] == [503, 500, 200]
    body = gateway.requests[-1]["body"]
    assert body == {"to": "+79161234567", "text": "Код: 123456", "message_id": message_id}
    assert gateway.requests[-1]["headers"]["Authorization"] == "Bearer tok"
    # issue 13: every attempt carries the same key, so the gateway can drop a repeat
    assert {r["headers"]["Idempotency-Key"] for r in gateway.requests} == {message_id}


@pytest.mark.settings(DELIVERY_MAX_ATTEMPTS=4)
def test_a_gateway_failing_forever_ends_failed_with_its_last_error(app):
    with RecordingGateway(default_status=502) as gateway:
        app.config.update(SMS_HTTP_URL=gateway.url)
        app.extensions["regapp.adapters"].sms = _gateway(app, "http")
        [message_id] = queue(sms())
        now = utcnow()
        for _ in range(10):
            now += LATER
            deliver_due(app, now=now)
    final = status(message_id)
    assert (final.status, final.attempts) == ("failed", 4)
    assert "502" in final.last_error
    assert len(gateway.requests) == 4


def test_a_gateway_that_does_not_answer_in_time_is_retried(app):
    import socket

    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app.config.update(SMS_HTTP_URL=f"http://127.0.0.1:{silent.getsockname()[1]}/",
                          SMS_HTTP_TIMEOUT=0.5)
        app.extensions["regapp.adapters"].sms = _gateway(app, "http")
        [message_id] = queue(sms())
    assert status(message_id).status == "pending"
    assert "timed out" in status(message_id).last_error


def _gateway(app, name):
    from regapp.pluginmanager import available

    return available(app.extensions["regapp.adapters"].pm, "sms")[name](app.config)


# -- the fakes, crashes and R18 ----------------------------------------------------------

def test_fake_providers_write_the_outbox(app, outbox):  # R27
    queue(sms(), mail())
    entries = outbox()
    assert [(e["channel"], e["to"]) for e in entries] == [
        ("sms", "+79161234567"), ("email", "ivan@example.com")]
    assert entries[1]["subject"] == "Приглашение в личный кабинет" and entries[0]["subject"] is None
    assert all(e["sent_at"] for e in entries)


@pytest.mark.settings(FAKE_SMS_FAIL=True)
def test_a_failing_fake_keeps_the_message_pending(app, outbox):
    [message_id] = queue(sms())
    assert status(message_id).status == "pending" and outbox() == []
    app.extensions["regapp.adapters"].sms.settings = {**app.config, "FAKE_SMS_FAIL": False}
    deliver_due(app, now=utcnow() + LATER)
    assert status(message_id).status == "sent" and len(outbox()) == 1


def test_a_message_held_by_a_crashed_worker_is_sent_by_the_sweep(app, outbox):
    with database.atomic():
        message = sms()()
    Message.update(status="sending", claim="dead-worker", lease_until=utcnow()).execute()
    assert deliver_due(app, now=utcnow() - dt.timedelta(minutes=1)).sent == []  # lease still held
    assert deliver_due(app, now=utcnow() + dt.timedelta(minutes=1)).sent == [message.id]
    assert len(outbox()) == 1


def test_a_message_is_never_sent_twice(app, outbox):
    [message_id] = queue(sms())
    messaging.deliver([message_id], app.extensions["regapp.adapters"], app.config)
    deliver_due(app, now=utcnow() + LATER)
    assert len(outbox()) == 1


def test_a_claim_commits_relaxed_in_its_own_round_trip(app, outbox, backend):  # issue 15
    from tests.helpers import statements_sent
    with database.atomic():
        message = sms()()
    with statements_sent() as sent:
        messaging.deliver([message.id], app.extensions["regapp.adapters"], app.config)
    assert status(message.id).status == "sent" and len(outbox()) == 1
    if backend:  # a claim lost with a crashed server: sent again, never lost (at least once)
        assert sent[0].startswith("SET LOCAL synchronous_commit TO OFF; ") or sent[0].startswith(
            "PREPARE ") and "; SET LOCAL synchronous_commit TO OFF; " in sent[0]
        assert "UPDATE" in sent[0] or "EXECUTE" in sent[0]


def test_a_step_that_rolls_back_leaves_no_message(app, outbox):
    with pytest.raises(RuntimeError):
        with database.atomic():
            sms()()
            raise RuntimeError("the step failed")
    assert Message.select().count() == 0


def test_nothing_but_the_confirmation_goes_to_an_unconfirmed_address(app, outbox):  # R18
    record = RosterRecord.create(policy_number="P1", policy_key="p1", last_name="Иванов",
                                 first_name="Иван", name_key="иванов иван",
                                 birth_date=dt.date(1985, 2, 1))
    Account.create(record=record, phone="+79161234567", email="Ivan@Example.com",
                   email_key="ivan@example.com", email_confirmed=False, password_hash="x")
    service, confirmation = queue(mail(to="IVAN@example.com", kind="notice"),
                                  mail(to="Ivan@Example.com", kind="email_confirmation"))
    assert status(service).status == "refused" and "R18" in status(service).last_error
    assert status(confirmation).status == "sent"
    assert [e["to"] for e in outbox()] == ["Ivan@Example.com"]


# -- the real queue: huey on SQLite with an in-process consumer -------------------------

def test_sqlite_queue_delivers_in_process(tmp_path, monkeypatch):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "QUEUE": "sqlite"})
    consumer = app.extensions["regapp.queue"].consumer()
    consumer.start()
    try:
        with app.app_context():
            migrations.upgrade()
            [message_id] = queue(sms())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with app.app_context(), database.connection_context():
                if status(message_id).status == "sent":
                    break
            time.sleep(0.1)
    finally:
        consumer.stop(graceful=True)
    with app.app_context(), database.connection_context():
        assert status(message_id).status == "sent"
    assert (tmp_path / "instance" / "queue.db").exists()


def test_a_task_runs_without_looking_for_a_revoke_flag(app):  # issue 15
    huey = app.extensions["regapp.queue"].huey
    asked = []
    storage = huey.storage
    for name in ("peek_many", "peek_data", "pop_data", "delete_data"):
        original = getattr(storage, name)
        setattr(storage, name, lambda *args, _name=name, _original=original: (
            asked.append((_name, args)), _original(*args))[1])
    [message_id] = queue(sms())  # the app's queue runs its task at once, here
    assert status(message_id).status == "sent"
    assert asked == []  # neither looked for nor cleared: two round trips to Redis a message
    with pytest.raises(NotImplementedError):
        huey.revoke_by_id("any")


def test_a_code_is_retried_within_seconds_then_slower(app, monkeypatch):  # issue 13
    app.extensions["regapp.adapters"].sms.settings["FAKE_SMS_FAIL"] = True
    [message_id] = queue(sms(kind="code"))
    delays, now = [], utcnow()
    for _ in range(12):  # a gateway down for a minute
        row = status(message_id)
        delays.append(round((row.next_attempt_at - now).total_seconds()))
        now = row.next_attempt_at
        deliver_due(app, now=now)
    assert delays == [1, 2, 4] + [8] * 9  # two refusals cost a person three seconds
    app.extensions["regapp.adapters"].sms.settings["FAKE_SMS_FAIL"] = False  # back
    deliver_due(app, now=status(message_id).next_attempt_at)
    assert status(message_id).status == "sent"  # within 8 s of the gateway's return


def test_a_code_no_longer_useful_is_not_delivered_late(app):  # issue 13
    app.extensions["regapp.adapters"].sms.settings["FAKE_SMS_FAIL"] = True
    [old] = queue(sms(text="111111 — код", kind="code"))
    [new] = queue(sms(text="222222 — код", kind="code"))
    app.extensions["regapp.adapters"].sms.settings["FAKE_SMS_FAIL"] = False
    deliver_due(app, now=utcnow() + dt.timedelta(seconds=2))
    assert status(old).status == "stale" and status(new).status == "sent"
    expired = messaging.queue_sms("+79030000000", "333333 — код", kind="code").id
    Message.update(created_at=utcnow() - dt.timedelta(minutes=6)).where(
        Message.id == expired).execute()  # the worker was down for six minutes
    messaging.dispatch([expired])
    assert status(expired).status == "stale"


def test_what_a_crash_left_queued_goes_out_at_start(app):  # issue 13: not at the next minute
    with database.atomic():
        left = messaging.queue_sms("+79161234567", "123456 — код", kind="code").id
    Message.update(status="sending", lease_until=utcnow() - dt.timedelta(seconds=1)).where(
        Message.id == left).execute()  # claimed by a process that died
    app.extensions["regapp.queue"].sweep_now()
    assert status(left).status == "sent"


def test_a_message_a_killed_process_was_sending_is_swept_when_its_lease_ends(app):
    """Issue 13: the lease is seconds, not minutes, and the start sweeps again at its end."""
    with database.atomic():
        held = messaging.queue_sms("+79161234567", "123456 — код", kind="code").id
    Message.update(status="sending", claim="killed", lease_until=utcnow() + messaging.LEASE).where(
        Message.id == held).execute()
    queue = app.extensions["regapp.queue"]
    queue.sweep_now()
    assert status(held).status == "sending"  # the lease may still be honoured
    [later] = queue.huey.scheduled()
    assert later.name == "regapp.sweep_later"
    assert later.eta - utcnow() <= messaging.LEASE + dt.timedelta(seconds=1)
    assert messaging.LEASE <= dt.timedelta(seconds=15)


@pytest.mark.parametrize(("reply", "outcome", "attempts"), [
    ("451 4.3.0 try again later", "pending", 1),  # later
    ("550 5.1.1 no such mailbox", "failed", 1),  # never: ended at once, with its reason
])
def test_smtp_tells_later_from_never(tmp_path, monkeypatch, smtp_server, reply, outcome,
                                     attempts):  # issue 13
    smtp_server.refuse = reply
    app = smtp_app(tmp_path, monkeypatch, smtp_server)
    with app.app_context():
        migrations.upgrade()
        [message_id] = queue(mail())
        stored = status(message_id)
        assert (stored.status, stored.attempts) == (outcome, attempts)
        assert stored.last_error == f"SMTP {reply[:3]}: {reply[4:]}"
    assert smtp_server.messages == []


@pytest.mark.parametrize("count", [1, 30])
def test_a_mail_batch_is_sent_under_a_lease_long_enough_for_it(app, count):  # issue 13, 15
    """The claim's lease covers a short batch as it is (no write more); a long one has its
    lease renewed first, to cover a second a message, so no sweep sends it twice meanwhile."""
    import dataclasses

    with database.atomic():
        ids = [mail(to=f"p{n}@example.com")().id for n in range(count)]
    seen = []

    class Watching:
        name = "watching"

        def send_batch(self, emails):
            seen.extend(Message.select(Message.lease_until).where(Message.id.in_(ids)).tuples())
            return [None] * len(emails)

    adapters = dataclasses.replace(app.extensions["regapp.adapters"], email=Watching())
    started = utcnow()
    outcome = messaging.deliver(ids, adapters, app.config, now=started)
    assert sorted(outcome.sent) == sorted(ids)
    needed = messaging.ATTEMPT_NEEDS + count * messaging.EMAIL_NEEDS
    assert {lease for (lease,) in seen} and all(lease - utcnow() >= needed for (lease,) in seen)
    if count == 1:
        assert {lease for (lease,) in seen} == {started + messaging.LEASE}  # as claimed


@pytest.mark.settings(QUEUE=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
def test_the_queue_down_messages_wait_in_the_database_for_the_sweep(app, caplog):  # R26
    """Redis gone: a step's messages are stored and its page answered (a 500 before); the
    sweep sends them once Redis is back and its worker with it."""
    huey = app.extensions["regapp.queue"].huey
    assert huey.dequeue() is None and huey.dequeue() is None  # a worker's reads meanwhile
    ids = queue(sms(), sms(to="+79031234567"))
    assert messaging.dispatch(ids)  # they stand as stored, and no error for the step
    assert {m.status for m in Message.select().where(Message.id.in_(ids))} == {"pending"}
    # one line for the reads and the step: at most one every 10 s, and no traceback
    assert caplog.text.count("the queue does not answer") == 1
    assert "nothing delivered until it does" in caplog.text and "Traceback" not in caplog.text
    app.extensions["regapp.queue"]._sweep_task()
    assert {m.status for m in Message.select().where(Message.id.in_(ids))} == {"sent"}


@pytest.mark.settings(QUEUE=f"redis://127.0.0.1:{free_port()}/0", FAKE_SMS_FAIL=True)
def test_the_queue_down_as_an_attempt_fails_its_retry_waits_for_the_sweep(app, caplog,
                                                                           monkeypatch):  # R26
    """Redis gone while a worker's attempt failed: the retry's time is stored with the
    message, and the sweep picks it up (huey's traceback in the log before, the task
    ended in an error)."""
    ids = queue(sms())  # said down already: said again only after 10 s, not here
    monkeypatch.setattr(app.extensions["regapp.queue"].huey, "_said_down_at", float("-inf"))
    app.extensions["regapp.queue"]._deliver_task(ids)
    [message] = Message.select().where(Message.id.in_(ids))
    assert message.status == "pending" and message.attempts == 1
    assert message.next_attempt_at > utcnow()  # when the sweep sends it again
    assert "a retry waits for the sweep" in caplog.text and "Traceback" not in caplog.text
