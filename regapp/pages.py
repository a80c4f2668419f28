"""The start page, the health check, htmx from our own origin, friendly errors."""

from importlib.resources import files

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from peewee import PeeweeException

from regapp import rendering
from regapp.db import database

bp = Blueprint("pages", __name__)

#: the htmx build that the django-js-lib-htmx package installs (no Django needed)
HTMX_DIR = files("js_lib_htmx") / "static" / "htmx"


@bp.get("/")
def index():
    """Start page: sign in or register."""
    return render_template("index.html")


@bp.get("/healthz")
def healthz():
    """200 when the app and its database answer, 503 otherwise."""
    try:
        database.execute_sql("SELECT 1").fetchone()
    except PeeweeException as exc:
        current_app.logger.error("health check: database: %s", exc)
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/static/vendor/htmx.min.js")
def htmx_script():
    """Serve the packaged htmx from the app's own origin (R30, CSP)."""
    return send_from_directory(str(HTMX_DIR), "htmx.min.js", max_age=86400)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every page they were not told otherwise on (plain error pages)."""
    return current_app.send_static_file("favicon.svg")


def _error_page(status, title, text):
    def handler(exc):
        page = render_template("error.html", title=title, text=text)
        return page, status

    return handler


def init_app(app):
    """Register the pages and the error pages."""
    rendering.init_app(app)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.register_blueprint(bp)
    app.register_error_handler(404, _error_page(404, "Страница не найдена",
                                                "Проверьте адрес или начните с главной страницы."))
    app.register_error_handler(400, _error_page(400, "Запрос не принят",
                                                "Обновите страницу и попробуйте ещё раз."))
    app.register_error_handler(429, _error_page(429, "Слишком много попыток",
                                                "Подождите немного и попробуйте снова."))
    app.register_error_handler(500, _error_page(500, "Что-то пошло не так",
                                                "Мы уже разбираемся. Попробуйте ещё раз чуть позже."))

    @app.context_processor
    def _common():
        return {
            "help_phone": app.config["HELP_PHONE"],
            "qa_mode": bool(app.config.get("QA_MODE")),
            "service_name": app.config["SERVICE_NAME"],
        }
