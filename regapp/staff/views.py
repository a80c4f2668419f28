"""The staff console's pages (issue 16): sign-in, support's lookup and actions, the audit
trail, the funnel and delivery state. Thin: the work is in :mod:`regapp.staff.actions`,
:mod:`regapp.audit`, :mod:`regapp.funnel`, :mod:`regapp.delivery_report`."""

from __future__ import annotations

import datetime as dt
import json
import os

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from regapp import audit, delivery_report, funnel, invitations, jobs, support
from regapp.forms import (
    ActionForm,
    PolicyForm,
    RosterUploadForm,
    StaffActionForm,
    StaffLookupForm,
    plain_text,
)
from regapp.rendering import render
from regapp.sessions import STAFF_PATH
from regapp.staff import access, actions, sso
from regapp.staff.access import current_staff, staff_required
from regapp.texts import text

bp = Blueprint("staff", __name__, url_prefix=STAFF_PATH)
#: no policy number, phone or e-mail is longer (an e-mail: 254)
QUERY_MOST = 254


@bp.after_request
def _never_cached(response):
    """A person's data on a shared computer must not come back from a cache (ASVS V8)."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def home():
    staff = current_staff()
    if staff is None:
        return redirect(url_for("staff.login"), code=303)
    return render_template("staff/home.html", staff=staff, logout=ActionForm())


@bp.route("/login", methods=["GET", "POST"])
def login():
    """A page with one button; the POST (with CSRF) goes to the provider."""
    form, error = ActionForm(), None
    if form.validate_on_submit():
        try:
            return sso.start(_client(), current_app.config)
        except sso.SignInRefused as exc:
            error = str(exc)
    return render_template("staff/login.html", form=form, error=error)


@bp.get("/callback")
def callback():
    """The provider's answer: a member with a role is signed in, anything else refused."""
    try:
        staff, refresh_token = sso.finish(_client(), current_app.config)
    except sso.SignInRefused as exc:
        return render_template("staff/login.html", form=ActionForm(), error=str(exc)), 403
    access.begin(staff, refresh_token)
    audit.record(staff, "sign_in")
    return redirect(url_for("staff.home"), code=303)


@bp.post("/logout")
def logout():
    if ActionForm().validate_on_submit():
        access.end(text("staff.signed_out"), "status")
    return redirect(url_for("staff.login"), code=303)


@bp.get("/support")
@staff_required("support")
def lookup(staff):
    """Support's search: the person's roster record, account, invitations, refusals."""
    form, found = StaffLookupForm(request.args), None
    query = (form.q.data or "").strip()[:QUERY_MOST]
    if query:
        found = actions.look_up(staff, query, current_app.config["PHONE_REGIONS"])
    return render_template("staff/support.html", form=form, found=found, query=query,
                           describe=support.describe, action=StaffActionForm(subject=query))


@bp.post("/support/<kind>")
@staff_required("support")
def act(staff, kind):
    """resend (a policy), end-sessions or unlink (an account), each with its reason."""
    form = StaffActionForm()
    subject = form.subject.data or ""
    if not form.validate_on_submit():
        for error in form.reason.errors or [text("staff.reason_required")]:
            flash(error, "error")
        return redirect(url_for("staff.lookup", q=subject), code=303)
    reason, target = form.reason.data.strip(), plain_text(request.form.get("target", ""))
    if kind == "resend":
        report = actions.resend_invitation(staff, target, reason)
        flash(text("staff.nothing_to_do", why=report.refused) if report.refused else
              text("staff.resent"), "error" if report.refused else "status")
    elif kind == "end-sessions" and target.isdigit():
        ended = actions.end_sessions(staff, int(target), subject, reason)
        flash(text("staff.no_account") if ended is None else
              text("staff.sessions_ended", count=ended), "status")
    elif kind == "unlink" and target.isdigit():
        done = actions.unlink_esia(staff, int(target), subject, reason)
        flash(text("staff.unlinked") if done else text("staff.no_esia"), "status")
    else:
        return ("", 404)
    return redirect(url_for("staff.lookup", q=subject), code=303)


