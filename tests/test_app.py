"""The factory, settings, pages, security baseline and QA mode (R25, R27, R28, R30)."""

import json

import pytest
from flask import render_template_string

from regapp import create_app, migrations
from regapp.adapters import SmsGateway
from regapp.hookspecs import hookimpl
from regapp.pluginmanager import UnknownAdapter
from regapp.rendering import render


def test_settings_order_defaults_then_instance_file_then_environment(tmp_path, monkeypatch):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text(
        'HELP_PHONE = "8-800-000-00-01"\nPUBLIC_URL = "https://a.example/"\n'
        'SMS_GATEWAY = "http"\nEMAIL_SENDER = "smtp"\nSECRET_KEY = "s" * 40\n'
        'SMS_HTTP_URL = "https://sms.example/send"\nSMTP_HOST = "smtp.example"\n'
        'MAIL_FROM = "noreply@example.com"\n')
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("REGAPP_PUBLIC_URL", "https://b.example")
    app = create_app()
    assert app.config["HELP_PHONE"] == "8-800-000-00-01"  # instance file over default
    assert app.config["PUBLIC_URL"] == "https://b.example"  # environment over instance file
    assert app.config["SMS_GATEWAY"] == "http" and app.config["QUEUE"] == "sqlite"
    assert app.config["DATABASE"] == f"sqlite:///{instance / 'regapp.db'}"
    assert app.config["SESSION_COOKIE_SECURE"] is True  # https public URL
    assert not app.config["QA_MODE"] and app.config["ESIA_PROVIDER"] is None


def test_secret_key_is_generated_once_into_the_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("REGAPP_QA_MODE", "true")  # outside QA mode it must be given
    first = create_app()
    second = create_app()
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_an_unknown_plugin_name_stops_start_up_listing_the_names(tmp_path, monkeypatch):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(UnknownAdapter) as caught:
        create_app({"TESTING": True, "SMS_GATEWAY": "smsc"})
    assert str(caught.value) == "SMS_GATEWAY = 'smsc': no SMS gateway is called 'smsc'; available: fake, http"
    with pytest.raises(UnknownAdapter, match="available: fake, smtp"):
        create_app({"TESTING": True, "EMAIL_SENDER": "sendmail"})
    with pytest.raises(UnknownAdapter, match="ESIA_PROVIDER = 'gosuslugi'.*available: esia, fake"):
        create_app({"TESTING": True, "ESIA_PROVIDER": "gosuslugi"})


