"""Staff sign-in through the insurer's OpenID Connect provider (issue 16).

Authlib's Flask client: the authorization code flow with PKCE (S256), ``state`` and
``nonce`` kept in the staff session and checked on the way back, the ID token's
signature checked against the provider's keys, its issuer, audience, expiry and nonce
validated. The groups claim (``STAFF_OIDC_GROUPS_CLAIM``) grants the roles:
``STAFF_OPERATOR_GROUPS`` → operator, ``STAFF_SUPPORT_GROUPS`` → support; a member of
neither is refused.
"""

from __future__ import annotations

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from joserfc.errors import JoseError
from requests import RequestException

from regapp.texts import text

ROLES = ("operator", "support")
SCOPE = "openid profile email"


class SignInRefused(Exception):
    """The provider's answer does not sign anybody in; ``str()`` says why, in Russian."""


def configured(config):
    """Whether the console has a provider (the settings, or QA mode's fake)."""
    return bool(config.get("STAFF_OIDC_METADATA_URL") and config.get("STAFF_OIDC_CLIENT_ID"))


def init_app(app):
    oauth = OAuth(app)
    config = app.config
    oauth.register(
        "staff", client_id=config["STAFF_OIDC_CLIENT_ID"],
        client_secret=config["STAFF_OIDC_CLIENT_SECRET"],
        server_metadata_url=config["STAFF_OIDC_METADATA_URL"],
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": 10})
    app.extensions["regapp.staff_sso"] = oauth.staff


def callback_url(config):
    return config["PUBLIC_URL"] + "/staff/callback"


def start(client, config):
    """The redirect to the provider (a nonce, a state and a PKCE verifier kept in session)."""
    try:
        return client.authorize_redirect(callback_url(config))
    except (AuthlibBaseError, RequestException, ValueError) as exc:
        raise SignInRefused(text("staff.sso_down", detail=type(exc).__name__)) from None


def finish(client, config):
    """The signed-in member from the provider's answer: ``{sub, name, email, roles}``.

    :raises SignInRefused: declined, a forged or stale answer, or no role.
    """
    try:
        token = client.authorize_access_token()
    except (AuthlibBaseError, JoseError, RequestException, ValueError, TypeError) as exc:
        raise SignInRefused(_why(exc)) from None
    claims = token.get("userinfo")
    if not claims:
        raise SignInRefused(text("staff.no_id_token"))
    roles = roles_of(claims.get(config["STAFF_OIDC_GROUPS_CLAIM"]), config)
    if not roles:
        raise SignInRefused(text("staff.no_role"))
    return {"sub": claims["sub"], "name": claims.get("name") or claims.get("email") or "",
            "email": claims.get("email") or "", "roles": roles}


def roles_of(groups, config):
    """The roles ``groups`` (a list, or one comma-separated string) grant."""
    if isinstance(groups, str):
        groups = groups.split(",")
    held = {str(g).strip() for g in groups or ()}
    granted = []
    for role, setting in (("operator", "STAFF_OPERATOR_GROUPS"), ("support", "STAFF_SUPPORT_GROUPS")):
        wanted = {g.strip() for g in (config.get(setting) or "").split(",") if g.strip()}
        if held & wanted:
            granted.append(role)
    return granted


def _why(exc):
    name = type(exc).__name__
    if getattr(exc, "error", None) == "access_denied":
        return text("staff.declined")
    for part, key in (("State", "staff.stale"), ("Expired", "staff.expired"),
                      ("Signature", "staff.bad_signature"), ("Claim", "staff.bad_claims")):
        if part in name:
            return text(key)
    return text("staff.failed", detail=name)
