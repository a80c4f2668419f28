"""Staff sign-in through the insurer's OpenID Connect provider (issue 16).

Authlib's Flask client: the authorization code flow with PKCE (S256), ``state`` and
``nonce`` kept in the staff session and checked on the way back, the ID token's
signature checked against the provider's keys, its issuer, audience, expiry and nonce
validated. The groups claim (``STAFF_OIDC_GROUPS_CLAIM``) grants the roles:
``STAFF_OPERATOR_GROUPS`` → operator, ``STAFF_SUPPORT_GROUPS`` → support; a member of
neither is refused.

The provider is asked again every ``STAFF_RECHECK_SECONDS`` with the refresh token it gave
at sign-in (:func:`recheck`): a member it no longer honours (disabled, signed out there)
or who is in no staff group any more is signed out of the console, and a member's roles
follow their groups.
"""

from __future__ import annotations

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from joserfc.errors import JoseError
from requests import RequestException

from regapp.texts import text

ROLES = ("operator", "support")


class SignInRefused(Exception):
    """The provider's answer does not sign anybody in; ``str()`` says why, in Russian."""


class GrantEnded(SignInRefused):
    """The provider refused the refresh token: the member's sign-in there has ended, or
    the token was spent (a provider that gives a new one each time)."""


class ProviderDown(Exception):
    """The provider could not be asked (no answer, or not one a provider gives)."""


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
        client_kwargs={"scope": config["STAFF_OIDC_SCOPE"], "code_challenge_method": "S256",
                       "timeout": 10})
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
    """The signed-in member from the provider's answer, ``{sub, name, email, roles}``, and
    the refresh token to ask again with (None when the provider gave none).

    :raises SignInRefused: declined, a forged or stale answer, or no role.
    """
    try:
        token = client.authorize_access_token()
    except (AuthlibBaseError, JoseError, RequestException, ValueError, TypeError) as exc:
        raise SignInRefused(_why(exc)) from None
    return _member(token.get("userinfo"), config), token.get("refresh_token")


def recheck(client, config, staff, refresh_token):
    """The member as the provider sees them now, and the refresh token for next time
    (a provider may give a new one each time, the old one then spent).

    :raises SignInRefused: the provider no longer honours the sign-in, its answer is not
        about this member, or their groups grant no role any more.
    :raises ProviderDown: the provider could not be asked.
    """
    if not refresh_token:
        raise SignInRefused(text("staff.no_refresh_token"))
    try:
        token = client.fetch_access_token(grant_type="refresh_token",
                                          refresh_token=refresh_token)
        # OIDC Core 12.2: no nonce to match; issuer, audience, expiry and signature checked
        claims = client.parse_id_token(token, nonce=None)
    except OAuthError as exc:  # invalid_grant: disabled, signed out there, token revoked
        if exc.error in ("server_error", "temporarily_unavailable"):
            raise ProviderDown(exc.error) from None
        raise GrantEnded(text("staff.provider_ended")) from None
    except RequestException as exc:
        raise ProviderDown(type(exc).__name__) from None
    except (AuthlibBaseError, JoseError, ValueError, TypeError) as exc:
        raise SignInRefused(_why(exc)) from None
    if claims is not None and claims.get("sub") != staff["sub"]:
        raise SignInRefused(text("staff.bad_claims"))
    return _member(claims, config), token.get("refresh_token") or refresh_token


def _member(claims, config):
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
