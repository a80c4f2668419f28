"""«Забыли пароль?» (R24): phone, SMS code, new password, signed in."""

from flask import Blueprint, current_app, redirect, render_template, session, url_for

from regapp import normalize, otp, passwords, recovery
from regapp.auth import sign_in
from regapp.forms import ForgotForm, NewPasswordForm
from regapp.rendering import answer_check
from regapp.views.common import limit_view

bp = Blueprint("recovery", __name__, url_prefix="/login/forgot")


@bp.route("", methods=["GET", "POST"])
def forgot():
    """Ask for the phone; the answer never tells whether it has an account."""
    form = ForgotForm()
    if form.validate_on_submit():
        try:
            phone = normalize.normalize_phone(form.phone.data, current_app.config["PHONE_REGIONS"])
        except normalize.Invalid as exc:
            form.phone.errors = [str(exc)]
        else:
            recovery.send_code(phone, current_app.config)
            session["recovery_phone"] = phone
            return redirect(url_for("recovery.new_password"), code=303)
    return render_template("recovery/forgot.html", form=form)


@bp.route("/code", methods=["GET", "POST"])
def new_password():
    """The code and the new password, checked by the same policy as at registration."""
    phone = session.get("recovery_phone")
    if not phone:
        return redirect(url_for("recovery.forgot"), code=303)
    form = NewPasswordForm()
    if field := form.checked_field():
        return answer_check(field, lambda: passwords.hints(form.password.data or "", [phone]))
    if form.validate_on_submit():
        try:
            account = recovery.reset(phone, form.code.data, form.password.data,
                                     form.confirmation.data, current_app.config)
        except recovery.PasswordRefused as exc:
            getattr(form, exc.field).errors = [str(exc)]
        except otp.CodeError as exc:
            form.code.errors = [str(exc)]
        else:
            sign_in(account)
            return redirect(url_for("account.index"), code=303)
    return render_template("recovery/new_password.html", form=form,
                           phone=normalize.format_phone(phone), hints=passwords.unticked())


def init_app(app):
    app.register_blueprint(bp)
    limit_view(app, "recovery.forgot", "5/minute;30/hour", "3/minute;10/hour")
    limit_view(app, "recovery.new_password", "20/minute;100/hour", checks="120/minute;1000/hour")
