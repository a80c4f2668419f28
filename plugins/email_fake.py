"""E-mail sender ``fake``: keeps every e-mail in the QA outbox instead of sending it (R27)."""

from regapp.adapters import DeliveryError, EmailSender
from regapp.hookspecs import hookimpl
from regapp.qa import outbox
from regapp.testing.peers import outbox_environment


class FakeEmailSender(EmailSender):
    """Appends each e-mail to ``OUTBOX_PATH``; ``FAKE_EMAIL_FAIL`` makes it refuse, for QA."""

    name = "fake"

    def send_batch(self, emails):
        if self.settings.get("FAKE_EMAIL_FAIL"):
            raise DeliveryError("fake e-mail sender is set to fail (FAKE_EMAIL_FAIL)")
        for email in emails:
            outbox.append(self.settings["OUTBOX_PATH"], "email", email.to, email.text,
                          subject=email.subject)
        return [None] * len(emails)


@hookimpl
def regapp_email_senders():
    return [FakeEmailSender]


@hookimpl
def regapp_contract_environment(kind, name, behaviour, workdir):
    if kind == "email" and name == FakeEmailSender.name:
        return outbox_environment(workdir, "email", "FAKE_EMAIL_FAIL", behaviour)
    return None
