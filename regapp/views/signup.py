"""Registration without a link (R13–R17), the code steps of both flows, e-mail confirmation."""

from flask import (
    Blueprint,
    current_app,
    flash,
    render_template,
    request,
    session,
    url_for,
)

from regapp import (
    email_confirmation,
    messaging,
    normalize,
    otp,
    passwords,
    registration,
    self_registration,
)
from regapp.auth import current_account, sign_in_within
from regapp.forms import CodeForm, ConfirmEmailForm, EmailCodeForm, RegistrationForm, ResendForm
from regapp.rendering import (
    answer_check,
    hx_redirect,
    is_fragment_request,
    render,
    render_blank,
)
from regapp.texts import text
from regapp.views.common import (
    client,
    code_step,
    keep_registration,
    limit_view,
    resend_then_show,
    sms_page,
    to_code_step,
)

bp = Blueprint("signup", __name__)
PATRONYMIC_HINT = ("Заполнение обязательно, если отчество указано в Вашем документе, "
                   "удостоверяющем личность")


def _check(form, only=None):
    config = current_app.config
    return self_registration.check_form(form.values(), config["PHONE_REGIONS"],
                                        config["SELF_REGISTRATION_MIN_AGE"], only=only,
                                        estimate_later=only is None)


def _say_understood(form, cleaned):
    """A birth date typed another way (05111978) is said back as it was read (issue 14)."""
    if born := cleaned.get("birth_date"):
        form.birth_date.understood = normalize.spoken_date(born)


def _hints(form):
    return passwords.hints(form.password.data or "", [
        form.last_name.data, form.first_name.data, form.patronymic.data, form.phone.data])


@bp.route("/register", methods=["GET", "POST"])
def form():
    """The registration tab: find the person in the roster, then the SMS code."""
    esia_person = session.get("esia_person")
    if request.method == "GET" and not esia_person:  # a first look: the same for everyone
        return render_blank("signup/form.html", "signup/_form.html",
                            lambda: _form_page(RegistrationForm()))
    form, error = RegistrationForm(), None
    if esia_person and not form.is_submitted():  # R20: names from Gosuslugi
        form.last_name.data = esia_person["last_name"]
        form.first_name.data = esia_person["first_name"]
        form.patronymic.data = esia_person["middle_name"]
    if field := form.checked_field():
        field.validate(form)  # its own rules alone: the check answers for it alone
        cleaned, errors = _check(form, only={field.name})
        form.apply({name: words for name, words in errors.items() if name == field.name})
        _say_understood(form, cleaned)
        return answer_check(field, lambda: _hints(form))
    if form.validate_on_submit():
        cleaned, errors = _check(form)
        _say_understood(form, cleaned)
        self_registration.note_taken(errors, cleaned, client())
        if form.apply(errors):
            try:
                pending = self_registration.start(
                    cleaned, form.password.data, current_app.config, client(),
                    esia_person=esia_person, earlier=_pending(), then=keep_registration)
            except self_registration.NotFound as exc:
                error = str(exc)
            except self_registration.EsiaMismatch as exc:
                session.pop("esia_person", None)  # sent again, it goes on without Gosuslugi
                error = str(exc)
            except self_registration.PasswordRefused as exc:
                form.password.errors = [str(exc)]
            except otp.CodeError as exc:
                form.phone.errors = [str(exc)]
            else:
                keep_registration(pending)  # the same form sent again: kept here
                return to_code_step(pending)
    return render("signup/form.html", "signup/_form.html", **_form_page(form, error))


def _form_page(form, error=None):
    return {"form": form, "error": error, "hints": passwords.unticked(),
            "patronymic_hint": PATRONYMIC_HINT}


def _pending(email_step=False, with_page=False):
    """The live pending registration of this browser, or None (it is forgotten then);
    ``with_page``: with the SMS step page's figures (:func:`registration.find_pending`)."""
    pending = registration.find_pending(session.get("pending"), with_page=with_page)
    if pending is None:
        session.pop("pending", None)
    elif email_step and not pending.email_code_required:
        return None
    return pending


def _code_gone():
    """No live registration here: a signed-in person (Back from the account) goes to the
    account; anyone else starts again where they started, by link or by the form."""
    if current_account() is not None:  # htmx (a second tab's code) loads the account whole
        return hx_redirect(url_for("account.index"))
    restart = session.get("restart") or url_for("signup.form")
    context = {"restart": restart, "by_link": restart.startswith("/invite/")}
    if is_fragment_request():  # an htmx post from a stale tab: its own words, in <main>
        return render_template("signup/_code_gone.html", **context), 200, {
            "HX-Retarget": "#main", "HX-Reswap": "innerHTML"}
    return render_template("signup/code_gone.html", **context), 410


