"""SMS gateway ``fake``: keeps every text in the QA outbox instead of sending it (R27)."""

from regapp.adapters import DeliveryError, SmsGateway
from regapp.hookspecs import hookimpl
from regapp.qa import outbox
from regapp.testing.peers import outbox_environment


class FakeSmsGateway(SmsGateway):
    """Appends each SMS to ``OUTBOX_PATH``; ``FAKE_SMS_FAIL`` makes it refuse, for QA."""

    name = "fake"

    def send(self, sms):
        if self.settings.get("FAKE_SMS_FAIL"):
            raise DeliveryError("fake SMS gateway is set to fail (FAKE_SMS_FAIL)")
        outbox.append(self.settings["OUTBOX_PATH"], "sms", sms.to, sms.text)


@hookimpl
def regapp_sms_gateways():
    return [FakeSmsGateway]


@hookimpl
def regapp_contract_environment(kind, name, behaviour, workdir):
    if kind == "sms" and name == FakeSmsGateway.name:
        return outbox_environment(workdir, "sms", "FAKE_SMS_FAIL", behaviour)
    return None
