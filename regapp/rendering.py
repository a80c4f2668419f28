"""The one place that decides between a full page and an htmx fragment (R30)."""

import json

from flask import current_app, g, make_response, redirect, render_template, request, session
from flask_wtf.csrf import generate_csrf
from htmx_flask import Htmx


def init_app(app):
    """Give every request ``request.htmx``."""
    Htmx(app)


#: the header an htmx step navigation sends (see :func:`hx_redirect`): it wants the page
STEP_HEADER = "HX-Step"


def is_fragment_request():
    """An htmx request that swaps part of a page (a boosted one, a history restore and a
    step navigation want the page)."""
    htmx = getattr(request, "htmx", None)
    return (bool(htmx) and not htmx.boosted and not htmx.history_restore_request
            and not request.headers.get(STEP_HEADER) and not g.get("step_page"))


def render(page, partial, status=200, **context):
    """Render ``partial`` alone for an htmx swap, else ``page``, which includes it."""
    template = partial if is_fragment_request() else page
    return _answer(render_template(template, partial=partial, **context), status)


def _answer(html, status=200):
    response = make_response(html, status)
    response.vary.add("HX-Request")  # caches must keep the two answers apart
    return response


def render_blank(page, partial, context):
    """:func:`render` for a form nobody has filled in yet, with ``context()`` making the
    same context for every visitor: the page differs from one visitor to the next by its
    CSRF token alone, so it is rendered once a process and each visitor's token put in its
    place (issue 15: the registration form's fields were a tenth of a registration's CPU
    beside its hash). A page with a notice to show (a flash) is rendered as usual."""
    if session.get("_flashes"):
        return render(page, partial, **context())
    template = partial if is_fragment_request() else page
    blanks = current_app.extensions.setdefault("regapp.blank_pages", {})
    token = generate_csrf()
    if template not in blanks:
        html = render_template(template, partial=partial, **context())
        if token not in html:  # a page without the token is not one to keep
            return _answer(html)
        blanks[template] = (html, token)
    html, made_with = blanks[template]
    return _answer(html.replace(made_with, token))


def answer_check(field, hints=None):
    """An inline check's answer: the field's error line, or a new password's hints;
    ``hints()`` makes them (the strength estimate), only when the password is checked.
    Said by the page's own macros, called as they are: a template around them rendered
    with a request's context cost a tenth of a check's CPU (issue 15)."""
    macros = current_app.jinja_env.get_template("_macros.html").module  # made once
    if hints is not None and field.name == "password":
        return macros.password_hints(hints())
    return macros.field_error(field)


def hx_redirect(location, page=None):
    """The next step after a valid form (R30): a 303 for a plain form; for htmx, the step's
    page with its ``<main>`` swapped in place and its URL pushed to the history, so Back
    and reload work as after the 303 (issue 14). ``page()``, when given, makes the step's
    page in this same answer, as its GET would (one round trip fewer, issue 15); without
    it, ``HX-Location`` has htmx fetch the page."""
    if not is_fragment_request():
        return redirect(location, code=303)
    if page is not None:
        g.step_page = True  # the whole page from here on, as a GET of the step gives it
        response = page()
        response.headers.update({"HX-Retarget": "#main", "HX-Reselect": "#main",
                                 "HX-Reswap": "outerHTML", "HX-Push-Url": location})
        return response
    response = make_response(("", 204))
    response.headers["HX-Location"] = json.dumps({
        "path": location, "target": "#main", "select": "#main", "swap": "outerHTML",
        "headers": {STEP_HEADER: "true"}})
    return response
