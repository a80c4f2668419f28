"""The operators' figures (issue 16): the funnel against a roster with known outcomes, its CSV
(formula injection neutralised), delivery state and a failed invitation sent again."""

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from regapp import delivery_report, funnel
from regapp.models import Account, Invitation, Message, PendingRegistration, RosterRecord, utcnow
from regapp.roster import import_roster
from regapp.testing.peers import free_port
from tests.helpers import csrf
from tests.rosters import person, write_csv

NOW = utcnow()


def _people(app):
    """Ромашка: 10 people, 6 invited, 4 sent the link's form, 3 registered by link (1 with
    Gosuslugi, 2 e-mails confirmed) and 1 without a link. Вектор: 5, all invited, nobody
    further. «=HYPERLINK(…)»: one person, nothing else (a hostile employer name)."""
    rows = [person(f"R{n}", email=f"r{n}@example.com", employer="ООО «Ромашка»")
            for n in range(10)]
    rows += [person(f"V{n}", email=f"v{n}@example.com", employer="АО «Вектор»") for n in range(5)]
    rows += [person("X1", employer='=HYPERLINK("http://evil")')]
    path = write_csv(Path(app.instance_path) / "r.csv", rows)
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"), str(path))
    record = {r.policy_number: r for r in RosterRecord.select()}
    invited = {}
    for policy in [f"R{n}" for n in range(6)] + [f"V{n}" for n in range(5)]:
        invited[policy] = Invitation.create(record=record[policy], token_hash=f"h-{policy}",
                                            email=record[policy].email,
                                            expires_at=NOW + dt.timedelta(days=30))
    for n in range(4):
        _pending(record[f"R{n}"], invited[f"R{n}"])
    for n, (esia, confirmed) in enumerate([("oid-1", True), (None, True), (None, False)]):
        account = _account(record[f"R{n}"], esia, confirmed)
        Invitation.update(spent_at=NOW).where(Invitation.id == invited[f"R{n}"].id).execute()
        PendingRegistration.update(account=account).where(
            PendingRegistration.record == record[f"R{n}"]).execute()
    _account(record["R9"], None, False)  # without a link
    return record


def _pending(record, invitation):
    return PendingRegistration.create(
        id=f"p-{record.policy_number}", record=record, invitation=invitation,
        phone=f"+7916{record.id:07d}", email=record.email, email_key=record.email,
        password_hash="x", consents="{}", channel="link", expires_at=NOW + dt.timedelta(hours=1))


def _account(record, esia, confirmed):
    return Account.create(record=record, phone=f"+7916{record.id:07d}", email=record.email,
                          email_key=record.email, password_hash="x", esia_id=esia,
                          email_confirmed=confirmed)


def test_the_funnel_counts_what_happened_per_employer_and_in_all(app):
    _people(app)
    rows, total = funnel.funnel()
    by_name = {row.employer: row for row in rows}
    romashka = by_name["ООО «Ромашка»"]
    assert (romashka.roster, romashka.invited, romashka.followed, romashka.registered,
            romashka.by_link, romashka.by_form, romashka.with_esia,
            romashka.email_confirmed) == (10, 6, 4, 4, 3, 1, 1, 2)
    vector = by_name["АО «Вектор»"]
    assert (vector.roster, vector.invited, vector.followed, vector.registered) == (5, 5, 0, 0)
    assert (total.roster, total.invited, total.registered, total.by_link) == (16, 11, 4, 3)
    assert romashka.share("registered") == 40.0 and vector.share("invited") == 100.0


def test_the_funnel_filters_by_employer_and_dates(app):
    _people(app)
    rows, total = funnel.funnel(employer="АО «Вектор»")
    assert [r.employer for r in rows] == ["АО «Вектор»"] and total.roster == 5
    # from now, not from the module's import: a run that crossed midnight counted them all
    tomorrow = (utcnow() + dt.timedelta(days=1)).date()
    _, later = funnel.funnel(since=tomorrow)
    assert (later.roster, later.invited, later.registered) == (16, 0, 0)


