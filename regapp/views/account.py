"""Sign-in, sign-out and the personal account page (R23)."""

import functools

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from regapp import consents, email_confirmation, messaging, normalize, passwords, throttle
from regapp.db import database
from regapp.forms import ActionForm, LoginForm, LogoutForm
from regapp.models import Account
from regapp.rendering import is_fragment_request, render
from regapp.views.common import client, limit_view, sign_in

bp = Blueprint("account", __name__)

WRONG_LOGIN = "Неверный номер телефона или пароль"
LOCKED = ("Слишком много неудачных попыток входа. Попробуйте через {minutes} мин. "
          "или восстановите пароль по СМС («Забыли пароль?»)")
#: compared against when no account has the phone, so both answers take as long
_DUMMY_HASH = passwords.hash_password("no account has this password")


def current_account():
    """The signed-in account, or None."""
    if "account" not in g:
        account_id = session.get("account_id")
        account = Account.get_or_none(Account.id == account_id) if account_id else None
        if account is not None and session.get("epoch") != account.session_epoch:
            session.clear()  # signed out everywhere since this session began
            account = None
        g.account = account
    return g.account


def sign_out_everywhere(account):
    """End every session of ``account``, this one included."""
    Account.update(session_epoch=Account.session_epoch + 1).where(
        Account.id == account.id).execute()


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_account() is None:
            return redirect(url_for("account.login"), code=303)
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in by mobile phone and password; one message whatever was wrong."""
    form, error = LoginForm(), None
    if form.validate_on_submit():
        phone = _typed_phone(form.phone.data)
        attempt = throttle.keys(phone, request.remote_addr)
        if wait := throttle.wait_seconds(attempt):
            error = LOCKED.format(minutes=max(1, (wait + 59) // 60))
        else:
            account = Account.get_or_none(Account.phone == phone) if phone else None
            stored = account.password_hash if account else _DUMMY_HASH
            if passwords.verify_password(stored, form.password.data or "") and account:
                throttle.succeeded(attempt)
                sign_in(account)
                return redirect(url_for("account.index"), code=303)
            throttle.failed(attempt)
            error = WRONG_LOGIN
    return render_template("auth/login.html", form=form, error=error)


def _typed_phone(text):
    try:
        return normalize.normalize_phone(text, current_app.config["PHONE_REGIONS"])
    except normalize.Invalid:
        return None


@bp.post("/logout")
def logout():
    """Sign out (a POST with CSRF)."""
    if LogoutForm().validate_on_submit():
        session.clear()
    return redirect(url_for("pages.index"), code=303)


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    """Sign out on every device (R28 hardening, issue 6)."""
    if ActionForm().validate_on_submit():
        sign_out_everywhere(current_account())
        session.clear()
    return redirect(url_for("pages.index"), code=303)


@bp.get("/account")
@login_required
def index():
    """The personal account: who, which policy, how to reach them, what they allow."""
    account = current_account()
    record = account.record
    return render_template(
        "account/index.html", account=account, record=record, logout_form=LogoutForm(),
        first_name=normalize.display_name(record.first_name),
        full_name=" ".join(normalize.display_name(p) for p in
                           (record.last_name, record.first_name, record.patronymic) if p),
        phone=normalize.format_phone(account.phone), **_notifications(account))


def _notifications(account):
    return {"marketing": consents.marketing_state(account), "channels": consents.CHANNELS,
            "toggle_form": ActionForm()}


@bp.post("/account/notifications/<channel>")
@login_required
def notifications(channel):
    """Turn marketing on or off for one channel; takes effect at once (R11)."""
    if channel not in consents.CHANNELS:
        abort(404)
    account = current_account()
    if ActionForm().validate_on_submit():
        consents.set_marketing(account, channel, request.form.get("granted") == "1", client())
    if is_fragment_request():
        return render("account/index.html", "account/_notifications.html", **_notifications(account))
    return redirect(url_for("account.index"), code=303)


@bp.post("/account/email/resend")
@login_required
def resend_confirmation():
    """Mail the confirmation link again to an unconfirmed address (R23)."""
    account = current_account()
    if ActionForm().validate_on_submit() and not account.email_confirmed:
        with database.atomic():
            message = email_confirmation.queue_link(account)
        messaging.dispatch([message.id])
        flash(f"Ссылка для подтверждения отправлена на {account.email}", "status")
    return redirect(url_for("account.index"), code=303)


def init_limits(app):
    """Sign-in attempts per address and per phone (R28)."""
    limit_view(app, "account.login", "20/minute;200/hour", "10/minute;50/hour")
    limit_view(app, "account.resend_confirmation", "3/minute;10/hour")
