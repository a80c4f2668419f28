"""The one place that decides between a full page and an htmx fragment (R30)."""

from flask import make_response, redirect, render_template, request
from htmx_flask import Htmx


def init_app(app):
    """Give every request ``request.htmx``."""
    Htmx(app)


def is_fragment_request():
    """An htmx request that swaps part of a page (a boosted one wants the page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(page, partial, status=200, **context):
    """Render ``partial`` alone for an htmx swap, else ``page``, which includes it."""
    template = partial if is_fragment_request() else page
    response = make_response(render_template(template, partial=partial, **context), status)
    response.vary.add("HX-Request")  # caches must keep the two answers apart
    return response


def answer_check(field, hints=None):
    """An inline check's answer: the field's error line, or a new password's hints."""
    if hints is not None and field.name == "password":
        return render_template("_password_hints.html", hints=hints)
    return render_template("_field_error.html", field=field)


def hx_redirect(location):
    """A 303 for a plain form; htmx follows it with HX-Redirect to load the whole page."""
    if is_fragment_request():
        response = make_response(("", 204))
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)