def test_the_csv_export_defuses_formulas(app):
    _people(app)
    text = funnel.as_csv(*funnel.funnel())
    assert text.startswith("\ufeff")
    cells = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert cells[0][0] == "Страхователь" and cells[-1][0] == "Все"
    hostile = next(row for row in cells if "HYPERLINK" in row[0])
    assert hostile[0].startswith("'=")


def test_operators_see_the_funnel_and_deliveries_support_does_not(app, client):
    from tests.test_staff import signed_in_as

    _people(app)
    operator = signed_in_as(app, client, "operator")
    page = operator.get("/staff/funnel").get_data(as_text=True)
    assert "ООО «Ромашка»" in page and "40.0%" in page
    exported = operator.get("/staff/funnel?format=csv")
    assert exported.mimetype == "text/csv" and "'=HYPERLINK" in exported.get_data(as_text=True)
    assert operator.get("/staff/deliveries").status_code == 200
    support = signed_in_as(app, app.test_client(), "support")
    assert support.get("/staff/funnel").status_code == 403
    assert support.get("/staff/deliveries").status_code == 403


def test_a_failed_invitation_is_shown_and_sent_again_as_a_new_link(app):
    record = _people(app)
    message = Message.create(channel="email", kind="invitation", to="v4@example.com",
                             text="", status="failed", last_error="SMTP 550: no such user")
    Invitation.update(message=message).where(
        Invitation.record == record["V4"]).execute()
    [failed] = delivery_report.failed()
    assert (failed.to, failed.reason, failed.invitation_policy) == (
        "v***@example.com", "SMTP 550: no such user", "V4")
    from tests.test_staff import signed_in_as

    page = signed_in_as(app, app.test_client(), "operator").get("/staff/deliveries").get_data(
        as_text=True)  # its form asks the reason as every console action does
    assert (f'<label class="field__label" for="reason-{message.id}">Причина (для журнала)'
            f'</label>') in page and f'id="reason-{message.id}" name="reason" required' in page
    table = delivery_report.by_day()
    assert sum(counts.get("failed", 0) for counts in table.values()) == 1
    report = delivery_report.resend(message.id)
    assert report.sent == 1
    assert Invitation.select().where((Invitation.record == record["V4"])
                                     & Invitation.revoked_at.is_null()).count() == 1
    code = Message.create(channel="sms", kind="code", to="+79160000000", text="",
                          status="failed", last_error="gateway 500")
    assert delivery_report.resend(code.id) is None


def test_an_uploaded_roster_is_checked_then_loaded_in_the_queue(app, client, tmp_path):
    from tests.test_staff import signed_in_as

    operator = signed_in_as(app, client, "operator")
    page = operator.get("/staff/roster").get_data(as_text=True)
    rows = [person(f"U{n}", email=f"u{n}@example.com", employer="ООО «Ромашка»")
            for n in range(12_000)] + [person("BAD", born="31.02.1990")]
    path = write_csv(tmp_path / "list.csv", rows)
    with open(path, "rb") as f:
        checked = operator.post("/staff/roster", data={
            "csrf_token": csrf(page), "roster": (f, "list.csv")},
            content_type="multipart/form-data")
    assert checked.status_code == 303
    report = operator.get(checked.headers["Location"]).get_data(as_text=True)
    assert "добавится 12000" in report and "строка 12002" in report and "Загрузить" in report
    assert RosterRecord.select().count() == 0  # a check changes nothing
    job_id = checked.headers["Location"].rsplit("/", 1)[1]
    assert app.extensions["regapp.queue"].job_progress(job_id) == 10_000  # said as it went
    loaded = operator.post(f"/staff/jobs/{job_id}/load", data={"csrf_token": csrf(report)})
    assert "Загружено: добавится 12000" in operator.get(loaded.headers["Location"]).get_data(
        as_text=True)
    assert RosterRecord.select().count() == 12_000
    assert not list((Path(app.instance_path) / "uploads").iterdir())  # loaded: file gone


