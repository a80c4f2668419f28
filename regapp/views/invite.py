"""Registration by link (R7–R12): the form an invitation link opens."""

from flask import Blueprint, abort, current_app, render_template, request, session

from regapp import invitations, normalize, otp, passwords, registration, support
from regapp.forms import LinkRegistrationForm
from regapp.rendering import answer_check, render
from regapp.texts import text
from regapp.views.common import client, keep_registration, limit_view, to_code_step

bp = Blueprint("invite", __name__)


def _invitation_or_problem(token):
    invitation, state = invitations.find_invitation(token)
    if state == "expired":
        support.refuse("link_expired", "link", record=invitation.record,
                       client_ip=request.remote_addr)
    if state != "ok":
        page = render_template("invite/problem.html", title=text(f"link.{state}.title"),
                               message=text(f"link.{state}"), state=state)
        abort(current_app.make_response((page, 404 if state == "unknown" else 410)))
    return invitation


def _personal(invitation, form):
    record = invitation.record
    return (record.last_name, record.first_name, record.patronymic, record.policy_number,
            form.phone.data or "")


def _check(invitation, form):
    return registration.check_link_form(
        invitation, form.policy.data, form.phone.data, form.password.data,
        form.confirmation.data, form.consents(), current_app.config["PHONE_REGIONS"],
        current_app.config["HELP_PHONE"])


def _page(invitation, form, hints):
    record = invitation.record
    return render("invite/form.html", "invite/_form.html", form=form, hints=hints,
                  first_name=normalize.display_name(record.first_name),
                  patronymic=normalize.display_name(record.patronymic))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def form(token):
    """The link opens the form (a GET changes nothing, R33); a valid POST sends the code."""
    invitation = _invitation_or_problem(token)
    form = LinkRegistrationForm()
    if not form.is_submitted():
        _as_sent(invitation, form)
    if field := form.checked_field():
        field.validate(form)  # its own rules alone: the check answers for it alone
        _, errors = _check(invitation, form)
        form.apply({name: words for name, words in errors.items() if name == field.name})
        return answer_check(field, lambda: passwords.hints(
            form.password.data or "", _personal(invitation, form)))
    if form.validate_on_submit():
        cleaned, errors = _check(invitation, form)
        support.note_taken(errors, "link", request.remote_addr, record=invitation.record,
                           phone=cleaned.get("phone"))
        if "form" in errors:
            support.refuse("policy_inactive", "link", record=invitation.record,
                           client_ip=request.remote_addr)
        if form.apply(errors) and (pending := _start(invitation, form, cleaned)):
            return to_code_step(pending)
    return _page(invitation, form, passwords.unticked())


def _as_sent(invitation, form):
    """Back from the code step: the form as it was sent, but the passwords, which a page
    never holds (issue 14); the live registration knows the rest."""
    pending = registration.find_pending(session.get("pending"))
    if pending is not None and pending.invitation_id == invitation.id:
        form.policy.data = invitation.record.policy_number
        form.phone.data = normalize.format_phone(pending.phone)
        for kind in ("terms", "pd"):
            getattr(form, kind).data = True


def _start(invitation, form, cleaned):
    """Send the code, or reuse the live registration of the same form sent again: the
    pending registration, or None when the code may not go (said beside the phone)."""
    earlier = registration.find_pending(session.get("pending"))
    if earlier and earlier.invitation_id == invitation.id and earlier.phone == cleaned["phone"]:
        registration.refresh_pending(earlier, cleaned, form.password.data)
        return earlier
    cleaned["esia_id"] = registration.esia_for(invitation.record, session.get("esia_person"))
    try:
        return registration.start_by_link(invitation, cleaned, form.password.data,
                                          current_app.config, client(), then=keep_registration)
    except otp.CodeError as exc:
        form.phone.errors = [str(exc)]
        return None


def init_app(app):
    app.register_blueprint(bp)
    limit_view(app, "invite.form", "10/minute;60/hour", "5/minute;20/hour",
               checks="120/minute;1000/hour")
