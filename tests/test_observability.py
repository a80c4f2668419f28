"""What an operator on call sees (issue 11): metrics, one log line per request, no secrets."""

import json
import logging

import pytest
from prometheus_client import REGISTRY

from regapp import logs
from tests.conftest import LEAKS


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


def test_metrics_are_off_unless_enabled(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.settings(METRICS_ENABLED=True)
def test_metrics_count_requests_codes_refusals_and_show_the_queue(app, client):
    from regapp import notifications, support
    from regapp.db import database

    before = sample("regapp_requests_total", endpoint="pages.index", method="GET", status="200")
    codes = sample("regapp_codes_sent_total", purpose="recovery")
    refusals = sample("regapp_refusals_total", reason="no_such_person")
    client.get("/")
    with database.atomic():
        notifications.code_sms("+79161234567", "123456", "recovery")
    support.refuse("no_such_person", "form")
    text = client.get("/metrics").get_data(as_text=True)
    assert sample("regapp_requests_total", endpoint="pages.index", method="GET",
                  status="200") == before + 1
    assert sample("regapp_codes_sent_total", purpose="recovery") == codes + 1
    assert sample("regapp_refusals_total", reason="no_such_person") == refusals + 1
    assert 'regapp_request_seconds_bucket{endpoint="pages.index"' in text
    assert 'regapp_queue_depth{channel="sms"} 1.0' in text  # queued, not yet delivered


def test_deliveries_count_retries_and_failures_by_channel(app):
    from regapp import messaging
    from regapp.adapters import DeliveryError

    class Down:
        name = "down"

        def send(self, sms):
            raise DeliveryError("gateway answered 503 for +79161234567")

    adapters = app.extensions["regapp.adapters"]
    adapters.sms, saved = Down(), adapters.sms
    retried = sample("regapp_deliveries_total", channel="sms", outcome="retried")
    try:
        message = messaging.queue_sms("+79161234567", "text", kind="code")
        messaging.deliver([message.id], adapters, app.config)
    finally:
        adapters.sms = saved
    assert sample("regapp_deliveries_total", channel="sms", outcome="retried") == retried + 1


def test_one_line_per_request_names_the_route_not_the_path(client, caplog):
    caplog.set_level(logging.INFO, logger="regapp.request")
    response = client.get("/invite/abcdefghijklmnopqrstuvwxyz0123456789",
                          headers={"X-Request-Id": "proxy-id-12345678"})
    [record] = [r for r in caplog.records if r.name == "regapp.request"]
    assert record.fields == {"request_id": "proxy-id-12345678", "method": "GET",
                             "path": "/invite/<token>", "status": 404,
                             "ms": record.fields["ms"]}
    assert "abcdefghij" not in record.getMessage()
    assert response.headers["X-Request-Id"] == "proxy-id-12345678"


def test_a_request_id_that_is_not_sane_is_replaced(client):
    answer = client.get("/healthz", headers={"X-Request-Id": "<script>alert(1)</script>"})
    assert len(answer.headers["X-Request-Id"]) == 32


@pytest.mark.settings(LOG_FORMAT="json")
def test_json_lines(app, client, caplog):
    caplog.set_level(logging.INFO, logger="regapp.request")
    client.get("/healthz")
    record = next(r for r in caplog.records if r.name == "regapp.request")
    [handler] = [h for h in logging.getLogger("regapp").handlers if h.get_name() == "regapp"]
    line = json.loads(handler.format(record))
    assert line["path"] == "/healthz" and line["status"] == 200 and line["level"] == "info"


def test_contacts_are_masked_and_secrets_scrubbed():
    assert logs.masked("+79161234567") == "+7916***4567"
    assert logs.masked("a.petrov@example.com") == "a***@example.com"
    for secret in ("to +79161234567 failed", "8 (916) 123-45-67", "код: 654321",
                   "654321 — код для регистрации", "GET /invite/" + "A" * 43):
        cleaned = logs.redacted(secret)
        assert not LEAKS.search(cleaned), cleaned
        assert LEAKS.search(secret), secret  # the suite's leak check would have seen it


def test_a_failed_delivery_logs_no_full_phone(app, caplog):
    from regapp import messaging
    from regapp.adapters import DeliveryError

    class Refusing:
        name = "refusing"

        def send(self, sms):
            raise DeliveryError("number +79161234567 blocked", temporary=False)

    adapters = app.extensions["regapp.adapters"]
    adapters.sms, saved = Refusing(), adapters.sms
    try:
        message = messaging.queue_sms("+79161234567", "123456 — код", kind="code")
        messaging.deliver([message.id], adapters, app.config)
    finally:
        adapters.sms = saved
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("regapp")]
    assert any("+7916***4567" in line for line in lines)
    assert not any(LEAKS.search(line) for line in lines)
