"""SMS gateway ``http``: a generic JSON gateway (INTERFACES.md, «Messages»).

POSTs ``{"to", "text", "message_id"}`` to ``SMS_HTTP_URL`` with a bearer
token when ``SMS_HTTP_TOKEN`` is set. A 2xx answer means accepted; anything
else, or no answer within ``SMS_HTTP_TIMEOUT`` seconds, is a temporary
failure that the delivery queue retries with back-off.
"""

import contextlib
import json
import urllib.error
import urllib.request

from regapp.adapters import ContractEnvironment, DeliveryError, Received, SmsGateway
from regapp.hookspecs import hookimpl


class HttpSmsGateway(SmsGateway):
    """Hands each SMS to an HTTP endpoint as JSON."""

    name = "http"
    required = ("SMS_HTTP_URL",)

    def send(self, sms):
        url = self.settings["SMS_HTTP_URL"]
        body = json.dumps({"to": sms.to, "text": sms.text, "message_id": sms.message_id})
        request = urllib.request.Request(url, data=body.encode(), method="POST")
        request.add_header("Content-Type", "application/json; charset=utf-8")
        # the same on every attempt: a retry after a timeout must not make the gateway send twice
        request.add_header("Idempotency-Key", sms.message_id)
        if token := self.settings.get("SMS_HTTP_TOKEN"):
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.get("SMS_HTTP_TIMEOUT", 10)):
                return
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"gateway answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"gateway unreachable: {reason}") from None


@hookimpl
def regapp_sms_gateways():
    return [HttpSmsGateway]


@hookimpl
def regapp_contract_environment(kind, name, behaviour, workdir):
    if kind == "sms" and name == HttpSmsGateway.name:
        return _environment(behaviour)
    return None


@contextlib.contextmanager
def _environment(behaviour):
    from regapp.testing.http import RecordingGateway

    with RecordingGateway(default_status=200 if behaviour == "accept" else 503,
                          token="contract-token") as gateway:
        def received():
            return [Received(to=r["body"]["to"], text=r["body"]["text"])
                    for r in gateway.requests if r["status"] < 300]

        settings = {"SMS_HTTP_URL": gateway.url, "SMS_HTTP_TOKEN": "contract-token",
                    "SMS_HTTP_TIMEOUT": 5}
        yield ContractEnvironment(settings=settings, received=received,
                                  extra={"gateway": gateway})
