"""Registration without a link (R13–R17): the form, the e-mail code, e-mail confirmation."""

from flask import Blueprint, abort, current_app, render_template, session, url_for

from regapp import email_confirmation, otp, passwords, registration, self_registration
from regapp.forms import ConfirmEmailForm, EmailCodeForm, RegistrationForm, ResendForm
from regapp.rendering import hx_redirect, render
from regapp.views.common import client, limit_view, sign_in
from regapp.views.register import resend_then_show

bp = Blueprint("selfreg", __name__)
PATRONYMIC_HINT = ("Заполнение обязательно, если отчество указано в Вашем документе, "
                   "удостоверяющем личность")


def _check(form):
    config = current_app.config
    return self_registration.check_form(form.values(), config["PHONE_REGIONS"],
                                        config["SELF_REGISTRATION_MIN_AGE"])


def _page(form, error=None):
    hints = passwords.hints(form.password.data or "",
                            [form.last_name.data, form.first_name.data, form.patronymic.data,
                             form.phone.data])
    return render("register/register.html", "register/_register_form.html", form=form,
                  error=error, hints=hints, patronymic_hint=PATRONYMIC_HINT)


@bp.route("/register", methods=["GET", "POST"])
def register():
    """The registration tab: find the person in the roster, then the SMS code."""
    form, error = RegistrationForm(), None
    esia_person = session.get("esia_person")
    if esia_person and not form.is_submitted():  # R20: names from Gosuslugi
        form.last_name.data = esia_person["last_name"]
        form.first_name.data = esia_person["first_name"]
        form.patronymic.data = esia_person["middle_name"]
    if form.validate_on_submit():
        cleaned, errors = _check(form)
        self_registration.note_taken(errors, cleaned, client())
        if form.apply(errors):
            try:
                pending = self_registration.start(cleaned, form.password.data,
                                                  current_app.config, client(),
                                                  esia_person=esia_person)
            except self_registration.NotFound as exc:
                error = str(exc)
            except otp.CodeError as exc:
                form.phone.errors = [str(exc)]
            else:
                session["pending"] = pending.id
                return hx_redirect(url_for("register.code"))
    return _page(form, error)


@bp.post("/register/check/<field>")
def check(field):
    """htmx: check one field as it loses focus, through the same form and rules."""
    form = RegistrationForm()
    if field not in ("last_name", "first_name", "patronymic", "birth_date", "phone", "email",
                     "password", "confirmation"):
        abort(404)
    form.validate()
    _, errors = _check(form)
    form.apply({name: msg for name, msg in errors.items() if name == field})
    return render_template("register/_field_error.html", field=getattr(form, field))


@bp.post("/register/hints")
def hints():
    """htmx: the password hints as the person types."""
    form = RegistrationForm()
    return render_template("register/_hints.html", hints=passwords.hints(
        form.password.data or "", [form.last_name.data, form.first_name.data,
                                   form.patronymic.data, form.phone.data]))


def _pending():
    pending = registration.find_pending(session.get("pending"))
    if pending is None or not pending.email_code_required:
        return None
    return pending


@bp.route("/register/email-code", methods=["GET", "POST"])
def email_code():
    """R17: the phone differs from the roster's, so the e-mail is confirmed by a code too."""
    pending = _pending()
    if pending is None:
        return render_template("register/code_gone.html"), 410
    form, notice = EmailCodeForm(), None
    if form.validate_on_submit():
        try:
            account = registration.complete_email(pending, form.code.data, current_app.config)
        except (otp.CodeError, registration.Refused) as exc:
            form.code.errors = [str(exc)]
        else:
            sign_in(account, notify_new_device=False)
            return hx_redirect(url_for("account.index"))
    return _email_page(pending, form, notice)


@bp.post("/register/email-code/resend")
def email_resend():
    """Mail a new e-mail code (60 s apart, 5 an hour)."""
    pending = _pending()
    if pending is None:
        return render_template("register/code_gone.html"), 410
    return resend_then_show(lambda: registration.resend_email_code(pending, current_app.config),
                            EmailCodeForm(formdata=None),
                            lambda form, notice: _email_page(pending, form, notice))


def _email_page(pending, form, notice):
    return render("register/email_code.html", "register/_email_code_form.html", form=form,
                  resend_form=ResendForm(), notice=notice, email=pending.email,
                  wait=otp.seconds_until_resend(pending.email_key))


CONFIRM_STATES = {
    "ok": None,
    "confirmed": "E-mail подтверждён. Спасибо!",
    "used": "Этот E-mail уже подтверждён по этой ссылке.",
    "changed": "Ссылка относится к адресу, который в профиле уже заменён.",
    "unknown": "Ссылка не работает: откройте её из письма целиком.",
}


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token):
    """R33: opening the link shows a button; only the person's POST confirms."""
    form = ConfirmEmailForm()
    row, state = email_confirmation.find(token)
    if form.validate_on_submit() and state == "ok":
        state = email_confirmation.confirm(token)
    status = {"unknown": 404, "changed": 410}.get(state, 200)
    return render_template("register/confirm_email.html", form=form, state=state,
                           message=CONFIRM_STATES[state],
                           email=row.account.email if row else None), status


def init_limits(app):
    """Limits on the steps that send or check codes (R28)."""
    limit_view(app, "selfreg.register", "10/minute;60/hour", "5/minute;20/hour")
    limit_view(app, "selfreg.email_code", "20/minute;100/hour")
    limit_view(app, "selfreg.email_resend", "5/minute;30/hour")
