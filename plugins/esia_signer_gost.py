"""ESIA signer ``gost``: GOST R 34.10-2012-256 with Streebog-256, in-process (gostcrypto).

Reads the system's private key as OpenSSL writes it (PEM, PKCS#8, the key
little-endian in an OCTET STRING) and its certificate (PEM), and produces the
raw 64-byte signature in OpenSSL's byte order (``s || r``), which is what ESIA's
v2/v3 endpoints take. gostcrypto works big-endian and gives ``r || s``; the
conversions are here and nowhere else. Not a certified cryptographic tool:
a deployment that must use one chooses the ``command`` signer.
"""

from __future__ import annotations

from functools import cached_property

from asn1crypto import core, pem
from gostcrypto import gosthash, gostsignature

from regapp import hookimpl
from regapp.adapters import EsiaSigner

GOST_2012_256 = "1.2.643.7.1.1.1.1"
#: curve OIDs → gostcrypto's names (R 1323565.1.024-2019 renamed the CryptoPro sets)
CURVES = {
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-A
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",  # CryptoPro-B
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-C
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-XchA
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-XchB
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
}


class UnusableKey(ValueError):
    """The key or certificate file cannot be used."""


def der_from_pem(data: bytes) -> bytes:
    """The DER inside a PEM file (or the bytes themselves when already DER)."""
    return pem.unarmor(data)[2] if pem.detect(data) else data


def streebog256(data: bytes) -> bytes:
    return gosthash.new("streebog256", data=data).digest()


def certificate_hash(certificate: bytes) -> str:
    """Streebog-256 of the DER certificate, 64 hex digits (ESIA's client_certificate_hash)."""
    return streebog256(der_from_pem(certificate)).hex()


def load_private_key(data: bytes) -> tuple[bytes, str]:
    """Return ``(key, curve)``: the private key big-endian and gostcrypto's curve name."""
    try:
        info = core.load(der_from_pem(data))
        algorithm = info[1][0].dotted
        if algorithm != GOST_2012_256:
            raise UnusableKey(f"key algorithm {algorithm} is not GOST R 34.10-2012-256")
        curve_oid = info[1][1][0].dotted
        raw = info[2].native
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        if isinstance(exc, UnusableKey):
            raise
        raise UnusableKey(f"not a PKCS#8 GOST private key: {exc}") from None
    if curve_oid not in CURVES:
        raise UnusableKey(f"unknown GOST curve {curve_oid}")
    if len(raw) != 32:  # some writers wrap the key once more, as an OCTET STRING or INTEGER
        inner = core.load(raw).native
        raw = inner if isinstance(inner, bytes) else inner.to_bytes(32, "little")
    return bytes(reversed(raw)), CURVES[curve_oid]


def sign_openssl_order(key: bytes, curve: str, data: bytes) -> bytes:
    """The raw signature of ``data`` as ``openssl dgst -md_gost12_256 -sign`` gives it."""
    signer = gostsignature.new(gostsignature.MODE_256,
                               gostsignature.CURVES_R_1323565_1_024_2019[curve])
    r_s = bytes(signer.sign(key, bytes(reversed(streebog256(data)))))
    return r_s[32:] + r_s[:32]


class GostSigner(EsiaSigner):
    """Signs in-process with the key at ESIA_KEY_PATH; hashes the certificate at ESIA_CERT_PATH."""

    name = "gost"

    @cached_property
    def _key(self):
        with open(self.settings["ESIA_KEY_PATH"], "rb") as f:
            return load_private_key(f.read())

    def sign(self, data: bytes) -> bytes:
        key, curve = self._key
        return sign_openssl_order(key, curve, data)

    def certificate_hash(self) -> str:
        with open(self.settings["ESIA_CERT_PATH"], "rb") as f:
            return certificate_hash(f.read())


@hookimpl
def regapp_esia_signers():
    return [GostSigner]
