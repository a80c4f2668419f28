"""A fake ESIA for QA and tests (R22): ESIA's paths, checked as ESIA checks them.

It verifies the GOST signature against the registered client certificate and
its hash, the timestamp window, the redirect_uri and every required parameter,
and answers with ESIA's error codes; it issues RS256 tokens with ESIA's claim
names and serves ``/rs/prns/{oid}``. Its sign-in page lets QA pick a test
person. Served by ``regapp fake-esia`` and, in QA mode, inside the app.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, jsonify, redirect, render_template, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from regapp.esia import gost
from regapp.esia import protocol as wire

PERSONS = [
    {"oid": "1000000001", "title": "Подтверждённая учётная запись", "lastName": "Петров",
     "firstName": "Александр", "middleName": "Иванович", "birthDate": "14.03.1985",
     "trusted": True},
    {"oid": "1000000002", "title": "Неподтверждённая (упрощённая) учётная запись",
     "lastName": "Семёнова", "firstName": "Алёна", "middleName": "Петровна",
     "birthDate": "02.07.1990", "trusted": False},
    {"oid": "1000000003", "title": "Без отчества", "lastName": "Смит", "firstName": "Джон",
     "birthDate": "05.05.1979", "trusted": True},
    {"oid": "1000000004", "title": "С «ё» и дефисом", "lastName": "Тер-Петросян",
     "firstName": "Артём", "middleName": "Сергеевич", "birthDate": "11.06.1991", "trusted": True},
    {"oid": "1000000005", "title": "Откажется передать данные", "lastName": "Отказов",
     "firstName": "Пётр", "middleName": "Петрович", "birthDate": "01.01.1980", "trusted": True,
     "declines": True},
]
AUTHORIZE_FIELDS = ("client_id", "response_type", "redirect_uri", "scope", "state", "timestamp",
                    "access_type", "client_certificate_hash", "client_secret")
TOKEN_FIELDS = ("client_id", "code", "grant_type", "redirect_uri", "scope", "state", "timestamp",
                "token_type", "client_certificate_hash", "client_secret")
CODE_LIFETIME = 240
TOKEN_LIFETIME = 3600


@dataclass
class Materials:
    """The key files of a fake ESIA set-up: the client's GOST pair, ESIA's RSA pair."""

    folder: Path

    @property
    def client_key(self):
        return self.folder / "client-key.pem"

    @property
    def client_cert(self):
        return self.folder / "client-cert.pem"

    @property
    def esia_key(self):
        return self.folder / "esia-key.pem"

    @property
    def esia_cert(self):
        return self.folder / "esia-cert.pem"


def ensure_materials(folder) -> Materials:
    """Generate the test key pairs and certificates once into ``folder``."""
    materials = Materials(Path(folder))
    materials.folder.mkdir(parents=True, exist_ok=True)
    if not materials.client_cert.exists():
        key, cert = gost.generate("regapp QA client")
        materials.client_key.write_bytes(key)
        materials.client_cert.write_bytes(cert)
    if not materials.esia_cert.exists():
        key, cert = _rsa_pair("Fake ESIA")
        materials.esia_key.write_bytes(key)
        materials.esia_cert.write_bytes(cert)
    return materials


def _rsa_pair(common_name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
            cert.public_bytes(serialization.Encoding.PEM))


@dataclass
class FakeEsia:
    """One fake ESIA: its registered client, its keys, its codes in memory."""

    client_id: str
    client_cert: bytes
    esia_key: bytes
    issuer: str
    redirect_prefixes: tuple = ()
    time_window: int = 300
    persons: list = field(default_factory=lambda: list(PERSONS))
    _codes: dict = field(default_factory=dict)
    _requests: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_materials(cls, materials, client_id, issuer, redirect_prefixes=()):
        return cls(client_id=client_id, client_cert=materials.client_cert.read_bytes(),
                   esia_key=materials.esia_key.read_bytes(), issuer=issuer,
                   redirect_prefixes=tuple(redirect_prefixes))

    # -- checks shared by ac and te ------------------------------------------------------

    def _missing(self, values, names):
        return [n for n in names if not values.get(n)]

    def _time_ok(self, text):
        try:
            sent = wire.parse_timestamp(text)
        except ValueError:
            return False
        return abs((dt.datetime.now(dt.UTC) - sent).total_seconds()) <= self.time_window

    def _signature_ok(self, values, code=None):
        if values.get("client_id") != self.client_id:
            return False
        if values.get("client_certificate_hash", "").lower() != gost.certificate_hash(self.client_cert):
            return False
        signature = wire.decode_signature(values.get("client_secret"))
        data = wire.signed_string(values["client_id"], values["scope"], values["timestamp"],
                                  values["state"], values["redirect_uri"], code)
        public, curve = gost.load_public_key(self.client_cert)
        return signature is not None and gost.verify(public, curve, data, signature)

    def _redirect_ok(self, uri):
        # a registered prefix, and nothing after it that could split a Location header
        return (bool(uri) and uri.isprintable() and " " not in uri
                and any(uri.startswith(p) for p in self.redirect_prefixes))

    # -- authorization (ac) -----------------------------------------------------------

    def authorize_error(self, values):
        """Return the error code for an authorization request, or None when it may go on."""
        if missing := self._missing(values, AUTHORIZE_FIELDS):
            return "007014", missing
        if not self._redirect_ok(values["redirect_uri"]):
            return "007023", None
        if not self._time_ok(values["timestamp"]):
            return "007015", None
        if not self._signature_ok(values):
            return "007053", None
        return None

    def remember_request(self, values):
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._requests[ticket] = dict(values)
        return ticket

    def choose(self, ticket, oid, declined):
        """The person picked (or declined): where to send the browser back."""
        with self._lock:
            values = self._requests.pop(ticket, None)
        if values is None:
            abort(400)
        person = self.person(oid)
        if declined or person is None or person.get("declines"):
            return _with_query(values["redirect_uri"], error="access_denied",
                               error_description=wire.error_description("007004"),
                               state=values["state"])
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {"oid": person["oid"], "client_id": values["client_id"],
                                 "redirect_uri": values["redirect_uri"], "scope": values["scope"],
                                 "expires": time.time() + CODE_LIFETIME, "used": False}
        return _with_query(values["redirect_uri"], code=code, state=values["state"])

    # -- token (te) ------------------------------------------------------------------------

    def token(self, values):
        """Return ``(status, json)`` for a token request."""
        if missing := self._missing(values, TOKEN_FIELDS):
            return 400, _error_json("007014", values, missing)
        if not self._time_ok(values["timestamp"]):
            return 400, _error_json("007015", values)
        if not self._signature_ok(values, code=values["code"]):
            return 400, _error_json("007053", values)
        with self._lock:
            grant = self._codes.get(values["code"])
            usable = (grant and not grant["used"] and grant["expires"] > time.time()
                      and grant["client_id"] == values["client_id"]
                      and grant["redirect_uri"] == values["redirect_uri"])
            if usable:
                grant["used"] = True
        if not usable:
            return 400, _error_json("007011", values)
        return 200, self._tokens(grant, values["state"])

    def _tokens(self, grant, state):
        now = int(time.time())
        person = self.person(grant["oid"])
        sid = uuid.uuid4().hex
        access = {"iss": self.issuer, "client_id": self.client_id, "iat": now, "nbf": now,
                  "exp": now + TOKEN_LIFETIME, "urn:esia:sid": sid,
                  "urn:esia:sbj_id": int(grant["oid"]),
                  "scope": " ".join(f"{s}?oid={grant['oid']}" for s in grant["scope"].split())}
        subject = {"urn:esia:sbj:oid": int(grant["oid"]), "urn:esia:sbj:typ": "P",
                   "urn:esia:sbj:nam": f"OID.{grant['oid']}",
                   "urn:esia:sbj:lvl": "PR" if person["trusted"] else "P"}
        if person["trusted"]:
            subject["urn:esia:sbj:is_tru"] = True
        identity = {"iss": self.issuer, "aud": self.client_id, "sub": int(grant["oid"]),
                    "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME, "auth_time": now,
                    "amr": "PWD", "urn:esia:amd": "PWD", "urn:esia:sid": sid,
                    "urn:esia:sbj": subject}
        return {"access_token": self._jwt(access, "access"), "id_token": self._jwt(identity, "id"),
                "state": state, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME}

    def _jwt(self, claims, kind):
        header = {"alg": "RS256", "typ": "JWT", "sbt": kind, "ver": 1}
        return jwt.encode(header, claims, RSAKey.import_key(self.esia_key),
                          registry=wire.jws_registry())

    # -- person (prns) --------------------------------------------------------------------------

    def person(self, oid):
        return next((p for p in self.persons if p["oid"] == str(oid)), None)

    def person_json(self, oid, authorization):
        """Return ``(status, json)`` for ``GET /rs/prns/{oid}``."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(token, RSAKey.import_key(self.esia_key),
                                registry=wire.jws_registry()).claims
            jwt.JWTClaimsRegistry(leeway=60).validate(claims)
        except (JoseError, ValueError):
            return 401, {"error": "unauthorized"}
        if str(claims.get("urn:esia:sbj_id")) != str(oid) or not self.person(oid):
            return 403, {"error": "forbidden"}
        person = self.person(oid)
        body = {"stateFacts": ["EntityRoot"], "eTag": secrets.token_hex(8),
                "firstName": person["firstName"], "lastName": person["lastName"],
                "birthDate": person["birthDate"], "trusted": person["trusted"],
                "status": "REGISTERED", "verifying": False, "citizenship": "RUS"}
        if person.get("middleName"):
            body["middleName"] = person["middleName"]
        return 200, body