@pytest.mark.parametrize("kind", ["roster", "invitations"])
def test_a_jobs_own_fault_ends_it_and_says_whom_to_tell(app, client, tmp_path, monkeypatch,
                                                        caplog, kind):
    # the job stayed «running», its page polling for ever, when its work raised anything but
    # an unreadable file
    from regapp import invitations, roster
    from tests.test_staff import signed_in_as

    def broken(*args, **kwargs):
        raise RuntimeError("a fault of ours")

    operator = signed_in_as(app, client, "operator")
    page = operator.get(f"/staff/{kind}").get_data(as_text=True)
    monkeypatch.setattr(roster, "import_roster", broken)
    monkeypatch.setattr(invitations, "send_invitations", broken)  # after its page's preview
    if kind == "roster":
        with open(write_csv(tmp_path / "list.csv", [person("U1")]), "rb") as f:
            started = operator.post("/staff/roster", data={
                "csrf_token": csrf(page), "roster": (f, "list.csv")},
                content_type="multipart/form-data")
    else:
        started = operator.post("/staff/invitations", data={"csrf_token": csrf(page)})
    assert started.status_code == 303
    job_id = started.headers["Location"].rsplit("/", 1)[1]
    report = operator.get(started.headers["Location"]).get_data(as_text=True)
    assert f"внутренняя ошибка: сообщите дежурному номер задачи {job_id}" in report
    assert ("ничего не изменено" in report) == (kind == "roster")
    assert ("отправьте снова" in report) == (kind == "invitations")
    assert 'hx-trigger="every 1s"' not in report  # the page waits no more
    assert "a fault of ours" in caplog.text  # the traceback for whoever is on call


def test_a_file_that_is_no_roster_is_refused_beside_the_field(app, client):
    from tests.test_staff import signed_in_as

    operator = signed_in_as(app, client, "operator")
    page = operator.get("/staff/roster").get_data(as_text=True)
    refused = operator.post("/staff/roster", data={
        "csrf_token": csrf(page), "roster": (io.BytesIO(b"MZ\x90"), "virus.exe")},
        content_type="multipart/form-data")
    assert refused.status_code == 400 and "Нужен файл списка" in refused.get_data(as_text=True)


def test_invitations_show_what_would_go_then_go_in_the_queue(app, client):
    from tests.test_staff import signed_in_as

    _people(app)
    operator = signed_in_as(app, client, "operator")
    page = operator.get("/staff/invitations").get_data(as_text=True)
    assert "Новых приглашений: <strong>3</strong>" in page  # R6, R7, R8
    sent = operator.post("/staff/invitations", data={"csrf_token": csrf(page)})
    report = operator.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Отправлено приглашений: 3" in report
    again = operator.get("/staff/invitations").get_data(as_text=True)
    assert "Новых приглашений: <strong>0</strong>" in again


def test_support_sees_the_persons_messages_with_their_fate(app):
    from regapp import support

    _people(app)
    Message.create(channel="email", kind="invitation", to="r7@example.com", text="",
                   status="failed", last_error="SMTP 550: mailbox unavailable")
    Message.create(channel="email", kind="invitation", to="someone@else.example", text="",
                   status="failed", last_error="not theirs")
    said = support.describe(support.lookup("R7"))
    assert "приглашение на r7@example.com: не доставлено (SMTP 550: mailbox unavailable)" in said
    assert "not theirs" not in said


def test_an_xlsx_roster_goes_through_the_console_too(app, client, tmp_path):
    from tests.rosters import typed_xlsx_people, write_xlsx
    from tests.test_staff import signed_in_as

    operator = signed_in_as(app, client, "operator")
    page = operator.get("/staff/roster").get_data(as_text=True)
    path = write_xlsx(tmp_path / "Список.xlsx", typed_xlsx_people())
    with open(path, "rb") as f:
        checked = operator.post("/staff/roster", data={
            "csrf_token": csrf(page), "roster": (f, "Список.xlsx")},
            content_type="multipart/form-data")
    report = operator.get(checked.headers["Location"]).get_data(as_text=True)
    assert f"добавится {len(typed_xlsx_people())}" in report


def test_invitations_say_how_many_replace_an_expired_link(app):
    from regapp import invitations

    record = _people(app)
    Invitation.update(expires_at=NOW - dt.timedelta(days=1)).where(
        Invitation.record == record["V1"]).execute()
    would = invitations.send_invitations(dry_run=True)
    assert (would.sent, would.expired) == (4, 1)  # R6, R7, R8, and V1 again