def test_cli_reports_an_unknown_plugin_without_a_traceback(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regapp.cli import main

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("REGAPP_SMS_GATEWAY", "smsc")
    monkeypatch.setenv("REGAPP_QA_MODE", "true")
    result = CliRunner().invoke(main, ["init-db"])
    assert result.exit_code == 1
    assert "available: fake, http" in result.output and "Traceback" not in result.output
    helped = CliRunner().invoke(main, ["--help"])  # an operator at night asks what there is
    assert helped.exit_code == 0 and "Traceback" not in helped.output
    assert "Error: SMS_GATEWAY = 'smsc'" in helped.output and "init-db" in helped.output


def test_a_sender_chosen_without_what_it_needs_stops_start_up(tmp_path, monkeypatch):
    """The smtp sender without MAIL_FROM failed every invitation at its first delivery, an
    AttributeError retried for hours, while the command said «Отправлено» (found by the
    benchmark of issue 15); the start says what is missing instead, QA mode or not."""
    from click.testing import CliRunner

    from regapp.cli import main
    from regapp.pluginmanager import MissingSettings

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(MissingSettings) as caught:
        create_app({"TESTING": True, "EMAIL_SENDER": "smtp", "SMTP_HOST": "127.0.0.1"})
    assert str(caught.value) == "EMAIL_SENDER = 'smtp' needs MAIL_FROM: not set"
    with pytest.raises(MissingSettings, match="SMS_GATEWAY = 'http' needs SMS_HTTP_URL"):
        create_app({"TESTING": True, "SMS_GATEWAY": "http"})
    monkeypatch.setenv("REGAPP_QA_MODE", "true")
    monkeypatch.setenv("REGAPP_EMAIL_SENDER", "smtp")
    result = CliRunner().invoke(main, ["invitations", "send"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "EMAIL_SENDER = 'smtp' needs SMTP_HOST, MAIL_FROM: not set" in result.output


def test_a_command_spares_what_only_a_serving_process_needs(tmp_path):
    """Issue 15: an operator's command answers no pages, so its start compiles no template,
    makes no password hash and reads no workbook library (0.6–1 s of every command's
    start); a serving process warms all of it (the next test)."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "from regapp import auth\n"
             "from regapp.cli import _make_app\n"
             "app = _make_app()\n"
             "print(len(app.jinja_env.cache), auth.dummy_hash.cache_info().currsize,\n"
             "      'openpyxl' in sys.modules)\n")
    env = {"PATH": "/usr/bin:/bin", "REGAPP_INSTANCE_PATH": str(tmp_path),
           "REGAPP_QA_MODE": "true"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "0", "False"]


class PartnerGateway(SmsGateway):
    """A partner's gateway, registered like an installed plugin would be."""

    name = "partner"

    def send(self, sms):
        pass


class PartnerPlugin:
    @hookimpl
    def regapp_sms_gateways(self):
        return [PartnerGateway]


def test_a_third_party_plugin_is_chosen_by_name(tmp_path, monkeypatch):  # R25
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "SMS_GATEWAY": "partner"}, plugins=[PartnerPlugin()])
    assert isinstance(app.extensions["regapp.adapters"].sms, PartnerGateway)


def test_cli_init_db_is_idempotent(cli):
    first, second = cli("init-db"), cli("init-db")
    assert first.exit_code == second.exit_code == 0
    from regapp.migrations import STEPS

    assert f"version {STEPS[-1][0]}" in second.output


def test_healthz_answers_from_memory(client):  # issue 11: liveness asks nothing outside
    from regapp.db import database

    database.close() if not database.is_closed() else None
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert database.is_closed()


def test_readyz_reaches_the_database_and_the_queue(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "queue": "ok"}


def test_readyz_reports_a_database_that_does_not_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "DATABASE": f"sqlite:///{tmp_path}/missing-dir/x.db",
                      "QUEUE": "immediate"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.json["database"] == "unavailable"
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_reports_a_queue_that_does_not_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "QUEUE": "redis://127.0.0.1:9/0"})  # nothing listens
    with app.app_context():
        migrations.upgrade()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "error", "database": "ok", "queue": "unavailable"}


def test_start_page_links_to_sign_in_and_register(client):
    page = client.get("/").get_data(as_text=True)
    assert 'lang="ru"' in page and 'href="/login"' in page and 'href="/register"' in page
    assert "8-800-100-88-00" in page


def test_security_headers_and_a_csp_without_inline_script(client):  # R28
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"  # issue 11: CSRF reads Referer
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "onclick" not in page and "style=" not in page


