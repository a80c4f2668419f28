"""ESIA signer ``gost``: GOST R 34.10-2012-256 with Streebog-256, in-process (gostcrypto).

Reads the system's private key as OpenSSL writes it (PEM, PKCS#8) and its
certificate (PEM), and produces the raw 64-byte signature in OpenSSL's byte
order, which is what ESIA's v2/v3 endpoints take (see :mod:`regapp.esia.gost`).
Not a certified cryptographic tool: a deployment that must use one chooses
the ``command`` signer.
"""

from __future__ import annotations

from functools import cached_property

from regapp.adapters import EsiaSigner
from regapp.esia import gost
from regapp.hookspecs import hookimpl


class GostSigner(EsiaSigner):
    """Signs in-process with the key at ESIA_KEY_PATH; hashes the certificate at ESIA_CERT_PATH."""

    name = "gost"

    @cached_property
    def _key(self):
        with open(self.settings["ESIA_KEY_PATH"], "rb") as f:
            return gost.load_private_key(f.read())

    def sign(self, data: bytes) -> bytes:
        key, curve = self._key
        return gost.sign(key, curve, data)

    def certificate_hash(self) -> str:
        with open(self.settings["ESIA_CERT_PATH"], "rb") as f:
            return gost.certificate_hash(f.read())


@hookimpl
def regapp_esia_signers():
    return [GostSigner]