@bp.route("/register/code", methods=["GET", "POST"])
def code():
    """The SMS code step; the state is the pending row, so reloads and tabs lose nothing."""
    pending = _pending(with_page=request.method == "GET")  # a GET only shows the page
    if pending is None:
        return _code_gone()
    if pending.phone_confirmed:  # Back from «Код из письма»: this step is done (issue 14)
        flash(text("signup.phone_confirmed"), "status")
        return hx_redirect(url_for("signup.email_code"))
    form = CodeForm()
    if form.is_submitted() and not form.is_for(pending.id):
        # another tab sent the form again with another number: the live code went there
        form.form_errors.append(text("code.other_tab", phone=normalize.format_phone(pending.phone)))
        return sms_page(pending, form)
    return _enter_code(form, lambda code, then: registration.complete(
        pending, code, current_app.config, then=then), lambda form: sms_page(pending, form))


@bp.post("/register/code/resend")
def resend():
    """Send a new code: 60 s after the last, at most 5 an hour (R28)."""
    pending = _pending()
    if pending is None:
        return _code_gone()
    return resend_then_show(lambda: registration.resend_code(pending, current_app.config),
                             CodeForm(formdata=None),
                             lambda form, notice: sms_page(pending, form, notice))


@bp.route("/register/email-code", methods=["GET", "POST"])
def email_code():
    """R17: the phone differs from the roster's, so the e-mail is confirmed by a code too."""
    pending = _pending(email_step=True)
    if pending is None:
        return _code_gone()
    return _enter_code(EmailCodeForm(), lambda code, then: registration.complete_email(
        pending, code, current_app.config, then=then), lambda form: _email_page(pending, form))


def _enter_code(form, complete, page):
    """A code step: the account opens, this browser signed in by the same transaction
    (``complete(code, then)``), or the e-mail code comes next (R17), or the refusal stands
    beside the code field."""
    def check(code):
        with sign_in_within() as then:
            return complete(code, then)

    return code_step(form, check, _after_code, page)


def _after_code(account):
    if account is None:  # R17: an e-mail code comes next
        return hx_redirect(url_for("signup.email_code"))
    return hx_redirect(url_for("account.index"))


@bp.post("/register/email-code/resend")
def email_resend():
    """Mail a new e-mail code (60 s apart, 5 an hour)."""
    pending = _pending(email_step=True)
    if pending is None:
        return _code_gone()
    return resend_then_show(
        lambda: registration.resend_email_code(pending, current_app.config),
        EmailCodeForm(formdata=None), lambda form, notice: _email_page(pending, form, notice))


@bp.get("/register/code/delivery")
def delivery():
    """htmx polls this while the SMS has not gone: «СМС задерживается» or nothing."""
    pending = _pending()
    state = messaging.code_delivery(pending.phone) if pending is not None else "sent"
    return render_template("signup/_delivery.html", delivery=state)


def _email_page(pending, form, notice=None):
    return render("signup/email_code.html", "signup/_email_code.html", form=form,
                  resend_form=ResendForm(), notice=notice, email=pending.email,
                  wait=otp.seconds_until_resend(pending.email_key, registration.EMAIL_PURPOSE))


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token):
    """R33: opening the link shows a button; only the person's POST confirms."""
    form = ConfirmEmailForm()
    row, state = email_confirmation.find(token)
    if form.validate_on_submit() and state == "ok":
        state = email_confirmation.confirm(token)
    status = {"unknown": 404, "changed": 410, "taken": 409}.get(state, 200)
    message = None if state == "ok" else text(f"confirm.{state}")
    return render_template("signup/confirm_email.html", form=form, state=state,
                           message=message, email=row.account.email if row else None), status


def init_app(app):
    app.register_blueprint(bp)
    limit_view(app, "signup.form", "10/minute;60/hour", "5/minute;20/hour",
               checks="120/minute;1000/hour")
    for endpoint in ("signup.code", "signup.email_code"):
        limit_view(app, endpoint, "20/minute;100/hour")
    for endpoint in ("signup.resend", "signup.email_resend"):
        limit_view(app, endpoint, "5/minute;30/hour")
