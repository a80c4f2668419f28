"""The personal account (R23): the page, notification settings, changing phone or e-mail."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from regapp import (
    auth,
    checks,
    consents,
    contact_change,
    email_confirmation,
    messaging,
    normalize,
    otp,
    passwords,
    sessions,
)
from regapp.auth import current_account, login_required
from regapp.db import write_transaction
from regapp.forms import (
    ActionForm,
    ChangePasswordForm,
    CodeForm,
    EmailCodeForm,
    Form,
    LogoutForm,
    ReauthForm,
    ResendForm,
)
from regapp.rendering import answer_check, hx_redirect, is_fragment_request, render
from regapp.texts import text
from regapp.views.common import client, code_step, limit_view, not_counted, resend_then_show
from regapp.widgets import PasswordField, StringField, SubmitField

bp = Blueprint("account", __name__, url_prefix="/account")
CONTACT_LABELS = {"phone": "Новый номер мобильного телефона", "email": "Новый E-mail"}


@bp.get("")
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
        phone=normalize.format_phone(account.phone), reauth_form=ReauthForm(),
        sessions=_sessions(account), **_notifications(account))


def _sessions(account):
    current = session.row.id if getattr(session, "row", None) else None
    return [{"public_id": row.public_id, "device": _device(row.user_agent),
             "address": row.client_ip or "—", "seen": row.last_seen_at, "here": row.id == current}
            for row in sessions.of_account(account, current_app.config)]


def _device(user_agent):
    """A browser in words a person recognises (not the whole User-Agent)."""
    browsers = (("Edg/", "Edge"), ("YaBrowser", "Яндекс Браузер"), ("Firefox", "Firefox"),
                ("Chrome", "Chrome"), ("Safari", "Safari"))
    systems = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
               ("Windows", "Windows"), ("Mac OS", "macOS"), ("Linux", "Linux"))
    browser = next((name for mark, name in browsers if mark in user_agent), "Браузер")
    system = next((name for mark, name in systems if mark in user_agent), "")
    return f"{browser}, {system}" if system else browser


@bp.post("/sessions/<public_id>/end")
@login_required
def end_session(public_id):
    """«Завершить»: end one of the account's other sessions."""
    if ActionForm().validate_on_submit():
        sessions.end(current_account(), public_id)
        flash(text("account.session_ended"), "status")
    return redirect(url_for("account.index"), code=303)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """A new password behind the current one; the owner is told, other sessions end."""
    account, form = current_account(), ChangePasswordForm()
    record = account.record
    context = [account.phone, record.last_name, record.first_name, record.patronymic,
               record.policy_number]
    errors = {}
    checks.new_password(errors, form.password.data, form.confirmation.data, context)
    if field := form.checked_field():
        form.apply({name: words for name, words in errors.items() if name == field.name})
        return answer_check(field, lambda: passwords.hints(form.password.data or "", context))
    if form.validate_on_submit():
        try:
            auth.confirm_password(account, form.current.data, request.remote_addr)
        except auth.SignInRefused as exc:
            form.current.errors = [str(exc)]
        else:
            if form.apply(errors):
                auth.change_password(account, form.password.data)
                flash(text("account.password_changed"), "status")
                return redirect(url_for("account.index"), code=303)
    return render_template("account/password.html", form=form, hints=passwords.unticked())


def _notifications(account):
    return {"marketing": consents.marketing_state(account), "channels": consents.CHANNELS,
            "toggle_form": ActionForm(), "email_confirmed": bool(account.email_confirmed)}


@bp.post("/notifications/<channel>")
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


@bp.post("/email/resend")
@login_required
def resend_confirmation():
    """Mail the confirmation link again to an unconfirmed address (R23)."""
    account = current_account()
    if ActionForm().validate_on_submit() and email_confirmation.sent_just_now(account):
        flash(text("account.link_sent_recently", email=account.email), "status")
        not_counted()  # pressed again at once: the link is on its way
    elif ActionForm().validate_on_submit() and not account.email_confirmed:
        with write_transaction():
            message = email_confirmation.queue_link(account)
        messaging.dispatch([message.id])
        flash(text("account.link_sent", email=account.email), "status")
    return redirect(url_for("account.index"), code=303)


