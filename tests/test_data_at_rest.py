"""Data at rest (issue 12): no code or link kept once delivered, files for the owner alone,
e-mail domains as IDNA2008 spells them."""

import stat

from regapp import messaging, normalize
from regapp.models import Message


def test_a_delivered_message_keeps_no_body(app):
    message = messaging.queue_sms("+79161234567", "123456 — код для регистрации", kind="code")
    messaging.dispatch([message.id])  # the test queue delivers at once
    stored = Message.get_by_id(message.id)
    assert stored.status == "sent" and stored.text == "" and stored.html is None


def test_a_message_waiting_for_a_retry_keeps_its_body(app):
    app.config["FAKE_SMS_FAIL"] = True
    app.extensions["regapp.adapters"].sms.settings["FAKE_SMS_FAIL"] = True
    message = messaging.queue_sms("+79161234567", "654321 — код", kind="code")
    messaging.dispatch([message.id])
    stored = Message.get_by_id(message.id)
    assert stored.status == "pending" and "654321" in stored.text  # still to be sent


def test_the_instance_files_are_the_owners_alone(app, outbox):
    from pathlib import Path

    messaging.dispatch([messaging.queue_sms("+79161234567", "text", kind="code").id])
    instance = Path(app.instance_path)
    files = [instance / "secret_key", Path(app.config["OUTBOX_PATH"])]
    if app.config["DATABASE"].startswith("sqlite:///"):  # the PostgreSQL pass has no file
        files.append(Path(app.config["DATABASE"][len("sqlite:///"):]))
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path}: {oct(mode)}"


def test_email_domains_are_idna2008():
    assert normalize.email_key("anna@faß.de") != normalize.email_key("anna@fass.de")
    assert normalize.email_key("Anna@Пример.РФ") == "anna@xn--e1afmkfd.xn--p1ai"


def test_a_new_instance_folder_is_the_owners_alone(tmp_path, monkeypatch):
    from regapp import create_app

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path / "fresh"))
    create_app({"TESTING": True, "QUEUE": "immediate"})
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) & 0o077 == 0