def test_session_cookie_flags(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_htmx_is_served_from_our_own_origin(client):  # R30
    page = client.get("/").get_data(as_text=True)
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in page
    script = client.get("/static/vendor/htmx.min.js")
    assert script.status_code == 200 and b"htmx" in script.data[:200]
    assert script.mimetype in ("text/javascript", "application/javascript")


def test_csrf_is_on_for_every_form(app):  # R28
    app.config["WTF_CSRF_ENABLED"] = True

    @app.post("/probe")
    def probe():
        return "ok"

    response = app.test_client().post("/probe", data={"x": "1"})
    assert response.status_code == 400


def test_qa_outbox_page_and_banner(client, app, outbox):  # R27
    from regapp.qa import outbox as outbox_file

    outbox_file.append(app.config["OUTBOX_PATH"], "sms", "+79161234567", "Код: 123456")
    outbox_file.append(app.config["OUTBOX_PATH"], "email", "ivan@example.com", "Ссылка",
                       subject="Приглашение")
    page = client.get("/qa/outbox").get_data(as_text=True)
    assert "Режим тестирования" in page
    assert page.index("ivan@example.com") < page.index("+79161234567")  # newest first
    lines = client.get("/qa/outbox.jsonl").get_data(as_text=True).splitlines()
    assert [json.loads(line)["channel"] for line in lines] == ["sms", "email"]
    assert "Режим тестирования" in client.get("/").get_data(as_text=True)


@pytest.mark.settings(QA_MODE=False)
def test_qa_pages_do_not_exist_outside_qa_mode(client):
    assert client.get("/qa/outbox").status_code == 404
    assert "Режим тестирования" not in client.get("/").get_data(as_text=True)


def test_not_found_is_a_friendly_russian_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "Страница не найдена" in response.get_data(as_text=True)


def test_one_helper_chooses_page_or_fragment(app):  # R30
    @app.get("/probe")
    def probe():
        return render("probe_page.html", "probe_partial.html")

    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_loader = ChoiceLoader([DictLoader({
        "probe_partial.html": "<div id=part>part</div>",
        "probe_page.html": "<main>{% include partial %}</main>",
    }), app.jinja_loader])
    client = app.test_client()
    page = client.get("/probe")
    fragment = client.get("/probe", headers={"HX-Request": "true"})
    boosted = client.get("/probe", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert page.get_data(as_text=True) == "<main><div id=part>part</div></main>"
    assert fragment.get_data(as_text=True) == "<div id=part>part</div>"
    assert boosted.get_data(as_text=True) == page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]


def test_field_macro_ties_label_hint_and_error(app):  # R30
    from flask_wtf import FlaskForm
    from wtforms import StringField

    class Form(FlaskForm):
        phone = StringField("Мобильный телефон")

    with app.test_request_context():
        form = Form(meta={"csrf": False})
        form.phone.errors = ["номер уже занят"]
        html = render_template_string(
            '{% from "_macros.html" import field %}{{ field(form.phone, hint="+7") }}', form=form)
    assert '<label class="field__label" for="phone">Мобильный телефон</label>' in html
    assert 'aria-describedby="phone-hint phone-error"' in html and 'aria-invalid="true"' in html
    assert '<p class="field__error" id="phone-error" role="alert">номер уже занят</p>' in html


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):  # R32
    from regapp.db import database

    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_every_page_names_an_icon_that_is_served(client):  # issue 9: no 404 on any page
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in page
    for path in ("/static/favicon.svg", "/favicon.ico"):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        response.close()


@pytest.mark.settings(TEXTS={"signin.wrong": "Телефон или пароль не подошли"})
def test_a_deployment_words_a_message_its_own_way(client):  # issue 10: one keyed table
    from tests.helpers import csrf

    page = client.get("/login").get_data(as_text=True)
    text = client.post("/login", data={"csrf_token": csrf(page), "phone": "89160000000",
                                       "password": "x"}).get_data(as_text=True)
    assert "Телефон или пароль не подошли" in text and "Неверный номер" not in text


def test_every_key_said_in_code_is_in_the_table():
    import re
    from pathlib import Path

    from regapp.texts import TEXTS

    root = Path(__file__).resolve().parents[1]
    said = set()
    for path in [*root.glob("regapp/**/*.py"), *root.glob("templates/**/*.html")]:
        said |= set(re.findall(r"""\b(?:text|say)\(["']([a-z_.0-9]+)["']""", path.read_text()))
    assert said and said - set(TEXTS) == set()


def test_every_setting_is_documented():  # issue 10, as datasette checks its settings
    from pathlib import Path

    from regapp.settings import DEFAULTS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert [name for name in DEFAULTS if f"`{name}`" not in readme] == []


PRODUCTION = {"TESTING": False, "QA_MODE": False, "SECRET_KEY": "k" * 40,
              "SMS_GATEWAY": "http", "SMS_HTTP_URL": "https://sms.example/send",
              "EMAIL_SENDER": "smtp", "SMTP_HOST": "smtp.example", "SMTP_TLS": "starttls",
              "MAIL_FROM": "noreply@example.com"}


