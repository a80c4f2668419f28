"""Sign-in and sign-out (R23); the state itself lives in :mod:`regapp.auth`."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from regapp import auth
from regapp.forms import ActionForm, LoginForm, LogoutForm
from regapp.texts import text
from regapp.views.common import limit_view

bp = Blueprint("signin", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in by mobile phone and password; one message whatever was wrong."""
    if request.method == "GET" and auth.signed_in_here():
        return redirect(url_for("account.index"), code=303)  # already in (issue 14)
    form, error = LoginForm(), None
    if form.validate_on_submit():
        try:
            account = auth.check_password(form.phone.data, form.password.data,
                                          request.remote_addr, current_app.config["PHONE_REGIONS"])
        except auth.SignInRefused as exc:
            error = str(exc)
        else:
            auth.sign_in(account)
            return redirect(url_for("account.index"), code=303)
    return render_template("signin/login.html", form=form, error=error)


@bp.post("/logout")
def logout():
    """Sign out (a POST with CSRF)."""
    if LogoutForm().validate_on_submit():
        auth.sign_out()
        flash(text("signout.done"))
    return redirect(url_for("pages.index"), code=303)


@bp.post("/logout/everywhere")
@auth.login_required
def logout_everywhere():
    """Sign out on every device (R28 hardening, issue 6)."""
    if ActionForm().validate_on_submit():
        auth.sign_out_everywhere(auth.current_account())
        flash(text("signout.everywhere"))
    return redirect(url_for("pages.index"), code=303)


def init_app(app):
    app.register_blueprint(bp)
    limit_view(app, "signin.login", "20/minute;200/hour", "10/minute;50/hour")
