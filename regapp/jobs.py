"""Long staff work in the queue, not in a request (issue 16): checking or loading an uploaded
roster, sending invitations. The page that started it polls :func:`state` until done.

Plain Python over the models: the queue's task calls :func:`run`; tests call it too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import threading
import time

from flask import current_app

from regapp import audit, invitations, roster
from regapp.adapters import RosterUnreadable
from regapp.db import write_transaction
from regapp.models import StaffJob, utcnow
from regapp.pluginmanager import UnknownAdapter
from regapp.texts import text

KINDS = ("roster_check", "roster_load", "invitations")
#: the largest roster file the console takes (a million rows of XLSX is about 60 MiB)
MAX_UPLOAD = 256 * 2**20
#: how long an upload checked but not loaded is kept
UPLOADS_KEPT = dt.timedelta(days=1)
#: a running job's worker says so this often (seconds); one silent for LEASE has ended
BEAT = 5
LEASE = 60
#: a job still queued this long may have been lost with the queue's storage (a Redis
#: restart) or with a worker killed as it took it: handed over again if the queue lacks it
HAND_OVER_AFTER = dt.timedelta(minutes=2)

log = logging.getLogger(__name__)


def keep_upload(stream, filename, instance_path):
    """Save an uploaded roster under the instance folder (owner only); return its path."""
    folder = os.path.join(instance_path, "uploads")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    suffix = os.path.splitext(filename)[1].lower()[:8]
    path = os.path.join(folder, secrets.token_hex(16) + suffix)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        while chunk := stream.read(1 << 20):
            f.write(chunk)
    return path


def start(kind, staff, path="", filename=""):
    """Record the job (audited) and hand it to the queue."""
    assert kind in KINDS
    job = StaffJob.create(id=secrets.token_urlsafe(12), kind=kind, staff=staff["sub"],
                          path=path, filename=filename)
    audit.record(staff, kind, subject=filename, job=job.id)
    current_app.extensions["regapp.queue"].run_job(job.id)
    return job


def state(job_id, queue, now=None):
    """``(job, rows read so far)`` for the page, or ``(None, 0)``. A running job whose
    worker has not beaten for :data:`LEASE` ended with it (killed, out of memory, a
    restart): it is marked failed, so the page stops waiting for it."""
    job = StaffJob.get_or_none(StaffJob.id == job_id)
    if job and job.status == "running" and _lost(job, queue, now or time.time()):
        log.error("staff job %s (%s): its worker stopped beating", job.id, job.kind)
        _finish(job, "failed", error=_failure_text(job, "staff.job_lost"), only_running=True)
        job = StaffJob.get_by_id(job_id)
    return job, (queue.job_progress(job_id) if job else 0)


def run(job_id, queue):
    """Do the job, beating while it runs; its report or its failure goes on its row. A job
    handed over twice (:func:`hand_over_lost`) is done once: the first worker takes it."""
    job = StaffJob.get_by_id(job_id)
    if job.status != "queued":
        return
    with _beating(job.id, queue):
        if not _take(job):
            return  # another worker took it between the two looks, and beats for it
        try:
            result = _WORK[job.kind](job, lambda rows: queue.note_progress(job.id, rows))
        except (RosterUnreadable, UnknownAdapter) as exc:
            _finish(job, "failed", error=str(exc))
        except Exception:
            # a fault of ours, not the file's: the page stops waiting for a job no worker holds
            log.exception("staff job %s (%s) failed", job.id, job.kind)
            _finish(job, "failed", error=_failure_text(job, "staff.job_fault"))
        else:
            _finish(job, "done", result=json.dumps(result, ensure_ascii=False))
    queue.last_beat(job.id, forget=True)
    if job.kind == "roster_load" and job.path and os.path.exists(job.path):
        os.remove(job.path)  # loaded: the file's people are in the database now


def hand_over_lost(queue, now=None):
    """Hand over again the jobs queued for :data:`HAND_OVER_AFTER` that the queue no longer
    holds (the sweep's, every minute); return their ids. One a worker has just taken and
    not yet marked running is handed over too, and done once all the same (:func:`run`)."""
    since = (now or utcnow()) - HAND_OVER_AFTER
    waiting = [job.id for job in StaffJob.select(StaffJob.id).where(
        (StaffJob.status == "queued") & (StaffJob.created_at < since))]
    held = queue.jobs_held() if waiting else set()
    lost = [job_id for job_id in waiting if job_id not in held]
    for job_id in lost:
        log.warning("staff job %s: queued, but the queue no longer holds it; handed over "
                    "again", job_id)
        queue.run_job(job_id)
    return lost


def forget_uploads(instance_path, older_than=UPLOADS_KEPT, now=None):
    """Uploads checked but never loaded go after a day (the people in them with them)."""
    folder = os.path.join(instance_path, "uploads")
    cutoff = (now or time.time()) - older_than.total_seconds()
    gone = 0
    for entry in os.scandir(folder) if os.path.isdir(folder) else ():
        if entry.is_file() and entry.stat().st_mtime < cutoff:
            os.remove(entry.path)
            gone += 1
    return gone


def _take(job):
    """Mark the job running if it is still queued; whether this worker has it."""
    return StaffJob.update(status="running").where(
        (StaffJob.id == job.id) & (StaffJob.status == "queued")).execute() == 1


def _finish(job, status, result="", error="", only_running=False):
    which = StaffJob.id == job.id
    if only_running:  # not over a finish the worker wrote meanwhile
        which &= StaffJob.status == "running"
    with write_transaction():
        StaffJob.update(status=status, result=result, error=error,
                        finished_at=utcnow()).where(which).execute()


def _failure_text(job, key):
    """Why a job failed, in the page's words; invitations add that some may have gone."""
    return text(key, job=job.id) + (
        text("staff.job_fault.invitations") if job.kind == "invitations" else "")


@contextlib.contextmanager
def _beating(job_id, queue):
    """The job's beat every :data:`BEAT` seconds from a thread of its own, from before the
    job is marked running (so a running job always has one) until it ends. In the queue's
    storage, not the database, where the work's own transaction would hold it up."""
    done = threading.Event()

    def beat():
        while not done.wait(BEAT):
            queue.beat(job_id)

    thread = threading.Thread(target=beat, name=f"beat-{job_id}", daemon=True)
    queue.beat(job_id)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _lost(job, queue, now):
    """Whether the job's worker has stopped beating; not known while the queue is down."""
    beat = queue.last_beat(job.id)
    return beat is not queue.UNKNOWN and (beat is None or now - beat > LEASE)


def _roster(job, progress, dry_run):
    source = current_app.extensions["regapp.adapters"].roster_source(None, job.filename)
    return roster.import_roster(source, job.path, dry_run=dry_run, progress=progress).as_json()


_WORK = {
    "roster_check": lambda job, progress: _roster(job, progress, dry_run=True),
    "roster_load": lambda job, progress: _roster(job, progress, dry_run=False),
    "invitations": lambda job, progress: invitations.send_invitations().as_json(),
}