def _with_query(uri, **params):
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _error_json(code, values, missing=None):
    description = wire.error_description(code) + (f" [{', '.join(missing)}]" if missing else "")
    return {"error": wire.ERRORS[code][0], "error_description": description,
            "state": values.get("state")}


def blueprint(fake: FakeEsia, name="fake_esia", url_prefix=""):
    """The fake's pages, to mount in an app at ``url_prefix``."""
    bp = Blueprint(name, __name__, url_prefix=url_prefix)

    @bp.get(wire.AUTHORIZE_PATH)
    def authorize():
        values = request.args.to_dict()
        problem = fake.authorize_error(values)
        if problem:
            code, missing = problem
            description = wire.error_description(code) + (f" [{', '.join(missing)}]" if missing else "")
            if code in ("007023",) or not fake._redirect_ok(values.get("redirect_uri")):
                return render_template("qa/fake_esia/error.html", description=description), 400
            return redirect(_with_query(values["redirect_uri"], error=wire.ERRORS[code][0],
                                        error_description=description, state=values.get("state")))
        ticket = fake.remember_request(values)
        return render_template("qa/fake_esia/signin.html", persons=fake.persons, ticket=ticket,
                               action=request.path)

    @bp.post(wire.AUTHORIZE_PATH)
    def chosen():
        return redirect(fake.choose(request.form.get("ticket"), request.form.get("oid"),
                                    declined="decline" in request.form))

    @bp.post(wire.TOKEN_PATH)
    def token():
        status, body = fake.token(request.form.to_dict())
        return jsonify(body), status

    @bp.get(wire.PERSON_PATH + "<oid>")
    def person(oid):
        status, body = fake.person_json(oid, request.headers.get("Authorization"))
        return jsonify(body), status

    return bp


def standalone_app(fake: FakeEsia, template_folder):
    """The fake as its own server (``regapp fake-esia``); forms here need no CSRF: it is ESIA's side."""
    app = Flask("regapp.fake_esia", template_folder=str(template_folder))
    app.register_blueprint(blueprint(fake))
    return app
