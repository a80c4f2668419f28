"""What several views share: the client for consent records, signing in, rate-limit keys."""

import secrets

from flask import after_this_request, current_app, request, session

from regapp import devices
from regapp.registration import Client


def client():
    """The person's address and browser, for the consent record (R11)."""
    return Client(ip=request.remote_addr, user_agent=request.headers.get("User-Agent", "")[:500])


def sign_in(account, notify_new_device=True):
    """Start a fresh session for ``account`` (renewed at sign-in, R28); note the device."""
    session.clear()
    session["account_id"] = account.id
    session["epoch"] = account.session_epoch
    session.permanent = False
    token = request.cookies.get(devices.COOKIE) or secrets.token_urlsafe(24)
    devices.note(account, token, current_app.config, notify=notify_new_device)

    @after_this_request
    def _keep_device(response):
        response.set_cookie(devices.COOKIE, token, max_age=devices.COOKIE_AGE, httponly=True,
                            secure=current_app.config["SESSION_COOKIE_SECURE"], samesite="Lax")
        return response


def phone_key():
    """Rate-limit key: the phone typed in the form, else the client address."""
    return (request.form.get("phone") or "").strip() or request.remote_addr or "?"


def limit_view(app, endpoint, by_address, by_phone=None):
    """Rate-limit POSTs to ``endpoint`` per client address and, if given, per typed phone.

    Flask-Limiter checks a decorated limit inside its wrapper, so the wrapper
    replaces the registered view.
    """
    limiter = app.extensions["regapp.limiter"]
    view = limiter.limit(by_address, methods=["POST"])(app.view_functions[endpoint])
    if by_phone:
        view = limiter.limit(by_phone, key_func=phone_key, methods=["POST"])(view)
    app.view_functions[endpoint] = view
