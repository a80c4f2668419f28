"""The ``regapp`` console command (INTERFACES.md, «Install and run»)."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from importlib.resources import files

import click
from flask import current_app
from flask.cli import FlaskGroup, ScriptInfo
from werkzeug.serving import run_simple

from regapp import create_app, invitations, migrations, pages, roster
from regapp.adapters import RosterUnreadable
from regapp.pluginmanager import UnknownAdapter

DEMO_ROSTER = files("regapp") / "demo_roster.csv"


def _make_app():
    try:
        return create_app()
    except (UnknownAdapter, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


class _Commands(FlaskGroup):
    def list_commands(self, ctx):
        """``regapp --help`` beside a configuration refused: its reasons, not a traceback
        (Flask's group prints one for any error but its own)."""
        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except click.ClickException as exc:
            click.secho(f"Error: {exc.format_message()}\n", err=True, fg="red")
            return sorted(self.commands)
        return super().list_commands(ctx)


main = _Commands(name="regapp", create_app=_make_app, add_default_commands=False,
                  help="Self-service registration portal: operators' and QA's commands.")


#: how long a thread waiting for the GIL waits before it asks for it (Python's default: 5 ms)
SWITCH_INTERVAL = 0.001


def settle(app=None):
    """Ready a process to serve (issue 15); gunicorn's workers do the same
    (``instance/gunicorn.conf.py``). ``app``: a process that answers pages warms it first
    (:func:`regapp.pages.warm_up`); ``regapp worker`` answers none. What the start made
    (compiled templates, the strength estimator's dictionaries, the phone metadata) goes
    out of the garbage collector's sight: a full collection walked it all, a pause of up
    to 120 ms for every thread of the process. A thread waiting for the GIL asks for it
    after 1 ms, not 5: the argon2id thread between two hashes, and gunicorn's main thread
    with a request to hand over, waited up to 5 ms behind a request's Python each time
    (PostgreSQL loads, four pairs alternated: 4–15 % more registrations a second with
    1 ms, the p99s alike)."""
    if app is not None:
        pages.warm_up(app)
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


def _serve(app, host, port):
    """Serve ``app``; with the embedded queue, deliver messages in this process."""
    settle(app)
    consumer = None
    if app.config["QUEUE"] == "sqlite":
        consumer = app.extensions["regapp.queue"].consumer()
        consumer.start()
        app.extensions["regapp.queue"].sweep_now()
    # the app logs one line per request itself, without the path's tokens (regapp.logs)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if consumer:
            consumer.stop()


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run_command(host, port):
    """Serve the portal with the configured settings."""
    app = current_app._get_current_object()
    migrations.upgrade()
    click.echo(f"regapp: http://{host}:{port}/")
    _serve(app, host, port)


@main.command("demo", with_appcontext=False)
@click.option("--port", default=5000, show_default=True, type=int)
def demo_command(port):
    """Create instance/, load a demo roster, turn QA mode on and serve the portal."""
    os.environ["REGAPP_QA_MODE"] = "true"
    # instance/ in the folder it is started from, wherever the package is installed
    os.environ.setdefault("REGAPP_INSTANCE_PATH", os.path.abspath("instance"))
    os.environ.setdefault("REGAPP_PUBLIC_URL", f"http://127.0.0.1:{port}")
    app = _make_app()
    with app.app_context():
        migrations.upgrade()
        report = roster.import_roster(
            app.extensions["regapp.adapters"].roster_source("csv"), str(DEMO_ROSTER))
        sent = invitations.send_invitations()
    base = f"http://127.0.0.1:{port}"
    click.echo(f"regapp demo: {base}/  (instance: {app.instance_path})")
    click.echo(f"QA outbox (invitations, codes): {base}/qa/outbox")
    click.echo(f"Demo roster: {report.added} added, {report.updated} updated, "
               f"{report.unchanged} unchanged; invitations sent: {sent.sent}")
    click.echo("Try these people (policy, name, birth date, phone, e-mail):")
    for line in DEMO_ROSTER.read_text(encoding="utf-8").splitlines()[1:]:
        cells = line.split(";")
        click.echo(f"  {cells[0]}  {' '.join(c for c in cells[1:4] if c != '-')}  {cells[4]}  "
                   f"{cells[5] or '—'}  {cells[6]}")
    _serve(app, "127.0.0.1", port)


@main.command("fake-esia")
@click.option("--port", default=5100, show_default=True, type=int)
def fake_esia_command(port):
    """Serve the fake ESIA on its own (the same one QA mode mounts at /fake-esia)."""
    import os

    from regapp import templates_folder
    from regapp.qa import fake_esia

    config = current_app.config
    materials = fake_esia.ensure_materials(os.path.join(current_app.instance_path, "fake-esia"))
    fake = fake_esia.FakeEsia.from_materials(
        materials, config.get("ESIA_CLIENT_ID") or "REGAPP-QA", f"http://127.0.0.1:{port}/",
        redirect_prefixes=(config["PUBLIC_URL"] + "/esia/",))
    click.echo(f"fake ESIA: http://127.0.0.1:{port}/  (client id {fake.client_id})")
    click.echo(f"  client key and certificate: {materials.client_key}, {materials.client_cert}")
    click.echo(f"  token certificate (ESIA_TOKEN_CERT_PATH): {materials.esia_cert}")
    run_simple("127.0.0.1", port, fake_esia.standalone_app(fake, templates_folder()), threaded=True)


@main.command("fake-oidc")
@click.option("--port", default=5200, show_default=True, type=int)
@click.option("--client-id", default="regapp-staff", show_default=True)
@click.option("--client-secret", required=True, help="What the console sends as its secret.")
def fake_oidc_command(port, client_id, client_secret):
    """Serve the staff console's fake OpenID Connect provider on its own (QA, issue 16)."""
    import os

    from regapp import templates_folder
    from regapp.qa import fake_oidc

    issuer = f"http://127.0.0.1:{port}"
    client = fake_oidc.Client(client_id, client_secret,
                              current_app.config["PUBLIC_URL"] + "/staff/callback")
    fake = fake_oidc.FakeOidc(os.path.join(current_app.instance_path, "fake-oidc", "key.pem"),
                              issuer, client)
    click.echo(f"fake OIDC: {issuer}/.well-known/openid-configuration (client {client_id}; "
               "groups regapp-operators, regapp-support)")
    run_simple("127.0.0.1", port, fake_oidc.standalone_app(fake, templates_folder()),
               threaded=True)


@main.group("audit")
def audit_group():
    """The staff audit trail (issue 16)."""


@audit_group.command("export")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="From this date on.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def audit_export_command(since, as_json):
    """Print the audit trail, oldest first."""
    from regapp import audit

    migrations.upgrade()
    for event in reversed(list(audit.events(since.date() if since else None))):
        row = audit.as_dict(event)
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{row['at']}\t{row['staff']}\t{row['action']}\t{row['subject']}\t"
                       f"{row['reason']}")


