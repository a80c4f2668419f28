"""ESIA provider ``esia``: the client of ESIA's current protocol (v2/ac, v3/te, /rs/prns).

Every request is signed by the deployment's signer plugin (``ESIA_SIGNER``);
the access token is checked (RS256 against ``ESIA_TOKEN_CERT_PATH``:
signature, ``iss``, ``client_id``, expiry with a minute's leeway), and its
``urn:esia:sbj_id`` must be the id_token's ``sub``. ``ESIA_STRING_VERSION = 1``
signs the legacy string instead, for stands that still want it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from regapp.adapters import EsiaError, EsiaPerson, EsiaProvider
from regapp.esia import protocol as wire
from regapp.hookspecs import hookimpl

LEEWAY = 60


class EsiaClient(EsiaProvider):
    """Signs in with ESIA at ESIA_BASE_URL as ESIA_CLIENT_ID."""

    name = "esia"
    #: the signer plugin chosen by ESIA_SIGNER; set when the app builds its adapters
    signer = None

    @property
    def base_url(self):
        return self.settings["ESIA_BASE_URL"].rstrip("/")

    def _signed(self, state, redirect_uri, code=None, now=None):
        """The common signed fields of ac and te."""
        stamp = wire.timestamp(now)
        client_id, scope = self.settings["ESIA_CLIENT_ID"], self.settings["ESIA_SCOPE"]
        data = wire.signed_string(client_id, scope, stamp, state, redirect_uri, code,
                                  int(self.settings.get("ESIA_STRING_VERSION") or 2))
        return {"client_id": client_id, "scope": scope, "timestamp": stamp, "state": state,
                "redirect_uri": redirect_uri,
                "client_certificate_hash": self.signer.certificate_hash(),
                "client_secret": wire.encode_signature(self.signer.sign(data))}

    def authorization_url(self, state, redirect_uri, now=None):
        params = {**self._signed(state, redirect_uri, now=now), "response_type": "code",
                  "access_type": "online"}
        return self.base_url + wire.AUTHORIZE_PATH + "?" + urllib.parse.urlencode(params)

    def exchange(self, code, redirect_uri, now=None):
        """Trade the code for tokens; return the checked access-token claims and the tokens."""
        state = str(uuid.uuid4())  # te wants a new state, and echoes it
        fields = {**self._signed(state, redirect_uri, code=code, now=now), "code": code,
                  "grant_type": "authorization_code", "token_type": "Bearer"}
        tokens = self._request(self.base_url + wire.TOKEN_PATH,
                               data=urllib.parse.urlencode(fields).encode())
        if tokens.get("state") != state:
            raise EsiaError("ESIA answered with another state")
        claims = self._check(tokens.get("access_token"), client_claim="client_id")
        identity = self._check(tokens.get("id_token"), client_claim="aud")
        oid = str(claims.get("urn:esia:sbj_id") or "")
        if not oid or oid != str(identity.get("sub")):
            raise EsiaError("the access token's urn:esia:sbj_id is not the id_token's sub")
        return oid, tokens

    def fetch_person(self, code, redirect_uri, now=None):
        oid, tokens = self.exchange(code, redirect_uri, now)
        data = self._request(self.base_url + wire.PERSON_PATH + urllib.parse.quote(oid),
                             headers={"Authorization": f"Bearer {tokens['access_token']}"})
        return EsiaPerson(oid=oid, last_name=data.get("lastName") or "",
                      first_name=data.get("firstName") or "",
                      middle_name=data.get("middleName") or "",
                      birth_date=data.get("birthDate"), trusted=data.get("trusted") is True)

    def _check(self, token, client_claim):
        """Signature (RS256, ESIA's certificate), issuer, client and expiry of a token."""
        try:
            decoded = jwt.decode(token or "", self._token_key(), registry=wire.jws_registry())
            claims = dict(decoded.claims)
            if "sub" in claims:  # ESIA writes the oid as a number; JWT wants a string
                claims["sub"] = str(claims["sub"])
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY, exp={"essential": True},
                iss={"essential": True, "value": self.settings["ESIA_ISSUER"]},
                **{client_claim: {"essential": True, "value": self.settings["ESIA_CLIENT_ID"]}},
            ).validate(claims)
        except (JoseError, ValueError) as exc:
            raise EsiaError(f"ESIA's token is not valid: {exc}") from None
        return claims

    def _token_key(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        with open(self.settings["ESIA_TOKEN_CERT_PATH"], "rb") as f:
            certificate = x509.load_pem_x509_certificate(f.read())
        return RSAKey.import_key(certificate.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def _request(self, url, data=None, headers=None):
        request = urllib.request.Request(url, data=data, headers={
            "Accept": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read())
            except ValueError:
                body = {}
            raise EsiaError(body.get("error_description") or f"ESIA answered {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise EsiaError(f"ESIA unreachable or answered nonsense: {exc}") from None


@hookimpl
def regapp_esia_providers():
    return [EsiaClient]
