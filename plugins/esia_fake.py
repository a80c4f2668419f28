"""ESIA provider ``fake``: the real client, pointed at the fake ESIA that QA mode mounts.

Its defaults come from the instance folder: the test GOST key pair and the
fake's RSA certificate are generated into ``instance/fake-esia/`` on first
use, the base URL is the app's own ``/fake-esia``. Settings still override
each of them, so the same provider can talk to ``regapp fake-esia`` elsewhere.
"""

from __future__ import annotations

import os

from regapp_plugins.esia_client import EsiaClient

from regapp.adapters import FAKE_ESIA_MOUNT
from regapp.hookspecs import hookimpl
from regapp.qa.fake_esia import ensure_materials

CLIENT_ID = "REGAPP-QA"


def fake_settings(settings):
    """The settings with the fake's defaults filled in."""
    materials = ensure_materials(os.path.join(settings["INSTANCE_PATH"], "fake-esia"))
    base = settings.get("ESIA_BASE_URL") or settings["PUBLIC_URL"] + FAKE_ESIA_MOUNT
    defaults = {"ESIA_BASE_URL": base, "ESIA_CLIENT_ID": CLIENT_ID,
                "ESIA_KEY_PATH": str(materials.client_key),
                "ESIA_CERT_PATH": str(materials.client_cert),
                "ESIA_TOKEN_CERT_PATH": str(materials.esia_cert),
                "ESIA_ISSUER": base.rstrip("/") + "/", "ESIA_SIGNER": "gost"}
    return {**settings, **{key: value for key, value in defaults.items() if not settings.get(key)}}


class FakeEsiaProvider(EsiaClient):
    """The ``esia`` client with the built-in fake ESIA's address and test keys (QA mode)."""

    name = "fake"

    def __init__(self, settings):
        super().__init__(fake_settings(settings))


@hookimpl
def regapp_esia_providers():
    return [FakeEsiaProvider]