@main.command("worker")
@click.option("--workers", default=2, show_default=True, type=int)
def worker_command(workers):
    """Deliver queued messages (for deployments whose QUEUE is Redis)."""
    from huey.consumer import Consumer

    queue = current_app.extensions["regapp.queue"]
    queue.sweep_now()  # what a crash left queued goes out within seconds of the start
    settle()
    Consumer(queue.huey, workers=workers, worker_type="thread").run()


@main.command("init-db")
def init_db_command():
    """Create or upgrade the database schema (safe to repeat)."""
    version = migrations.upgrade()
    click.echo(f"Schema is at version {version}: {current_app.config['DATABASE']}")


@main.group("roster")
def roster_group():
    """Employers' rosters of insured people."""


@roster_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--source", help="Roster source plugin (by default chosen by the file ending).")
@click.option("--dry-run", is_flag=True, help="Check and count, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def roster_import_command(path, source, dry_run, as_json):
    """Load a roster file: add and update records by policy number (R1–R3)."""
    migrations.upgrade()
    adapters = current_app.extensions["regapp.adapters"]
    try:
        reader = adapters.roster_source(source, path)
        report = roster.import_roster(reader, path, dry_run=dry_run, progress=_read_so_far)
    except (RosterUnreadable, UnknownAdapter) as exc:
        if as_json:
            click.echo(json.dumps({"error": str(exc)}, ensure_ascii=False))
        click.echo(f"Файл не загружен, ничего не изменено: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
        return
    verb = "Проверка (ничего не изменено)" if dry_run else "Загружено"
    click.echo(f"{verb}: добавлено {report.added}, обновлено {report.updated}, "
               f"без изменений {report.unchanged}, отклонено строк {len(report.rejected)}.")
    for item in report.rejected:
        click.echo(f"  строка {item['line']}: {item['reason']}")
    for item in report.warnings:
        click.echo(f"  строка {item['line']} (предупреждение): {item['reason']}")


def _read_so_far(rows):
    """A long import tells the operator it is alive (stderr: the report stays clean)."""
    click.echo(f"… прочитано строк: {rows:,}".replace(",", " "), err=True)


@main.group("support")
def support_group():
    """What the help line needs to see."""


@support_group.command("lookup")
@click.argument("query")
def support_lookup_command(query):
    """Show a person's roster record, account, invitations and refusals (R31).

    QUERY is a policy number, a mobile phone or an e-mail.
    """
    from regapp import support

    migrations.upgrade()
    support.purge(current_app.config["REFUSAL_RETENTION_DAYS"])
    click.echo(support.describe(support.lookup(query, current_app.config["PHONE_REGIONS"])))


@main.group("invitations")
def invitations_group():
    """Invitation e-mails with individual registration links."""


@invitations_group.command("send")
@click.option("--dry-run", is_flag=True, help="Count who would be invited, send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--resend", "policy", metavar="POLICY",
              help="Send this policy's holder a new link; the old one stops working.")
def invitations_send_command(dry_run, as_json, policy):
    """Invite everyone who can register and has not been invited (R4–R6)."""
    migrations.upgrade()
    if policy:
        report = invitations.resend_invitation(policy, dry_run=dry_run)
    else:
        report = invitations.send_invitations(dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        _print_dispatch(report, dry_run)
    if report.refused:
        click.echo(f"Приглашение не отправлено: {report.refused}", err=True)
        sys.exit(1)


def _print_dispatch(report, dry_run):
    verb = "Будет отправлено" if dry_run else "Отправлено"
    click.echo(f"{verb} приглашений: {report.sent}." + (
        f" Из них взамен недоставленных (письмо не дошло): {report.undelivered}."
        if report.undelivered else ""))
    click.echo(f"  без e-mail: {report.no_email}; уже зарегистрированы: {report.registered}; "
               f"уже приглашены (ссылка действует): {report.already_invited}")
    if report.duplicate_email:
        click.echo("  e-mail указан у нескольких застрахованных, приглашение не отправлено "
                   "(исправьте список): " + ", ".join(report.duplicate_email))
