"""GOST R 34.10-2012-256 and Streebog-256 as ESIA needs them, in OpenSSL's formats.

gostcrypto computes; this module converts. gostcrypto is big-endian and gives
``r || s``; OpenSSL (and so ESIA's v2/v3 ``client_secret`` and X.509) writes
``s || r``; OpenSSL's PKCS#8 keeps the private key little-endian, and an X.509
GOST public key is ``x || y`` with each coordinate little-endian. The test
key pair and certificate of the fake ESIA are made here too, so QA needs no
OpenSSL engine.
"""

from __future__ import annotations

import datetime as dt
import secrets

from asn1crypto import core, pem
from gostcrypto import gosthash, gostsignature

GOST_2012_256 = "1.2.643.7.1.1.1.1"
STREEBOG_256 = "1.2.643.7.1.1.2.2"
SIGNED_WITH_GOST_2012_256 = "1.2.643.7.1.1.3.2"
CRYPTOPRO_A = "1.2.643.2.2.35.1"
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
    """The key or certificate cannot be used for GOST R 34.10-2012-256."""


def der_from_pem(data: bytes) -> bytes:
    """The DER inside a PEM file (or the bytes themselves when already DER)."""
    return pem.unarmor(data)[2] if pem.detect(data) else data


def streebog256(data: bytes) -> bytes:
    return gosthash.new("streebog256", data=data).digest()


def certificate_hash(certificate: bytes) -> str:
    """Streebog-256 of the DER certificate, 64 hex digits (ESIA's client_certificate_hash)."""
    return streebog256(der_from_pem(certificate)).hex()


def _curve(name):
    return gostsignature.new(gostsignature.MODE_256,
                             gostsignature.CURVES_R_1323565_1_024_2019[name])


def _algorithm(info, what):
    algorithm = info[0].dotted
    if algorithm != GOST_2012_256:
        raise UnusableKey(f"{what} algorithm {algorithm} is not GOST R 34.10-2012-256")
    curve_oid = info[1][0].dotted
    if curve_oid not in CURVES:
        raise UnusableKey(f"unknown GOST curve {curve_oid}")
    return CURVES[curve_oid]


def load_private_key(data: bytes) -> tuple[bytes, str]:
    """Return ``(key, curve)``: the private key big-endian and gostcrypto's curve name."""
    try:
        info = core.load(der_from_pem(data))
        curve = _algorithm(info[1], "key")
        raw = info[2].native
        if len(raw) != 32:  # some writers wrap the key once more (OCTET STRING or INTEGER)
            inner = core.load(raw).native
            raw = inner if isinstance(inner, bytes) else inner.to_bytes(32, "little")
    except UnusableKey:
        raise
    except (ValueError, TypeError, IndexError, AttributeError, OverflowError) as exc:
        raise UnusableKey(f"not a PKCS#8 GOST private key: {exc}") from None
    return bytes(reversed(raw)), curve


def load_public_key(certificate: bytes) -> tuple[bytes, str]:
    """Return ``(x || y big-endian, curve)`` from a certificate's subject public key."""
    from asn1crypto import x509

    try:
        parsed = x509.Certificate.load(der_from_pem(certificate))
        spki = core.load(parsed["tbs_certificate"]["subject_public_key_info"].dump())
        curve = _algorithm(spki[0], "certificate key")
        point = core.load(spki[1].contents[1:]).native  # BIT STRING: unused-bits byte first
    except UnusableKey:
        raise
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise UnusableKey(f"not a GOST certificate: {exc}") from None
    return bytes(reversed(point[:32])) + bytes(reversed(point[32:])), curve


def sign(key: bytes, curve: str, data: bytes) -> bytes:
    """The raw signature of ``data`` as ``openssl dgst -md_gost12_256 -sign`` gives it (s || r)."""
    r_s = bytes(_curve(curve).sign(key, bytes(reversed(streebog256(data)))))
    return r_s[32:] + r_s[:32]


def verify(public_key: bytes, curve: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (s || r, as OpenSSL writes it) signs ``data``."""
    if len(signature) != 64:
        return False
    r_s = signature[32:] + signature[:32]
    digest = bytearray(reversed(streebog256(data)))
    try:
        return bool(_curve(curve).verify(bytearray(public_key), digest, bytearray(r_s)))
    except (ValueError, TypeError):
        return False


def _der(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    n = len(content)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + content


def _seq(*items: bytes) -> bytes:
    return _der(0x30, b"".join(items))


def _oid(dotted: str) -> bytes:
    return core.ObjectIdentifier(dotted).dump()


def _bits(content: bytes) -> bytes:
    return _der(0x03, b"\x00" + content)


def generate(common_name="regapp test", days=3650):
    """A new key (PKCS#8 PEM) and self-signed certificate (PEM) on CryptoPro-A, as OpenSSL makes."""
    from asn1crypto import x509

    curve = CURVES[CRYPTOPRO_A]
    signer = _curve(curve)
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < signer._q:
            break
    public = bytes(signer.public_key_generate(key))
    algorithm = _seq(_oid(GOST_2012_256), _seq(_oid(CRYPTOPRO_A), _oid(STREEBOG_256)))
    pkcs8 = _seq(core.Integer(0).dump(), algorithm,
                 core.OctetString(bytes(reversed(key))).dump())
    point = bytes(reversed(public[:32])) + bytes(reversed(public[32:]))
    spki = _seq(algorithm, _bits(core.OctetString(point).dump()))
    name = x509.Name.build({"common_name": common_name}).dump()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    validity = _seq(x509.Time({"utc_time": now - dt.timedelta(days=1)}).dump(),
                    x509.Time({"utc_time": now + dt.timedelta(days=days)}).dump())
    signed_with = _seq(_oid(SIGNED_WITH_GOST_2012_256))
    tbs = _seq(_der(0xA0, core.Integer(2).dump()), core.Integer(secrets.randbits(63)).dump(),
               signed_with, name, validity, name, spki)
    certificate = _seq(tbs, signed_with, _bits(sign(key, curve, tbs)))
    return pem.armor("PRIVATE KEY", pkcs8), pem.armor("CERTIFICATE", certificate)
