"""SMS gateway ``http``: a generic JSON gateway (INTERFACES.md, «Messages»).

POSTs ``{"to", "text", "message_id"}`` to ``SMS_HTTP_URL`` with a bearer
token when ``SMS_HTTP_TOKEN`` is set. A 2xx answer means accepted; anything
else, or no answer within ``SMS_HTTP_TIMEOUT`` seconds, is a temporary
failure that the delivery queue retries with back-off.
"""

import contextlib
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from regapp import hookimpl
from regapp.adapters import ContractEnvironment, DeliveryError, Received, SmsGateway


class HttpSmsGateway(SmsGateway):
    """Hands each SMS to an HTTP endpoint as JSON."""

    name = "http"

    def send(self, sms):
        url = self.settings.get("SMS_HTTP_URL")
        if not url:
            raise DeliveryError("SMS_HTTP_URL is not set", temporary=False)
        body = json.dumps({"to": sms.to, "text": sms.text, "message_id": sms.message_id})
        request = urllib.request.Request(url, data=body.encode(), method="POST")
        request.add_header("Content-Type", "application/json; charset=utf-8")
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


class RecordingGateway(ThreadingHTTPServer):
    """A local JSON gateway for tests and the contract kit: records, or answers ``status``."""

    daemon_threads = True

    def __init__(self, statuses=(), default_status=200, token=None):
        self.requests, self.statuses = [], list(statuses)
        self.default_status, self.token = default_status, token
        super().__init__(("127.0.0.1", 0), _GatewayHandler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/send"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _GatewayHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = server.statuses.pop(0) if server.statuses else server.default_status
        authorized = not server.token or self.headers.get("Authorization") == f"Bearer {server.token}"
        if not authorized:
            status = 401
        server.requests.append({"body": body, "headers": dict(self.headers), "status": status})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": %s}' % (b"true" if status < 300 else b"false"))

    def log_message(self, *args):
        pass


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
    with RecordingGateway(default_status=200 if behaviour == "accept" else 503,
                          token="contract-token") as gateway:
        def received():
            return [Received(to=r["body"]["to"], text=r["body"]["text"])
                    for r in gateway.requests if r["status"] < 300]

        settings = {"SMS_HTTP_URL": gateway.url, "SMS_HTTP_TOKEN": "contract-token",
                    "SMS_HTTP_TIMEOUT": 5}
        yield ContractEnvironment(settings=settings, received=received,
                                  extra={"gateway": gateway})