class NewContactForm(Form):
    value = StringField()
    password = PasswordField("Текущий пароль", render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Получить код")


@bp.route("/<kind>", methods=["GET", "POST"])
@login_required
def change_contact(kind):
    """Ask for the new phone or e-mail and send it a code."""
    if kind not in contact_change.KINDS:
        abort(404)
    form = NewContactForm()
    form.value.label.text = CONTACT_LABELS[kind]
    if form.validate_on_submit() and not _own_contact(form, kind):
        try:  # a borrowed session must not change where the codes go (issue 12)
            auth.confirm_password(current_account(), form.password.data, request.remote_addr)
        except auth.SignInRefused as exc:
            form.password.errors = [str(exc)]
            return render_template("account/change.html", form=form, kind=kind)
        try:
            value, target = contact_change.check(kind, form.value.data,
                                                 current_app.config["PHONE_REGIONS"])
            contact_change.send_code(kind, value, target, current_app.config)
        except (normalize.Invalid, otp.CodeError) as exc:
            form.value.errors = [str(exc)]
        else:
            session["contact_change"] = {"kind": kind, "value": value, "target": target}
            return redirect(url_for("account.contact_code", kind=kind), code=303)
    return render_template("account/change.html", form=form, kind=kind)


def _own_contact(form, kind):
    """The current phone or e-mail typed as the new one: said plainly, before the password
    is asked, and not counted against the limit (issue 14)."""
    if not contact_change.is_current(current_account(), kind, form.value.data,
                                     current_app.config["PHONE_REGIONS"]):
        return False
    form.value.errors = [text(f"{kind}.current")]
    not_counted()
    return True


@bp.route("/<kind>/code", methods=["GET", "POST"])
@login_required
def contact_code(kind):
    """Enter the code sent to the new contact."""
    pending = session.get("contact_change")
    if not pending or pending["kind"] != kind:
        return redirect(url_for("account.change_contact", kind=kind), code=303)
    def changed(_):
        session.pop("contact_change", None)
        auth.end_other_sessions(current_account())
        flash(text(f"account.{kind}_changed"), "status")
        return hx_redirect(url_for("account.index"))

    return code_step(CodeForm() if kind == "phone" else EmailCodeForm(),
                     lambda code: contact_change.confirm(
                         current_account(), kind, pending["value"], pending["target"], code,
                         current_app.config),
                     changed, lambda form: _change_code_page(kind, pending, form))


@bp.post("/<kind>/code/resend")
@login_required
def contact_resend(kind):
    """A new code to the new contact: 60 s after the last, at most 5 an hour (R28)."""
    pending = session.get("contact_change")
    if not pending or pending["kind"] != kind:
        return redirect(url_for("account.change_contact", kind=kind), code=303)
    form = CodeForm(formdata=None) if kind == "phone" else EmailCodeForm(formdata=None)
    return resend_then_show(
        lambda: contact_change.send_code(kind, pending["value"], pending["target"],
                                         current_app.config),
        form, lambda form, notice: _change_code_page(kind, pending, form, notice))


def _change_code_page(kind, pending, form, notice=None):
    shown = normalize.format_phone(pending["value"]) if kind == "phone" else pending["value"]
    return render(
        "account/change_code.html", "account/_change_code.html", kind=kind, shown=shown,
        form=form, notice=notice,
        resend_form=ResendForm(),
        wait=otp.seconds_until_resend(pending["target"], contact_change.KINDS[kind]))


def init_app(app):
    app.register_blueprint(bp)
    limit_view(app, "account.resend_confirmation", "3/minute;10/hour")
    limit_view(app, "account.change_password", "5/minute;20/hour", checks="120/minute;1000/hour")
    limit_view(app, "account.change_contact", "5/minute;20/hour")
    limit_view(app, "account.contact_code", "20/minute;100/hour")
    limit_view(app, "account.contact_resend", "5/minute;30/hour")
