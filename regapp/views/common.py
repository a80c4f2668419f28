"""What several views share: the client for consent records, rate limits per view."""

import functools

from flask import current_app, g, make_response, request, session, url_for
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.exceptions import TooManyRequests

from regapp import normalize, otp, registration, sessions
from regapp.forms import CodeForm, ResendForm, is_inline_check
from regapp.pages import error_page
from regapp.registration import Client, Refused
from regapp.rendering import hx_redirect, is_fragment_request, render
from regapp.texts import text


def client():
    """The person's address and browser, for the consent record (R11)."""
    return Client(ip=request.remote_addr, user_agent=request.headers.get("User-Agent", "")[:500])


def phone_key():
    """Rate-limit key: the phone typed in the form as one number (``+7916…``, ``8916…`` and
    ``916…`` are one phone), or the typed text when it is no phone, else the address."""
    typed = (request.form.get("phone") or "").strip()
    if not typed:
        return request.remote_addr or "?"
    try:
        return normalize.normalize_phone(typed, current_app.config["PHONE_REGIONS"])
    except normalize.Invalid:
        return typed


def keep_registration(pending):
    """This browser's registration in progress, kept in its session. Given to
    :func:`registration.start` as ``then``, the session's row is stored in the
    registration's own transaction: the two one commit (issue 15); called again after, it
    writes nothing more."""
    if (session.get("pending"), session.get("restart")) != (pending.id, request.path):
        session["pending"], session["restart"] = pending.id, request.path
        sessions.store_now()


def to_code_step(pending):
    """After a registration form (either way in): the SMS code step, for htmx its page in
    this same answer (issue 15)."""
    return hx_redirect(url_for("signup.code"),
                       lambda: sms_page(pending, CodeForm(formdata=None)))


def sms_page(pending, form, notice=None):
    """The SMS code step's page: where the code stands, and when a new one may be asked."""
    form.show_for(pending.id)
    delivery, wait = registration.code_page(pending)
    return render("signup/code.html", "signup/_code.html", form=form,
                  resend_form=ResendForm(formdata=None), notice=notice,
                  phone=normalize.format_phone(pending.phone), delivery=delivery, wait=wait)


def code_step(form, check, done, page):
    """A code step's submit: ``check(code)``, then ``done(its answer)``; a wrong code or a
    refusal stands beside the code field, shown after a redirect without JS (issue 14:
    F5 never sends the same code again); else the step's ``page(form)``."""
    if form.validate_on_submit():
        try:
            result = check(form.code.data)
        except (otp.CodeError, Refused) as exc:
            form.code.errors = [str(exc)]
            if not is_fragment_request():
                return form.refused_then_show_again()
        else:
            return done(result)
    return page(form)


def resend_then_show(send, form, page):
    """A code step's «Отправить код повторно»: send, then show the step again; the wait is
    said once, under the button (issue 14), any other limit beside the code field."""
    notice = None
    if ResendForm().validate_on_submit():
        try:
            send()
            notice = text("code.sent_again")
        except otp.TooSoon:
            pass
        except otp.CodeError as exc:
            form.code.errors = [str(exc)]
    return page(form, notice)


def not_counted():
    """This refusal is the person's own doing (their current phone typed as the new one,
    a link asked for again at once): answered plainly, and the try it took given back
    (:func:`limit_view`)."""
    g.not_counted = True


def answer_limit_in_form(exc):
    """429 on a form's submit: the form again, what was typed kept, the limit said above it
    (the view runs without its limit and refuses inside ``validate_on_submit``); anything
    else gets the plain page."""
    view = current_app.extensions.get("regapp.unlimited_views", {}).get(request.endpoint)
    if view is None or request.method != "POST" or is_inline_check():
        return error_page(429)
    g.over_limit = text("limit.form")
    answer = make_response(view(**(request.view_args or {})))
    if answer.status_code != 200:  # the view went elsewhere: it never got to its form
        return error_page(429)
    answer.status_code = 429
    return answer


def session_key():
    """Rate-limit key: this browser's session (its key is random; none yet: the address)."""
    key = getattr(session, "key", None)
    return f"session:{key}" if key else (request.remote_addr or "?")


def limit_view(app, endpoint, by_address, by_phone=None, checks=None):
    """Rate-limit POSTs to ``endpoint`` per client address and, if given, per typed phone.

    The submit limits do not count a form's inline checks; ``checks`` limits those on
    their own, per address and per session, so a bot cannot ask «уже занят?» without end,
    nor spread its probes either way. A request's windows are counted as it starts, all
    in one round trip to the limiter's storage (:class:`regapp.ratelimits.Windows`):
    nothing slips past, and over a limit the view answers 429 (the form again, what was
    typed kept: :func:`answer_limit_in_form`). A view that calls :func:`not_counted`
    gets its request's tries back as it ends.
    """
    app.extensions.setdefault("regapp.unlimited_views", {})[endpoint] = app.view_functions[endpoint]
    submits = [(parse_many(by_address), get_remote_address)]
    if by_phone:
        submits.append((parse_many(by_phone), phone_key))
    probes = [(parse_many(checks), whose) for whose in (get_remote_address, session_key)
              ] if checks else []
    app.view_functions[endpoint] = _limited(app.view_functions[endpoint], endpoint, submits,
                                            probes)


def _limited(view, endpoint, submits, checks):
    """``view`` with a POST's windows counted first, an inline check's (``checks``) or a
    submit's, each ``(items, whose key)``; over one, 429; given back if the view said
    :func:`not_counted`."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        hits = []
        if request.method == "POST":
            kind, windows = ("check", checks) if is_inline_check() else ("submit", submits)
            hits = [(item, (endpoint, kind, whose.__name__, whose()))
                    for items, whose in windows for item in items]
            if hits and not current_app.extensions["regapp.windows"].within_all(hits):
                raise TooManyRequests()
        answer = view(*args, **kwargs)
        if hits and g.get("not_counted"):
            current_app.extensions["regapp.windows"].give_back(hits)
        return answer

    return wrapped
