"""ESIA's wire details, shared by the real client and the fake (INTERFACES.md, «Gosuslugi»).

What is signed, how timestamps look, how signatures travel, and the error
codes. ``shared/research/esia.md`` has the sources.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

AUTHORIZE_PATH = "/aas/oauth2/v2/ac"
TOKEN_PATH = "/aas/oauth2/v3/te"
PERSON_PATH = "/rs/prns/"
MOSCOW = dt.timezone(dt.timedelta(hours=3))
TIMESTAMP_FORMAT = "%Y.%m.%d %H:%M:%S %z"

#: ESIA's error codes as they appear in error_description
ERRORS = {
    "007004": ("access_denied", "The resource owner or authorization server denied the request."),
    "007011": ("invalid_grant", "The provided authorization grant is invalid, expired or revoked."),
    "007014": ("invalid_request", "The request doesn't contain the mandatory parameter"),
    "007015": ("invalid_request", "The request time is wrong"),
    "007023": ("invalid_request", "The redirect_uri is not registered for the client"),
    "007053": ("access_denied", "OAuthErrorEnum.clientSecretWrong"),
}


def jws_registry():
    """joserfc's registry, knowing ESIA's own JWT header fields (``sbt``, ``ver``)."""
    from joserfc.jws import JWSRegistry
    from joserfc.registry import HeaderParameter

    return JWSRegistry(algorithms=["RS256"], header_registry={
        "sbt": HeaderParameter("ESIA token kind", "str"),
        "ver": HeaderParameter("ESIA token version", "int"),
    })


def timestamp(now=None) -> str:
    """``yyyy.MM.dd HH:mm:ss +0300``: Moscow time, as ESIA expects it."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(MOSCOW).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> dt.datetime:
    """Read a request's timestamp; raise ValueError when it is not ESIA's form."""
    return dt.datetime.strptime(text, TIMESTAMP_FORMAT)


def signed_string(client_id, scope, timestamp_, state, redirect_uri, code=None, version=2) -> bytes:
    """What ``client_secret`` signs: v2/v3 (``code`` appended at te), or v1's older order."""
    if version == 1:
        return f"{scope}{timestamp_}{client_id}{state}".encode()
    return f"{client_id}{scope}{timestamp_}{state}{redirect_uri}{code or ''}".encode()


def encode_signature(signature: bytes) -> str:
    """base64url without padding, as working clients send it."""
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def decode_signature(text: str) -> bytes | None:
    """Read a signature in any base64 variant clients are seen to send; None if none fits."""
    text = (text or "").strip().replace(" ", "+")
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            return decode(padded)
        except (binascii.Error, ValueError):
            continue
    return None


def error_description(code: str) -> str:
    return f"ESIA-{code}: {ERRORS[code][1]}"


def error_code(description: str | None) -> str | None:
    """``ESIA-007004: …`` → ``007004``."""
    if description and description.startswith("ESIA-"):
        return description[5:11]
    return None
