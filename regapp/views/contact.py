"""Change phone or e-mail from the personal account (issue 6)."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField

from regapp import contact_change, normalize, otp, registration
from regapp.forms import CodeForm, EmailCodeForm
from regapp.views.account import current_account, login_required
from regapp.views.common import limit_view

bp = Blueprint("contact", __name__, url_prefix="/account")
LABELS = {"phone": ("Новый номер мобильного телефона", "Код из СМС", "Телефон изменён."),
          "email": ("Новый E-mail", "Код из письма", "E-mail изменён и подтверждён.")}


class NewContactForm(FlaskForm):
    value = StringField()
    submit = SubmitField("Получить код")


@bp.route("/<kind>", methods=["GET", "POST"])
@login_required
def change(kind):
    """Ask for the new phone or e-mail and send it a code."""
    if kind not in contact_change.KINDS:
        abort(404)
    form = NewContactForm()
    form.value.label.text = LABELS[kind][0]
    if form.validate_on_submit():
        try:
            value, target = contact_change.check(kind, form.value.data,
                                                 current_app.config["PHONE_REGIONS"])
            contact_change.send_code(kind, value, target, current_app.config)
        except (normalize.Invalid, otp.CodeError) as exc:
            form.value.errors = [str(exc)]
        else:
            session["contact_change"] = {"kind": kind, "value": value, "target": target}
            return redirect(url_for("contact.code", kind=kind), code=303)
    return render_template("account/change.html", form=form, kind=kind)


@bp.route("/<kind>/code", methods=["GET", "POST"])
@login_required
def code(kind):
    """Enter the code sent to the new contact."""
    pending = session.get("contact_change")
    if not pending or pending["kind"] != kind:
        return redirect(url_for("contact.change", kind=kind), code=303)
    form = CodeForm() if kind == "phone" else EmailCodeForm()
    if form.validate_on_submit():
        try:
            contact_change.confirm(current_account(), kind, pending["value"], pending["target"],
                                   form.code.data, current_app.config)
        except (otp.CodeError, registration.Refused) as exc:
            form.code.errors = [str(exc)]
        else:
            session.pop("contact_change", None)
            flash(LABELS[kind][2], "status")
            return redirect(url_for("account.index"), code=303)
    return render_template("account/change_code.html", form=form, value=pending["value"])


def init_app(app):
    app.register_blueprint(bp)
    limit_view(app, "contact.change", "5/minute;20/hour")
    limit_view(app, "contact.code", "20/minute;100/hour")
