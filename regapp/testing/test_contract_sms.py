"""Contract: an SMS gateway (R25, R26)."""

import pytest

from regapp.adapters import DeliveryError, Sms, SmsGateway

TEXT = "Код для входа: 123456. Никому не сообщайте.\n\n@regapp.example.com #123456"


def test_declares_its_name_and_contract(sms_adapter):
    sms_adapter.assert_declared(SmsGateway)


def test_a_message_reaches_the_peer_unchanged(sms_adapter):
    with sms_adapter.environment("accept") as (gateway, env):
        gateway.send(Sms(message_id="contract-1", to="+79161234567", text=TEXT))
        received = env.received()
    assert [(r.to, r.text) for r in received] == [("+79161234567", TEXT)]


def test_a_peer_that_fails_gives_a_temporary_delivery_error(sms_adapter):
    with sms_adapter.environment("fail") as (gateway, env):
        with pytest.raises(DeliveryError) as caught:
            gateway.send(Sms(message_id="contract-2", to="+79161234567", text=TEXT))
    assert caught.value.temporary, "a peer that is down must be retried, not given up on"
