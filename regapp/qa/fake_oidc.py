"""The fake OpenID Connect provider for the staff console (issue 16), for QA only.

Built on Authlib's server side: discovery, the authorization code grant with PKCE
(S256 required) and OpenID Connect's ID token (RS256, ``nonce`` required), JWKS. Its
sign-in page offers test staff with each role, and mischief QA needs to see refused:
an ID token with a broken signature, another nonce, no groups, or already expired.

``regapp fake-oidc`` serves it on its own; QA mode mounts it at ``/qa/fake-oidc`` when
no ``STAFF_OIDC_METADATA_URL`` is set. Its RSA key lives in the instance folder, so the
processes of one deployment sign alike; an authorization code is a signed, short-lived
blob (any process can redeem it).
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Blueprint, Flask, jsonify, render_template, request
from itsdangerous import BadData, URLSafeTimedSerializer
from joserfc.jwk import RSAKey

#: the test staff: (sub, name, e-mail, groups)
STAFF = {
    "operator": ("qa-operator", "Ольга Операторова", "operator@insurer.example", ["regapp-operators"]),
    "support": ("qa-support", "Сергей Поддержкин", "support@insurer.example", ["regapp-support"]),
    "both": ("qa-lead", "Лидия Старшая", "lead@insurer.example",
             ["regapp-operators", "regapp-support"]),
    "nobody": ("qa-other", "Пётр Посторонний", "other@insurer.example", ["accounting"]),
}
#: what QA can ask the provider to get wrong, to see the console refuse it
MISCHIEF = {"": "ничего", "tampered": "испорченная подпись", "nonce": "чужой nonce",
            "no_groups": "без групп", "expired": "просроченный токен"}
CODE_LIFETIME = 60


@dataclass
class Client(ClientMixin):
    """The one client: the staff console."""

    client_id: str
    client_secret: str
    redirect_uri: str

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uri

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in ("openid", "profile", "email"))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret or "", self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    """An authorization code's contents (the code itself is them, signed)."""

    client_id: str
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    who: str
    mischief: str
    auth_time: int

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return "someone-else" if self.mischief == "nonce" else self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class FakeOidc:
    """The provider's state: its key, its client, its issuer."""

    def __init__(self, key_path, issuer, client):
        self.issuer, self.client, self.key_path = issuer.rstrip("/"), client, key_path
        self.redeemed = set()  # a code once: within a process (QA's, not a real IdP's)

    @functools.cached_property
    def key(self):
        """The signing key, made on first use (an RSA key takes a moment: not at every start)."""
        return _load_or_make_key(self.key_path)

    @functools.cached_property
    def codes(self):
        return URLSafeTimedSerializer(self.key.as_pem(private=True), salt="fake-oidc-code")

    def metadata(self, base):
        return {
            "issuer": self.issuer, "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["sub", "name", "email", "groups", "nonce"],
        }


def _load_or_make_key(path):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return RSAKey.import_key(f.read(), parameters={"kid": "fake-oidc"})
    key = RSAKey.generate_key(2048, parameters={"kid": "fake-oidc"})
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(key.as_pem(private=True))
    return key


def _grants(fake):
    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code, req):
            return None  # the code handed out is the signed blob of generate_authorization_code

        def generate_authorization_code(self):
            req = self.request
            data = req.payload.data
            return fake.codes.dumps({
                "client_id": req.client.client_id, "redirect_uri": req.payload.redirect_uri,
                "scope": req.payload.scope, "nonce": data.get("nonce") or "",
                "code_challenge": data.get("code_challenge") or "",
                "code_challenge_method": data.get("code_challenge_method") or "",
                "who": req.user, "mischief": request.form.get("mischief", ""),
                "auth_time": int(time.time()), "salt": secrets.token_hex(8)})

        def query_authorization_code(self, code, client):
            try:
                data = fake.codes.loads(code, max_age=CODE_LIFETIME)
            except BadData:
                return None
            if code in fake.redeemed or data["client_id"] != client.client_id:
                return None
            data.pop("salt")
            return Code(**data)

        def delete_authorization_code(self, authorization_code):
            fake.redeemed.add(self.request.payload.data.get("code"))

        def authenticate_user(self, authorization_code):
            return f"{authorization_code.who}|{authorization_code.mischief}"

    class IdToken(OpenIDCode):
        def exists_nonce(self, nonce, req):
            return False  # codes are single-use already

        def resolve_client_private_key(self, client):
            return fake.key

        def get_client_algorithm(self, client):
            return "RS256"

        def get_encode_header(self, client):
            return {"alg": "RS256", "kid": "fake-oidc"}

        def get_client_claims(self, client):
            return {"iss": fake.issuer, "aud": [client.get_client_id()]}

        def get_compatible_claims(self, req):
            claims = super().get_compatible_claims(req)
            if req.user.endswith("|expired"):
                claims["iat"], claims["exp"] = int(time.time()) - 7200, int(time.time()) - 3600
            return claims

        def generate_user_info(self, user, scope):
            who, _, mischief = user.partition("|")
            sub, name, email, groups = STAFF[who]
            info = UserInfo(sub=sub, name=name, email=email)
            if mischief != "no_groups":
                info["groups"] = groups
            return info

        def process_token(self, grant, response):
            token = super().process_token(grant, response)
            if grant.request.user.endswith("|tampered"):
                header, payload, signature = token["id_token"].split(".")
                token["id_token"] = ".".join((header, payload, signature[::-1]))
            return token

    return CodeGrant, IdToken


def blueprint(fake: FakeOidc, url_prefix="", name="fake_oidc"):
    """The provider's endpoints as a blueprint (mounted in QA mode, or served alone)."""
    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    server = AuthorizationServer(query_client=lambda client_id: (
        fake.client if client_id == fake.client.client_id else None),
        save_token=lambda token, req: None)
    code_grant, id_token = _grants(fake)
    server.register_grant(code_grant, [id_token(require_nonce=True), CodeChallenge(required=True)])

    @bp.record_once
    def _bind(state):
        server.init_app(state.app)

    @bp.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify(fake.metadata(request.url_root.rstrip("/") + (url_prefix or "")))

    @bp.get("/jwks")
    def jwks():
        return jsonify({"keys": [fake.key.as_dict(private=False)]})

    @bp.route("/authorize", methods=["GET", "POST"])
    def authorize():
        if request.method == "GET":
            grant = server.get_consent_grant(end_user=None)
            return render_template("qa/fake_oidc.html", staff=STAFF, mischief=MISCHIEF,
                                   client=grant.client.client_id)
        who = request.form.get("who")
        if who not in STAFF or request.form.get("mischief", "") not in MISCHIEF:
            return render_template("qa/fake_oidc.html", staff=STAFF, mischief=MISCHIEF,
                                   client=fake.client.client_id, error="Выберите сотрудника"), 400
        return server.create_authorization_response(grant_user=who)

    @bp.post("/token")
    def token():
        return server.create_token_response()

    return bp


def standalone_app(fake: FakeOidc, template_folder):
    """The provider alone (``regapp fake-oidc``): an issuer of its own, on its own port."""
    app = Flask(__name__, template_folder=str(template_folder))
    app.config["SECRET_KEY"] = secrets.token_hex(16)
    app.register_blueprint(blueprint(fake))
    return app
