"""Registration by link (R7–R12): the link's form, the SMS code step."""

from flask import (
    Blueprint,
    abort,
    current_app,
    render_template,
    request,
    session,
    url_for,
)

from regapp import invitations, normalize, otp, passwords, registration, support
from regapp.forms import CodeForm, LinkRegistrationForm, ResendForm
from regapp.rendering import hx_redirect, render
from regapp.views.common import client, limit_view, sign_in

bp = Blueprint("register", __name__)

LINK_PROBLEMS = {
    "unknown": ("Ссылка не работает",
                "Ссылка неполная или в ней ошибка. Откройте её из письма целиком или попросите новую."),
    "expired": ("Срок действия ссылки истёк",
                "Ссылка больше не действует. Позвоните нам — мы отправим новую."),
    "revoked": ("Эта ссылка заменена новой",
                "Мы отправили вам новое письмо со ссылкой. Откройте ссылку из последнего письма."),
    "spent": ("Вы уже зарегистрированы",
              "Регистрация по этой ссылке завершена. Войдите с номером телефона и паролем."),
}


def _invitation_or_problem(token):
    invitation, state = invitations.find_invitation(token)
    if state == "expired":
        support.refuse("link_expired", "link", record=invitation.record,
                       client_ip=request.remote_addr)
    if state != "ok":
        title, text = LINK_PROBLEMS[state]
        page = render_template("register/link_problem.html", title=title, text=text, state=state)
        abort(current_app.make_response((page, 410 if state != "unknown" else 404)))
    return invitation


def _context(invitation, form):
    record = invitation.record
    return {"form": form, "invitation": invitation, "token": request.view_args["token"],
            "first_name": normalize.display_name(record.first_name),
            "patronymic": normalize.display_name(record.patronymic),
            "hints": passwords.hints(form.password.data or "", _personal(invitation, form))}


def _personal(invitation, form):
    record = invitation.record
    return (record.last_name, record.first_name, record.patronymic, record.policy_number,
            form.phone.data or "")


def _check(invitation, form):
    cleaned, errors = registration.check_link_form(
        invitation, form.policy.data, form.phone.data, form.password.data,
        form.confirmation.data, form.consents(), current_app.config["PHONE_REGIONS"])
    return cleaned, errors


@bp.get("/invite/<token>")
def link_form(token):
    """The link opens the form; opening it changes nothing (R33)."""
    invitation = _invitation_or_problem(token)
    form = LinkRegistrationForm()
    return render("register/link.html", "register/_link_form.html", **_context(invitation, form))


@bp.post("/invite/<token>")
def link_submit(token):
    """Check the form; on success send the code and go to the code step."""
    invitation = _invitation_or_problem(token)
    form = LinkRegistrationForm()
    if form.validate_on_submit():
        cleaned, errors = _check(invitation, form)
        support.note_taken(errors, "link", request.remote_addr, record=invitation.record,
                           phone=cleaned.get("phone"))
        if form.apply(errors):
            earlier = registration.find_pending(session.get("pending"))
            if earlier and earlier.invitation_id == invitation.id and earlier.phone == cleaned["phone"]:
                registration.refresh_pending(earlier, cleaned, form.password.data)
                return hx_redirect(url_for("register.code"))
            cleaned["esia_id"] = registration.esia_for(invitation.record,
                                                       session.get("esia_person"))
            try:
                pending = registration.start_by_link(
                    invitation, cleaned, form.password.data, current_app.config, client())
            except otp.CodeError as exc:
                form.phone.errors = [str(exc)]
            else:
                session["pending"] = pending.id
                return hx_redirect(url_for("register.code"))
    return render("register/link.html", "register/_link_form.html", **_context(invitation, form))


@bp.post("/invite/<token>/check/<field>")
def link_check(token, field):
    """htmx: check one field as it loses focus, with the same form and rules as the submit."""
    invitation = _invitation_or_problem(token)
    form = LinkRegistrationForm()
    if field not in ("policy", "phone", "password", "confirmation"):
        abort(404)
    form.validate()
    _, errors = _check(invitation, form)
    form.apply({name: msg for name, msg in errors.items() if name == field})
    return render_template("register/_field_error.html", field=getattr(form, field))


@bp.post("/invite/<token>/hints")
def link_hints(token):
    """htmx: the password hints, ticked as the person types."""
    invitation = _invitation_or_problem(token)
    form = LinkRegistrationForm()
    return render_template("register/_hints.html", **_context(invitation, form))


def _pending_or_restart():
    pending = registration.find_pending(session.get("pending"))
    if pending is None:
        session.pop("pending", None)
    return pending


@bp.route("/register/code", methods=["GET", "POST"])
def code():
    """The SMS code step; the state is the pending row, so reloads and tabs lose nothing."""
    pending = _pending_or_restart()
    if pending is None:
        return render_template("register/code_gone.html"), 410
    form = CodeForm()
    if form.validate_on_submit():
        try:
            account = registration.complete(pending, form.code.data, current_app.config)
        except otp.CodeError as exc:
            form.code.errors = [str(exc)]
        except registration.Refused as exc:
            form.code.errors = [str(exc)]
        else:
            if account is None:  # R17: an e-mail code comes next
                return hx_redirect(url_for("selfreg.email_code"))
            sign_in(account, notify_new_device=False)
            return hx_redirect(url_for("account.index"))
    return _code_page(pending, form)


@bp.post("/register/code/resend")
def resend():
    """Send a new code: 60 s after the last, at most 5 an hour (R28)."""
    pending = _pending_or_restart()
    if pending is None:
        return render_template("register/code_gone.html"), 410
    return resend_then_show(lambda: registration.resend_code(pending, current_app.config),
                            CodeForm(formdata=None), lambda form, notice: _code_page(pending, form, notice))


def resend_then_show(send, form, page):
    """Send a new code and show the step again; a limit's message goes beside the code field."""
    notice = None
    if ResendForm().validate_on_submit():
        try:
            send()
            notice = "Новый код отправлен"
        except otp.CodeError as exc:
            form.code.errors = [str(exc)]
    return page(form, notice)


def _code_page(pending, form, notice=None):
    return render("register/code.html", "register/_code_form.html", form=form,
                  resend_form=ResendForm(), notice=notice,
                  phone=normalize.format_phone(pending.phone),
                  wait=otp.seconds_until_resend(pending.phone))


def init_limits(app):
    """Limits on every step that sends or checks a code, per address and per phone (R28)."""
    limit_view(app, "register.link_submit", "10/minute;60/hour", "5/minute;20/hour")
    limit_view(app, "register.code", "20/minute;100/hour")
    limit_view(app, "register.resend", "5/minute;30/hour")
