"""Gosuslugi (R19–R21): the banner's round trip, sign-in, and linking from the account."""

import logging
import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from peewee import IntegrityError

from regapp import auth, invitations, messaging, notifications, registration
from regapp.adapters import EsiaError
from regapp.auth import current_account, login_required, sign_in
from regapp.db import write_transaction
from regapp.esia import protocol as wire
from regapp.forms import ReauthForm
from regapp.models import Account
from regapp.texts import text

bp = Blueprint("esia", __name__, url_prefix="/esia")
log = logging.getLogger("regapp.esia")



def provider():
    """The configured ESIA provider; the pages do not exist without one."""
    chosen = current_app.extensions["regapp.adapters"].esia
    if chosen is None:
        abort(404)
    return chosen


def redirect_uri():
    return current_app.config["PUBLIC_URL"] + url_for("esia.back")


def origin(journey):
    """Where the person came from, to return to."""
    return {"register": url_for("signup.form"),
            "invite": url_for("invite.form", token=journey.get("token") or "-"),
            "login": url_for("signin.login"),
            "link": url_for("account.index")}[journey["purpose"]]


@bp.get("/start/<purpose>")
def start(purpose):
    """Send the person to Gosuslugi to register or sign in; remember why."""
    if purpose not in ("register", "invite", "login"):
        abort(404)
    return _to_esia(purpose, request.args.get("token"))


@bp.post("/start/link")
@login_required
def start_link():
    """Linking asks for the password again first: a borrowed session cannot (issue 12)."""
    if not _password_confirmed():
        return redirect(url_for("account.index"), code=303)
    return _to_esia("link")


def _to_esia(purpose, token=None):
    state = str(uuid.uuid4())
    session["esia"] = {"state": state, "purpose": purpose, "token": token}
    return redirect(provider().authorization_url(state, redirect_uri()), code=303)


def _password_confirmed():
    form = ReauthForm()
    if not form.validate_on_submit():
        return False
    try:
        auth.confirm_password(current_account(), form.password.data, request.remote_addr)
    except auth.SignInRefused as exc:
        flash(str(exc), "error")
        return False
    return True


def _tell(account, kind):
    """The phone and the confirmed e-mail are told; other sessions end (issue 12)."""
    with write_transaction():
        told = notifications.contact_changed(
            account.phone, account.email if account.email_confirmed else None, kind)
    messaging.dispatch([m.id for m in told])
    auth.end_other_sessions(account)


@bp.get("/back")
def back():
    """ESIA sends the person back here with a code, or with an error."""
    journey = session.pop("esia", None)
    if not journey or request.args.get("state") != journey["state"]:
        flash(text("esia.expired"), "error")
        return redirect(url_for("pages.index"), code=303)
    if request.args.get("error"):
        code = wire.error_code(request.args.get("error_description"))
        words = (text(f"esia.declined.{_place(journey)}") if code == "007004"
                 else text(f"esia.failed.{_place(journey)}", code=f"ESIA-{code}"))
        flash(words, "error")
        return redirect(origin(journey), code=303)
    try:
        person = provider().fetch_person(request.args.get("code", ""), redirect_uri())
    except EsiaError as exc:
        log.warning("ESIA round trip failed: %s", exc)
        flash(text(f"esia.failed.{_place(journey)}",
                   code=f"ESIA-{exc.code}" if exc.code else "нет ответа"), "error")
        return redirect(origin(journey), code=303)
    return ARRIVALS[journey["purpose"]](journey, person)


def _place(journey):
    """Where the person set off from, for words that fit it (issue 14)."""
    return {"invite": "register"}.get(journey["purpose"], journey["purpose"])


def _person(person):
    return {"oid": person.oid, "last_name": person.last_name, "first_name": person.first_name,
            "middle_name": person.middle_name, "birth_date": person.birth_date}


def _arrive_to_register(journey, person):
    """Keep ESIA's person for the form, unless it can never be linked: said now, not later."""
    session.pop("esia_person", None)
    help_phone = current_app.config["HELP_PHONE"]
    if not person.trusted:
        flash(text("esia.untrusted"), "error")
    elif Account.select().where(Account.esia_id == person.oid).exists():
        flash(text("esia.taken_go_on"), "error")
    elif journey["purpose"] == "invite" and not _invited_person(journey, person):
        flash(text("esia.mismatch", help_phone=help_phone), "error")
    else:
        session["esia_person"] = _person(person)  # the form's banner says so, once
    return redirect(origin(journey), code=303)


def _invited_person(journey, person):
    invitation, state = invitations.find_invitation(journey.get("token") or "")
    return state == "ok" and registration.esia_for(invitation.record, _person(person))


def _arrive_to_login(journey, person):
    account = Account.get_or_none(Account.esia_id == person.oid)
    if account is None:
        flash(text("esia.no_account"), "error")
        return redirect(url_for("signin.login"), code=303)
    sign_in(account)
    return redirect(url_for("account.index"), code=303)


def _arrive_to_link(journey, person):
    account = current_account()
    if account is None:
        return redirect(url_for("signin.login"), code=303)
    if not person.trusted:
        flash(text("esia.untrusted"), "error")
        return redirect(url_for("account.index"), code=303)
    if not registration.esia_for(account.record, _person(person)):
        flash(text("esia.mismatch_link", help_phone=current_app.config["HELP_PHONE"]), "error")
        return redirect(url_for("account.index"), code=303)
    try:
        Account.update(esia_id=person.oid).where(Account.id == account.id).execute()
    except IntegrityError:
        flash(text("esia.taken"), "error")
    else:
        _tell(account, "esia_link")
        flash(text("esia.linked"), "status")
    return redirect(url_for("account.index"), code=303)


ARRIVALS = {"register": _arrive_to_register, "invite": _arrive_to_register,
            "login": _arrive_to_login, "link": _arrive_to_link}


@bp.post("/unlink")
@login_required
def unlink():
    """Unlink Gosuslugi from the account (a POST with CSRF)."""
    if _password_confirmed():
        account = current_account()
        Account.update(esia_id=None).where(Account.id == account.id).execute()
        _tell(account, "esia_unlink")
        flash(text("esia.unlinked"), "status")
    return redirect(url_for("account.index"), code=303)


def init_app(app):
    app.register_blueprint(bp)

    @app.context_processor
    def _esia():
        return {"esia_enabled": app.extensions["regapp.adapters"].esia is not None}
