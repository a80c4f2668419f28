"""The task queue that delivers messages (R26): huey, on SQLite by default.

``QUEUE`` is ``sqlite`` (a file in the instance folder; ``run`` and ``demo``
consume it in-process, so no second process is needed), ``redis://…`` (run
``regapp worker`` beside the app processes), or ``immediate`` (tasks run at
once in the calling thread; for tests and one-off scripts).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time

from flask import current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.api import PeriodicTask, Task
from huey.consumer import Consumer

from regapp import messaging
from regapp.db import owner_only
from regapp.settings import REDIS_SCHEMES, REDIS_TIMEOUTS

log = logging.getLogger("regapp.queue")

#: seconds between two log lines saying the queue does not answer
SAY_DOWN_EVERY = 10


class DeliveryQueue:
    """The app's huey instance with its tasks: deliver ids, sweep what is due, forget what
    has had its time, and the staff console's long jobs (issue 16)."""

    #: :meth:`last_beat` while the queue does not answer
    UNKNOWN = object()

    def __init__(self, app):
        self.app = app
        self.huey = make_huey(app.config["QUEUE"], app.instance_path)
        self._deliver = self.huey.task(name="regapp.deliver")(self._deliver_task)
        self._sweep = self.huey.periodic_task(crontab(minute="*"), name="regapp.sweep")(
            self._sweep_task
        )
        # a one-off sweep, once leases a killed process held have run out
        self._sweep_later = self.huey.task(name="regapp.sweep_later")(self._sweep_task)
        self._forget = self.huey.periodic_task(crontab(minute="17"), name="regapp.forget")(
            self._forget_task
        )

        self._job = self.huey.task(name="regapp.staff_job")(self._job_task)
        self.huey.on_back = self._sweep

    def run_job(self, job_id):
        """A staff job (:mod:`regapp.jobs`) as soon as a worker is free; the queue down, the
        sweep hands it over once it is back (``jobs.hand_over_lost``)."""
        with self.unless_down("a staff job waits for the sweep"):
            self._job(job_id)

    def jobs_held(self):
        """The ids of the staff jobs waiting in the queue (every waiting task is read)."""
        return {task.args[0] for task in self.huey.pending() if task.name == self._job.name}

    def note_progress(self, job_id, rows):
        """How far a job got: in the queue's storage, which every process reads (the job's
        own transaction keeps it from the database until the end)."""
        with self.unless_down("a job's progress not noted"):
            self.huey.put(f"regapp.job.{job_id}", rows)

    def job_progress(self, job_id):
        with self.unless_down("a job's progress not read"):
            return self.huey.get(f"regapp.job.{job_id}", peek=True) or 0
        return 0

    def beat(self, job_id):
        """A running job's sign of life, beside its progress (:func:`regapp.jobs.run`)."""
        with self.unless_down("a job's beat not noted"):
            self.huey.put(f"regapp.job.{job_id}.beat", time.time())

    def last_beat(self, job_id, forget=False):
        """When the job's worker last said it was at it (a Unix time), ``None`` if it never
        did, :attr:`UNKNOWN` while the queue does not answer."""
        with self.unless_down("a job's beat not read"):
            return self.huey.get(f"regapp.job.{job_id}.beat", peek=not forget)
        return self.UNKNOWN

    def _job_task(self, job_id):
        from regapp import jobs

        with self.app.app_context():
            jobs.run(job_id, self)

    def enqueue(self, message_ids):
        """Deliver these messages as soon as a worker is free. The queue down, they wait in
        the database, and the minute's sweep sends them once it is back."""
        with self.unless_down("messages wait for the sweep"):
            self._deliver(list(message_ids))

    @contextlib.contextmanager
    def unless_down(self, meanwhile):
        """Go on without the queue's storage while it does not answer (Redis restarted or
        unreachable): what the caller stored is in the database, and the sweep and the
        jobs' hand-over pick it up. Without it, every registration's form ended in a 500
        (R26)."""
        try:
            yield
        except self.huey.down_errors as exc:
            self.huey.say_down(exc, meanwhile)

    @property
    def delivers_in_call(self):
        """Whether :meth:`enqueue` delivers before it returns (``immediate``): only then
        may a message have changed by the time the caller reads it."""
        return self.huey.immediate

    def sweep_now(self):
        """At start: whatever a crash left queued goes out now, not at the next minute, and
        what it was sending goes out as soon as its lease runs out. The queue down, the
        worker starts all the same, and the minute's sweep does it once the queue is back."""
        with self.unless_down("the start's sweep left to the minute's"):
            self._sweep()
            with self.app.app_context():
                free_at = messaging.orphans_free_at()
            if free_at is not None:
                wait = (free_at - messaging.utcnow()).total_seconds()
                self._sweep_later.schedule(delay=max(wait, 0) + 1)

    def _deliver_task(self, message_ids):
        with self.app.app_context():
            outcome = messaging.deliver(message_ids, *self._adapters())
            self._schedule_retries(outcome)

    def _sweep_task(self):
        from regapp import jobs

        with self.app.app_context():
            outcome = messaging.deliver_due(*self._adapters())
            self._schedule_retries(outcome)
            jobs.hand_over_lost(self)

    def _forget_task(self):
        """Hourly: ended sessions, and refusals past their retention (R31)."""
        with self.app.app_context():
            forget(current_app.config)

    def _adapters(self):
        return current_app.extensions["regapp.adapters"], current_app.config

    def _schedule_retries(self, outcome):
        by_delay = {}
        for message_id, delay in outcome.retry.items():
            by_delay.setdefault(delay, []).append(message_id)
        for delay, ids in by_delay.items():  # each one's time is in the database as well
            with self.unless_down("a retry waits for the sweep"):
                self._deliver.schedule(args=(ids,), delay=delay)

    def consumer(self, workers=2):
        """A consumer that runs inside this process, in threads."""
        return InProcessConsumer(self.huey, workers=workers, worker_type="thread",
                                 max_delay=1.0, check_worker_health=False)


