"""A fake ESIA served on a loopback port, and a real client pointed at it."""

import re
import threading
import urllib.parse

from regapp_plugins.esia_client import EsiaClient
from regapp_plugins.esia_signer_gost import GostSigner
from werkzeug.serving import make_server

from regapp import templates_folder
from regapp.qa.fake_esia import FakeEsia, ensure_materials, standalone_app

CLIENT_ID = "REGAPP"
REDIRECT = "https://lk.example.ru/esia/back"


class ServedFakeEsia:
    """Context manager: the fake on 127.0.0.1 and a free port, and a client configured for it."""

    def __init__(self, folder, redirect_prefix="https://lk.example.ru/esia/"):
        self.materials = ensure_materials(folder)
        self.server = make_server("127.0.0.1", 0, app=None, threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.fake = FakeEsia.from_materials(self.materials, CLIENT_ID, self.base_url + "/",
                                            redirect_prefixes=(redirect_prefix,))
        self.server.app = standalone_app(self.fake, templates_folder())

    def settings(self, **extra):
        return {"ESIA_BASE_URL": self.base_url, "ESIA_CLIENT_ID": CLIENT_ID,
                "ESIA_SCOPE": "openid fullname", "ESIA_ISSUER": self.base_url + "/",
                "ESIA_KEY_PATH": str(self.materials.client_key),
                "ESIA_CERT_PATH": str(self.materials.client_cert),
                "ESIA_TOKEN_CERT_PATH": str(self.materials.esia_cert), **extra}

    def client(self, **extra):
        client = EsiaClient(self.settings(**extra))
        client.signer = GostSigner(client.settings)
        return client

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def sign_in(opener, url, oid=None, decline=False):
    """What a person does at the fake's page: pick ``oid`` (or decline). Returns the redirect."""
    page = opener.open(url).read().decode()
    ticket = re.search(r'name="ticket" value="([^"]+)"', page).group(1)
    form = {"ticket": ticket, **({"decline": "1"} if decline else {"oid": oid})}
    return opener.post(url.split("?")[0], form)


class NoRedirects:
    """A tiny HTTP client that reports redirects instead of following them."""

    def __init__(self):
        import urllib.request

        class Stop(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self._opener = urllib.request.build_opener(Stop)

    def open(self, url):
        import urllib.error

        try:
            return self._opener.open(url, timeout=10)
        except urllib.error.HTTPError as exc:
            return exc

    def post(self, url, form):
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode())
        try:
            return self._opener.open(request, timeout=10)
        except urllib.error.HTTPError as exc:
            return exc


def query(location):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
