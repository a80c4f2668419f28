"""A local JSON SMS gateway that records what it is sent: a peer for tests and the contract kit."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RecordingGateway(ThreadingHTTPServer):
    """A local JSON gateway for tests and the contract kit: records, or answers ``status``."""

    daemon_threads = True

    def __init__(self, statuses=(), default_status=200, token=None, delay=0):
        self.requests, self.statuses = [], list(statuses)
        self.default_status, self.token = default_status, token
        self.delay = delay  # seconds before answering, to be slow or to be caught mid-send
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
        time.sleep(server.delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": %s}' % (b"true" if status < 300 else b"false"))
        except OSError:  # the sender is gone (killed, or gave up waiting)
            server.requests[-1]["answered"] = False

    def log_message(self, *args):
        pass