class InProcessConsumer(Consumer):
    """A huey consumer that leaves the process's signal handling to its host."""

    def _set_signal_handlers(self):
        pass


def forget(settings):
    """What is kept only for a while: ended sessions, old refusals, rosters uploaded to the
    staff console and never loaded."""
    from regapp import jobs, sessions, support

    jobs.forget_uploads(current_app.instance_path)
    return sessions.purge(settings), support.purge(settings["REFUSAL_RETENTION_DAYS"])


class _Unrevoked:
    """Nothing in regapp revokes a task: huey's look for a task's revoke flag in the queue's
    storage before running it, and the flag's clearing after, were two round trips to
    Redis a message (issue 15)."""

    def is_revoked(self, task, timestamp=None, peek=True):
        return False

    def delete(self, key):
        if key.startswith(_REVOKE_FLAG):  # the flag cleared after a task: there is none
            return False
        return super().delete(key)

    def revoke(self, *args, **kwargs):
        raise NotImplementedError("regapp's tasks are never revoked (see _Unrevoked)")

    revoke_all = revoke_by_id = revoke


#: how huey names a task's revoke flag, ``r:`` and the task's id
_REVOKE_FLAG = Task(id="id").revoke_id.removesuffix("id")


class _SaysWhenDown:
    """The queue's storage not answering, said in the log at most every
    :data:`SAY_DOWN_EVERY` seconds a process, in one line; a consumer's read of it then
    pauses a second, where huey wrote a traceback of fifty lines at every try."""

    down_errors = ()  #: what the storage raises when it does not answer
    _said_down_at = -SAY_DOWN_EVERY
    was_down = False
    #: called when a consumer's read succeeds again after the queue was down: the sweep,
    #: so what waited goes out within seconds, not at the next minute
    on_back = None

    def say_down(self, exc, meanwhile):
        if time.monotonic() >= self._said_down_at + SAY_DOWN_EVERY:
            self._said_down_at = time.monotonic()
            log.error("the queue does not answer (%s): %s", type(exc).__name__, meanwhile)

    def dequeue(self):
        try:
            task = super().dequeue()
        except self.down_errors as exc:
            self.was_down = True
            self.say_down(exc, "nothing delivered until it does")
            time.sleep(1)
            return None
        if self.was_down:
            self.was_down = False
            log.warning("the queue answers again: what waited goes out now")
            if self.on_back:
                self.on_back()
        return task

    def read_schedule(self, timestamp):
        """The consumer's scheduler, every second: what is due (nothing, the queue down)."""
        try:
            return super().read_schedule(timestamp)
        except self.down_errors as exc:
            self.say_down(exc, "nothing delivered until it does")
            return []

    def enqueue(self, task):
        """A periodic task the scheduler hands in (the minute's sweep) is skipped while the
        queue is down, said as the rest; every other task's caller decides."""
        try:
            return super().enqueue(task)
        except self.down_errors as exc:
            if not isinstance(task, PeriodicTask):
                raise
            self.say_down(exc, f"{task.name} skipped")
            return None


class _SqliteHuey(_SaysWhenDown, _Unrevoked, SqliteHuey):
    down_errors = (sqlite3.OperationalError,)  # the file locked past huey's wait, or gone


class _MemoryHuey(_SaysWhenDown, _Unrevoked, MemoryHuey):
    pass


class _RedisHuey(_SaysWhenDown, _Unrevoked, RedisHuey):
    def __init__(self, *args, **kwargs):
        from redis.exceptions import ConnectionError as Unreachable  # an extra: only here
        from redis.exceptions import TimeoutError as TooSlow

        super().__init__(*args, **kwargs)
        self.down_errors = (Unreachable, TooSlow)


def make_huey(setting, instance_path):
    """Build the huey storage that the ``QUEUE`` setting names."""
    if setting == "sqlite":
        filename = os.path.join(instance_path, "queue.db")
        owner_only(filename)
        return _SqliteHuey("regapp", filename=filename)
    if setting == "immediate":
        return _MemoryHuey("regapp", immediate=True)
    if setting.startswith(REDIS_SCHEMES):
        from redis import ConnectionPool  # an extra: here only when it is used

        return _RedisHuey("regapp", connection_pool=ConnectionPool.from_url(
            setting, **REDIS_TIMEOUTS))
    raise ValueError(f"QUEUE = {setting!r}: expected 'sqlite', 'redis://…' or 'immediate'")


def init_app(app):
    """Build the queue and keep it on the app."""
    app.extensions["regapp.queue"] = DeliveryQueue(app)
