"""The fake OpenID Connect provider for the staff console (issue 16), for QA only.

Built on Authlib's server side: discovery, the authorization code grant with PKCE
(S256 required) and OpenID Connect's ID token (RS256, ``nonce`` required), JWKS, and the
refresh token grant (a new refresh token each time, the old one spent; a fresh ID token
with the member's groups as they stand). Its sign-in page offers test staff with each
role, and mischief QA needs to see refused: an ID token with a broken signature, another
nonce, no groups, or already expired. Its members page (``/members``) takes a member out
of a group or disables them, as an administrator does in the insurer's directory: the
console's next look (``STAFF_RECHECK_SECONDS``) sees it.

``regapp fake-oidc`` serves it on its own; QA mode mounts it at ``/qa/fake-oidc`` when
no ``STAFF_OIDC_METADATA_URL`` is set. Its RSA key lives in the instance folder, so the
processes of one deployment sign alike; an authorization code is a signed, short-lived
blob (any process can redeem it), and so is a refresh token. The members' changes live
in a file beside the key (every process reads them); a code or a refresh token is spent
within the process that took it.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Error, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from flask import Blueprint, Flask, jsonify, redirect, render_template, request
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
#: a refresh token's life: a working day and then some (a real directory's may be shorter)
REFRESH_LIFETIME = 14 * 3600
#: every group a test member may be put in on the members page
GROUPS = ("regapp-operators", "regapp-support", "accounting")


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
        return grant_type in ("authorization_code", "refresh_token")


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


@dataclass
class Refresh:
    """A refresh token's contents (the token itself is them, signed)."""

    token: str
    client_id: str
    scope: str
    who: str

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope


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

    @functools.cached_property
    def refreshes(self):
        return URLSafeTimedSerializer(self.key.as_pem(private=True), salt="fake-oidc-refresh")

    @property
    def members_path(self):
        return os.path.join(os.path.dirname(self.key_path), "members.json")

    def members(self):
        """Each test member as the directory holds them now: ``{who: (groups, disabled)}``."""
        try:
            with open(self.members_path, encoding="utf-8") as f:
                changed = json.load(f)
        except FileNotFoundError:
            changed = {}
        return {who: (changed.get(who, {}).get("groups", groups),
                      changed.get(who, {}).get("disabled", False))
                for who, (_, _, _, groups) in STAFF.items()}

    def change_member(self, who, groups, disabled):
        """Put a member in these groups (and disable them or not), for every process."""
        changed = {w: {"groups": g, "disabled": d} for w, (g, d) in self.members().items()}
        changed[who] = {"groups": [g for g in GROUPS if g in groups], "disabled": disabled}
        folder = os.path.dirname(self.members_path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False) as f:
            json.dump(changed, f, ensure_ascii=False)
        os.replace(f.name, self.members_path)  # a reader sees the old file or the new

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

    class RefreshGrant(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
        INCLUDE_NEW_REFRESH_TOKEN = True  # rotated, as careful providers do

        def authenticate_refresh_token(self, refresh_token):
            try:
                data = fake.refreshes.loads(refresh_token, max_age=REFRESH_LIFETIME)
            except BadData:
                return None
            if refresh_token in fake.redeemed or fake.members()[data["who"]][1]:
                return None  # spent, or the member disabled: invalid_grant
            return Refresh(refresh_token, data["client_id"], data["scope"], data["who"])

        def authenticate_user(self, refresh):
            return f"{refresh.who}|"

        def revoke_old_credential(self, refresh):
            fake.redeemed.add(refresh.token)

    class IdTokenClaims(OpenIDToken):
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
            sub, name, email, _ = STAFF[who]
            groups, _ = fake.members()[who]
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

    class IdToken(IdTokenClaims, OpenIDCode):
        def exists_nonce(self, nonce, req):
            return False  # codes are single-use already

    return CodeGrant, IdToken, RefreshGrant, IdTokenClaims


def blueprint(fake: FakeOidc, url_prefix="", name="fake_oidc"):
    """The provider's endpoints as a blueprint (mounted in QA mode, or served alone)."""
    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    server = AuthorizationServer(query_client=lambda client_id: (
        fake.client if client_id == fake.client.client_id else None),
        save_token=lambda token, req: None)
    code_grant, id_token, refresh_grant, refreshed_id_token = _grants(fake)
    server.register_grant(code_grant, [id_token(require_nonce=True), CodeChallenge(required=True)])
    server.register_grant(refresh_grant, [refreshed_id_token()])

    @bp.record_once
    def _bind(state):
        server.init_app(state.app)
        tokens = server.create_bearer_token_generator({})
        tokens.refresh_token_generator = lambda client, grant_type, user, scope: (
            fake.refreshes.dumps({"client_id": client.client_id, "scope": scope,
                                  "who": user.partition("|")[0],
                                  "salt": secrets.token_hex(8)}))
        server.register_token_generator("default", tokens)

    @bp.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify(fake.metadata(request.url_root.rstrip("/") + (url_prefix or "")))

    @bp.get("/jwks")
    def jwks():
        return jsonify({"keys": [fake.key.as_dict(private=False)]})

    @bp.route("/authorize", methods=["GET", "POST"])
    def authorize():
        if request.method == "GET":
            try:
                grant = server.get_consent_grant(end_user=None)
            except OAuth2Error as exc:  # no client, a wrong redirect, no PKCE…: as an IdP
                return _sign_in_page(fake.client.client_id,
                                     f"Запрос входа отклонён: {exc.error}"), 400
            return _sign_in_page(grant.client.client_id)
        who = request.form.get("who")
        if who not in STAFF or request.form.get("mischief", "") not in MISCHIEF:
            return _sign_in_page(fake.client.client_id, "Выберите сотрудника"), 400
        if fake.members()[who][1]:
            return _sign_in_page(fake.client.client_id, "Учётная запись отключена"), 403
        return server.create_authorization_response(grant_user=who)

    def _sign_in_page(client, error=None):
        members = fake.members()
        staff = {who: (sub, name, email, members[who][0])
                 for who, (sub, name, email, _) in STAFF.items()}
        return render_template("qa/fake_oidc.html", staff=staff, mischief=MISCHIEF,
                               client=client, error=error)

    @bp.post("/token")
    def token():
        return server.create_token_response()

    @bp.route("/members", methods=["GET", "POST"])
    def members():
        """QA's directory: a member's groups, and whether they may sign in at all."""
        error = None
        if request.method == "POST":
            who = request.form.get("who")
            if who in STAFF:
                fake.change_member(who, request.form.getlist("groups"),
                                   request.form.get("disabled") == "on")
                return redirect(request.path, code=303)
            error = "Выберите сотрудника"
        return render_template("qa/fake_oidc_members.html", members=fake.members(),
                               staff=STAFF, all_groups=GROUPS, error=error), 400 if error else 200

    return bp


def standalone_app(fake: FakeOidc, template_folder):
    """The provider alone (``regapp fake-oidc``): an issuer of its own, on its own port."""
    app = Flask(__name__, template_folder=str(template_folder))
    app.config["SECRET_KEY"] = secrets.token_hex(16)
    app.register_blueprint(blueprint(fake))
    return app