@pytest.mark.parametrize("change, setting", [
    ({"SMS_GATEWAY": "fake"}, "SMS_GATEWAY"),
    ({"EMAIL_SENDER": "fake"}, "EMAIL_SENDER"),
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SMTP_USER": "regapp", "SMTP_TLS": "none"}, "SMTP_TLS"),
])
def test_outside_qa_mode_unsafe_settings_stop_start_up(tmp_path, monkeypatch, change, setting):
    from regapp.settings import UnsafeSettings  # issue 11: fail closed

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(UnsafeSettings, match=setting):
        create_app({**PRODUCTION, **change})
    assert not (tmp_path / "secret_key").exists()  # no key was quietly made up


@pytest.mark.parametrize("setting, value", [
    ("DELIVERY_BATCH_SIZE", 0), ("DELIVERY_BATCH_SIZE", 1000), ("DELIVERY_BATCH_SIZE", "100"),
    ("SESSION_IDLE_MINUTES", 0), ("SMTP_PORT", 70000), ("SMTP_TIMEOUT", -1),
    ("DELIVERY_MAX_ATTEMPTS", 2.5), ("PROXY_HOPS", True), ("INVITATION_TTL_DAYS", None),
    ("SMTP_PORT", float("inf")), ("SMTP_TIMEOUT", float("nan")),  # REGAPP_…=Infinity, NaN
])
def test_a_numeric_setting_out_of_its_range_stops_start_up(tmp_path, monkeypatch, setting,
                                                           value):
    """Refused at start, named, in QA mode too: not at the first delivery (issue 15)."""
    from regapp.settings import UnsafeSettings

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(UnsafeSettings, match=f"{setting} = {value!r}: expected"):
        create_app({"QA_MODE": True, setting: value})


def test_a_number_set_in_the_environment_is_checked_too(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regapp.cli import main

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("REGAPP_QA_MODE", "true")
    monkeypatch.setenv("REGAPP_DELIVERY_BATCH_SIZE", "lots")
    result = CliRunner().invoke(main, ["init-db"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "DELIVERY_BATCH_SIZE = 'lots': expected a whole number from 1 to 500" in result.output
    monkeypatch.setenv("REGAPP_DELIVERY_BATCH_SIZE", "250")
    assert CliRunner().invoke(main, ["init-db"]).exit_code == 0


def test_safe_production_settings_start(tmp_path, monkeypatch):
    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    assert create_app(PRODUCTION).config["SECRET_KEY"] == "k" * 40


def test_the_cli_names_the_setting_to_fix(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regapp.cli import main

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("REGAPP_QA_MODE", raising=False)
    result = CliRunner().invoke(main, ["init-db"])
    assert result.exit_code != 0 and "SMS_GATEWAY = 'fake' is for QA mode only" in result.output
    assert "Traceback" not in result.output


def test_the_app_runs_on_the_backend_the_pass_asked_for(app, backend):  # R32
    from peewee import PostgresqlDatabase, SqliteDatabase

    from regapp.db import database

    expected = "postgresql" if backend else "sqlite"
    assert app.config["DATABASE"].startswith(expected)
    assert isinstance(database.obj, PostgresqlDatabase if backend else SqliteDatabase)
    if backend:
        assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis://")


def test_a_database_out_of_reach_gives_a_clear_503_page(tmp_path, monkeypatch):  # issue 13
    from tests.helpers import csrf

    monkeypatch.setenv("REGAPP_INSTANCE_PATH", str(tmp_path))
    app = create_app({"TESTING": True, "QUEUE": "immediate",
                      "DATABASE": f"sqlite:///{tmp_path}/gone/x.db"})
    client = app.test_client()
    answer = client.get("/invite/" + "a" * 43)  # a page that reads the database
    body = answer.get_data(as_text=True)
    assert answer.status_code == 503 and "Сервис временно недоступен" in body
    assert answer.headers["Retry-After"] == "60" and "Traceback" not in body
    client.set_cookie("session", "k" * 43)  # a signed-in person's key, unreadable now
    assert client.get("/account").status_code == 503
    page = client.get("/login").get_data(as_text=True)  # no database needed to show it
    refused = client.post("/login", data={"csrf_token": csrf(page), "phone": "89161234567",
                                          "password": "x"})
    assert refused.status_code in (400, 503)  # its token could not be kept: a clear page
