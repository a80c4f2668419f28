"""Contract: an e-mail sender (R25, R26)."""

from regapp.adapters import DeliveryError, Email, EmailSender

BATCH = [
    Email(message_id=f"contract-{n}", to=f"ivan{n}@example.com",
          subject=f"Приглашение в личный кабинет №{n}",
          text=f"Здравствуйте, Иван!\nНомер полиса: ДМС-{n}\nhttps://regapp.example.com/invite/t{n}",
          html=f"<p>Здравствуйте, Иван! Полис ДМС-{n}</p>")
    for n in range(3)
]


def test_declares_its_name_and_contract(email_adapter):
    email_adapter.assert_declared(EmailSender)


def test_a_batch_reaches_the_peer_unchanged(email_adapter):
    with email_adapter.environment("accept") as (sender, env):
        results = sender.send_batch(BATCH)
        received = env.received()
    assert results == [None, None, None]
    assert [(r.to, r.subject) for r in received] == [(e.to, e.subject) for e in BATCH]
    assert [r.text.replace("\r\n", "\n").strip() for r in received] == [e.text for e in BATCH]


def test_an_empty_batch_sends_nothing(email_adapter):
    with email_adapter.environment("accept") as (sender, env):
        assert sender.send_batch([]) == []
        assert env.received() == []


def test_a_peer_that_fails_gives_temporary_delivery_errors(email_adapter):
    with email_adapter.environment("fail") as (sender, env):
        try:
            results = sender.send_batch(BATCH)
        except DeliveryError as exc:
            results = [exc] * len(BATCH)
    assert len(results) == len(BATCH)
    assert all(isinstance(r, DeliveryError) and r.temporary for r in results)
