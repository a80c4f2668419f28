"""The start page, the health check, htmx from our own origin, friendly errors."""

from importlib.resources import files

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from peewee import InterfaceError, OperationalError, PeeweeException

from regapp import auth, documents, notifications, passwords, rendering
from regapp.db import database
from regapp.texts import text

bp = Blueprint("pages", __name__)

#: the htmx build that the django-js-lib-htmx package installs (no Django needed)
HTMX_DIR = files("js_lib_htmx") / "static" / "htmx"


@bp.get("/")
def index():
    """Start page: sign in or register."""
    return render_template("index.html")


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers; nothing outside it is asked."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Readiness: 200 when the database and the queue both answer, else 503 saying which."""
    checks = {"database": _database_answers(), "queue": _queue_answers()}
    ready = all(checks.values())
    body = {"status": "ok" if ready else "error",
            **{name: "ok" if answered else "unavailable" for name, answered in checks.items()}}
    return jsonify(body), 200 if ready else 503


def _database_answers():
    try:
        database.execute_sql("SELECT 1").fetchone()
        return True
    except PeeweeException as exc:
        current_app.logger.error("readiness: database: %s", exc)
        return False


def _queue_answers():
    try:
        current_app.extensions["regapp.queue"].huey.pending_count()
        return True
    except Exception as exc:  # any storage's failure (Redis, SQLite) means not ready
        current_app.logger.error("readiness: queue: %s", exc)
        return False


@bp.get("/static/vendor/htmx.min.js")
def htmx_script():
    """Serve the packaged htmx from the app's own origin (R30, CSP)."""
    return send_from_directory(str(HTMX_DIR), "htmx.min.js", max_age=86400)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every page they were not told otherwise on (plain error pages)."""
    return current_app.send_static_file("favicon.svg")


def _unavailable(exc):
    current_app.logger.error("database unavailable: %s", exc)
    page = render_template("error.html", title=text("error.503.title"), message=text("error.503"))
    return page, 503, {"Retry-After": "60"}


def error_page(status):
    """The plain page for an HTTP error ``status``."""
    return render_template("error.html", title=text(f"error.{status}.title"),
                           message=text(f"error.{status}")), status


def _error_page(status):
    return lambda exc: error_page(status)


def init_app(app):
    """Register the pages and the error pages."""
    rendering.init_app(app)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["text"] = text
    app.jinja_env.filters["moscow_time"] = notifications.moscow_time
    app.register_blueprint(bp)
    for status in (400, 403, 404, 429, 500):
        app.register_error_handler(status, _error_page(status))
    # the database out of reach for a moment: a clear page and a retry hint, not a traceback
    for unreachable in (OperationalError, InterfaceError):
        app.register_error_handler(unreachable, _unavailable)

    @app.context_processor
    def _common():
        return {
            "help_phone": app.config["HELP_PHONE"],
            "qa_mode": bool(app.config.get("QA_MODE")),
            "service_name": app.config["SERVICE_NAME"],
            **documents.insurer_words(app.config.get("INSURER_NAME")),
        }


def warm_up(app):
    """What a serving process would otherwise make on its first visitors' time, made as it
    starts (:func:`regapp.cli.settle`; 0.3–0.8 s, which commands that answer no pages are
    spared): every template compiled (tens of milliseconds on a fresh worker), the password
    estimator's dictionaries built, the unknown phone's hash made (issue 15)."""
    passwords.warm()
    auth.dummy_hash()
    for name in app.jinja_env.list_templates(extensions=("html", "txt")):
        app.jinja_env.get_template(name)