def test_an_upload_checked_but_never_loaded_is_forgotten_after_a_day(app, tmp_path):
    import os
    import time

    from regapp import jobs

    old = jobs.keep_upload(io.BytesIO(b"a;b\n"), "old.csv", app.instance_path)
    fresh = jobs.keep_upload(io.BytesIO(b"a;b\n"), "fresh.csv", app.instance_path)
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    assert oct(os.stat(fresh).st_mode & 0o777) == "0o600"
    assert jobs.forget_uploads(app.instance_path) == 1
    assert not os.path.exists(old) and os.path.exists(fresh)


def test_a_roster_with_a_very_long_name_is_taken(app, client):  # PostgreSQL's varchar(255)
    from tests.test_staff import signed_in_as

    operator = signed_in_as(app, client, "operator")
    page = operator.get("/staff/roster").get_data(as_text=True)
    name = "с" * 400 + ".csv"
    checked = operator.post("/staff/roster", data={
        "csrf_token": csrf(page), "roster": (io.BytesIO("Номер полиса;Фамилия;Имя;Дата рождения\n"
                                                         "P1;Иванов;Иван;01.02.1985\n".encode()),
                                             name)}, content_type="multipart/form-data")
    assert checked.status_code == 303
    assert "добавится 1" in operator.get(checked.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("kind", ["roster_load", "invitations"])
def test_a_job_whose_worker_ended_is_failed_not_running_for_ever(app, client, caplog, kind):
    # a worker killed mid-job (out of memory, a restart) left it «running», the page polling
    # for ever: jobs had no lease the way messages do
    import time

    from regapp import jobs
    from regapp.models import StaffJob
    from tests.test_staff import signed_in_as

    operator = signed_in_as(app, client, "operator")
    queue = app.extensions["regapp.queue"]
    job = StaffJob.create(id=f"lost-{kind}", kind=kind, staff="operator", status="running",
                          filename="list.csv")
    queue.beat(job.id)
    assert 'hx-trigger="every 1s"' in operator.get(f"/staff/jobs/{job.id}").get_data(
        as_text=True)  # beaten a moment ago: still at it
    queue.huey.put(f"regapp.job.{job.id}.beat", time.time() - jobs.LEASE - 1)
    report = operator.get(f"/staff/jobs/{job.id}").get_data(as_text=True)
    assert "задача прервалась: её обработчик остановился" in report
    assert ("ничего не изменено" in report) == (kind == "roster_load")  # one transaction
    assert ("отправьте снова" in report) == (kind == "invitations")
    assert 'hx-trigger="every 1s"' not in report
    assert f"staff job {job.id}" in caplog.text


def test_a_running_job_beats_until_it_ends(app, monkeypatch, tmp_path):
    import time

    from regapp import jobs, roster
    from regapp.models import StaffJob

    queue = app.extensions["regapp.queue"]
    monkeypatch.setattr(jobs, "BEAT", 0.05)
    seen = []

    def slow_import(source, location, dry_run=False, progress=None):
        seen.append(queue.last_beat(job.id))
        time.sleep(0.3)
        seen.append(queue.last_beat(job.id))
        seen.append(jobs.state(job.id, queue, now=time.time() + jobs.LEASE - 1)[0].status)
        return roster.ImportReport()

    monkeypatch.setattr(roster, "import_roster", slow_import)
    job = StaffJob.create(id="slow", kind="roster_check", staff="operator",
                          path=write_csv(tmp_path / "list.csv", [person("U1")]),
                          filename="list.csv")
    jobs.run(job.id, queue)
    assert seen[0] is not None and seen[1] > seen[0] and seen[2] == "running"
    assert StaffJob.get_by_id(job.id).status == "done"
    assert queue.last_beat(job.id) is None  # nothing left in the queue's storage


@pytest.mark.settings(QUEUE="sqlite")
def test_a_queued_job_the_queue_lost_is_handed_over_again_and_done_once(
        app, monkeypatch, tmp_path, caplog):
    # the queue's storage lost the task (a Redis restart), or a worker was killed as it took
    # it: the page said «В очереди…» for ever
    from regapp import jobs, roster
    from regapp.models import StaffJob

    queue = app.extensions["regapp.queue"]
    imports = []
    monkeypatch.setattr(roster, "import_roster", lambda *args, **kwargs: imports.append(
        args) or roster.ImportReport())
    job = StaffJob.create(id="waiting", kind="roster_check", staff="operator",
                          path=write_csv(tmp_path / "list.csv", [person("U1")]),
                          filename="list.csv")
    queue.run_job(job.id)
    later = utcnow() + jobs.HAND_OVER_AFTER + dt.timedelta(seconds=1)
    assert jobs.hand_over_lost(queue, now=later) == []  # held: waiting its turn
    queue.huey.storage.flush_queue()
    assert queue.jobs_held() == set()
    assert jobs.hand_over_lost(queue) == []  # just queued: a worker may be about to take it
    assert jobs.hand_over_lost(queue, now=later) == [job.id]
    assert jobs.hand_over_lost(queue, now=later) == []  # held again: handed over once
    assert "staff job waiting: queued, but the queue no longer holds it" in caplog.text
    queue.run_job(job.id)  # and the lost one turns up after all: two hands, one job
    for task in (queue.huey.dequeue(), queue.huey.dequeue()):
        queue.huey.execute(task)
    assert StaffJob.get_by_id(job.id).status == "done" and len(imports) == 1


def test_a_second_hand_leaves_the_running_job_and_its_beat_alone(app):
    from regapp import jobs
    from regapp.models import StaffJob

    queue = app.extensions["regapp.queue"]
    job = StaffJob.create(id="taken", kind="roster_check", staff="operator", status="running")
    queue.beat(job.id)
    beaten = queue.last_beat(job.id)
    jobs.run(job.id, queue)
    assert StaffJob.get_by_id(job.id).status == "running"
    assert queue.last_beat(job.id) == beaten  # the first worker's beat still there


@pytest.mark.settings(QUEUE="sqlite")
def test_the_minutes_sweep_hands_lost_jobs_over(app, monkeypatch):
    from regapp import jobs
    from regapp.models import StaffJob

    queue = app.extensions["regapp.queue"]
    monkeypatch.setattr(jobs, "HAND_OVER_AFTER", dt.timedelta(0))
    StaffJob.create(id="forgotten", kind="invitations", staff="operator",
                    created_at=utcnow() - dt.timedelta(seconds=1))
    queue._sweep_task()
    assert queue.jobs_held() == {"forgotten"}


@pytest.mark.settings(QUEUE=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
def test_the_queue_down_a_job_waits_runs_and_is_not_called_lost(app, client, tmp_path,
                                                                 monkeypatch, caplog):
    """Redis gone: the operator's job is recorded and waits for the sweep's hand-over (a
    500 before), its page answers without marking it lost, and a job that runs meanwhile
    loses neither its rows nor its end for want of a place to note its progress."""
    from regapp import jobs
    from regapp.models import StaffJob
    from tests.test_staff import signed_in_as

    queue = app.extensions["regapp.queue"]
    operator = signed_in_as(app, client, "operator")
    job = jobs.start("roster_check", {"sub": "operator", "roles": ["operator"]}, write_csv(
        tmp_path / "list.csv", [person("U1")]), "list.csv")
    assert StaffJob.get_by_id(job.id).status == "queued"
    assert "the queue does not answer" in caplog.text
    monkeypatch.setattr(jobs, "BEAT", 0.01)
    jobs.run(job.id, queue)  # as a worker would once it has the job
    done = StaffJob.get_by_id(job.id)
    assert done.status == "done" and json.loads(done.result)["added"] == 1
    running = StaffJob.create(id="running", kind="roster_load", staff="operator",
                              status="running")
    page = operator.get(f"/staff/jobs/{running.id}")
    assert page.status_code == 200 and 'hx-trigger="every 1s"' in page.get_data(as_text=True)
    assert StaffJob.get_by_id(running.id).status == "running"