@bp.get("/funnel")
@staff_required("operator")
def funnel_page(staff):
    """The funnel per employer and in all, filtered by employer and dates; CSV as well."""
    employer = _text_arg("employer")
    since, until = _date(request.args.get("since")), _date(request.args.get("until"))
    rows, total = funnel.funnel(employer, since, until)
    if request.args.get("format") == "csv":
        audit.record(staff, "export_funnel", subject=employer or "", since=since, until=until)
        return Response(funnel.as_csv(rows, total), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="funnel.csv"'})
    return render_template("staff/funnel.html", rows=rows, total=total, labels=funnel.LABELS,
                           employers=funnel.employers(), employer=employer, since=since,
                           until=until)


@bp.get("/deliveries")
@staff_required("operator")
def deliveries(staff):
    return render_template("staff/deliveries.html", table=delivery_report.by_day(),
                           failed=delivery_report.failed(), states=delivery_report.STATES,
                           channels=delivery_report.CHANNELS, action=StaffActionForm())


@bp.post("/deliveries/<message_id>/resend")
@staff_required("operator")
def resend_failed(staff, message_id):
    form = StaffActionForm()
    if not form.validate_on_submit():
        flash(text("staff.reason_required"), "error")
        return redirect(url_for("staff.deliveries"), code=303)
    report = delivery_report.resend(message_id)
    audit.record(staff, "resend_failed", subject=message_id, reason=form.reason.data.strip(),
                 sent=report.sent if report else 0)
    if report is None:
        flash(text("staff.not_an_invitation"), "error")
    else:
        flash(text("staff.nothing_to_do", why=report.refused) if report.refused
              else text("staff.resent"), "error" if report.refused else "status")
    return redirect(url_for("staff.deliveries"), code=303)


@bp.route("/roster", methods=["GET", "POST"])
@staff_required("operator")
def roster_upload(staff):
    """Upload a roster: it is checked in the queue (a dry run), then loaded on request."""
    request.max_content_length = jobs.MAX_UPLOAD
    form, error = RosterUploadForm(), None
    if form.validate_on_submit():
        upload = request.files.get(form.roster.name)  # the forms' base keeps text only
        name = os.path.basename(getattr(upload, "filename", "") or "")[-200:]  # a column's width
        if not name or not name.lower().endswith(_roster_suffixes()):
            error = text("staff.roster_kind", kinds=", ".join(_roster_suffixes()))
        else:
            path = jobs.keep_upload(upload.stream, name, current_app.instance_path)
            job = jobs.start("roster_check", staff, path=path, filename=name)
            return redirect(url_for("staff.job", job_id=job.id), code=303)
    return render_template("staff/roster.html", form=form, error=error), 400 if error else 200


@bp.get("/jobs/<job_id>")
@staff_required("operator")
def job(staff, job_id):
    """A job's state; the page asks again every second while it runs (htmx, or a reload)."""
    found, rows = jobs.state(job_id, current_app.extensions["regapp.queue"])
    if found is None:
        return ("", 404)
    report = json.loads(found.result) if found.result else None
    return render("staff/job.html", "staff/_job.html", job=found, rows=rows, report=report,
                  load=ActionForm())


@bp.post("/jobs/<job_id>/load")
@staff_required("operator")
def load(staff, job_id):
    """«Загрузить»: the checked file, loaded for real (another job)."""
    checked, _ = jobs.state(job_id, current_app.extensions["regapp.queue"])
    if checked is None or checked.kind != "roster_check" or checked.status != "done":
        return ("", 404)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("staff.job", job_id=job_id), code=303)
    loading = jobs.start("roster_load", staff, path=checked.path, filename=checked.filename)
    return redirect(url_for("staff.job", job_id=loading.id), code=303)


@bp.route("/invitations", methods=["GET", "POST"])
@staff_required("operator")
def invitations_page(staff):
    """What would go (new; held back: duplicates, no e-mail…), then send; or one person's."""
    send, one = ActionForm(), PolicyForm(prefix="one")
    if request.method == "POST" and "one-policy" in request.form and one.validate_on_submit():
        report = actions.resend_invitation(staff, one.policy.data.strip(), one.reason.data.strip())
        flash(text("staff.nothing_to_do", why=report.refused) if report.refused
              else text("staff.resent"), "error" if report.refused else "status")
        return redirect(url_for("staff.invitations_page"), code=303)
    if request.method == "POST" and "one-policy" not in request.form and send.validate_on_submit():
        started = jobs.start("invitations", staff)
        return redirect(url_for("staff.job", job_id=started.id), code=303)
    would = invitations.send_invitations(dry_run=True)
    return render_template("staff/invitations.html", would=would, send=send, one=one)


def _roster_suffixes():
    sources = current_app.extensions["regapp.adapters"].roster_sources.values()
    return tuple(suffix for source in sources for suffix in source.suffixes)


@bp.get("/audit")
@staff_required("operator")
def audit_trail(staff):
    since = _date(request.args.get("since"))
    return render_template("staff/audit.html", events=list(audit.events(since, limit=500)),
                           since=since)


def _text_arg(name):
    """A query argument as text any database takes (None when empty)."""
    return plain_text(request.args.get(name) or "") or None


def _date(value):
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _client():
    return current_app.extensions["regapp.staff_sso"]


def init_app(app):
    app.register_blueprint(bp)
    # its own limits: a stolen staff session cannot page through everyone
    app.extensions["regapp.limiter"].limit("120/minute;2000/hour")(bp)
