"""huey, the queue that carries "run job N" to the workers.

Why huey (README, "Background work"): one small, long-kept library (since 2011, one
maintainer, no dependencies of its own) whose queue lives where this service's data already
lives: a SQLite file beside the embedded database, so ``make run`` needs nothing else, and
the service's own PostgreSQL when ``DATABASE_URL`` is set, so several servers and workers
share one queue without Redis or RabbitMQ to run. It brings the consumer (threads, clean
shutdown on SIGTERM), delayed messages (a retry's backoff) and a periodic scheduler.

What huey does not promise is that a message survives a worker killed while holding it
(it deletes the message when it hands it out). So a message is only a pointer: the
``jobs`` row is the truth, and the sweep here, run every minute by each worker's scheduler
and once when a worker starts, hands out again every job whose message was lost (a queued
job nobody took, a running job whose worker stopped beating). A message delivered twice
finds its job claimed and does nothing (``jobs.records.claim``).

Periodic work (the Stripe sync, the overdue reminders) is submitted by the same sweep as
jobs with a key per slot (``slot:stripe_sync@2026-12-05T10:00``): two workers' schedulers
firing in the same minute make one job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import psycopg
from huey import Huey, MemoryHuey, PostgresHuey, SqliteHuey, crontab
from huey.storage import PostgresStorage
from sqlalchemy.engine import Engine

import jobs.kinds  # noqa: F401  (every kind registered before the sweep reads them)
from foundation.db import utcnow
from jobs import records
from jobs.registry import KINDS

log = logging.getLogger("placefund.jobs")

#: The queue's name inside its storage (huey keeps several queues in one table)
QUEUE_NAME = "placefund"
#: Table prefix of huey's tables on PostgreSQL (migration 0016 makes them)
PG_TABLE_PREFIX = "huey"


def storage_path(engine: Engine) -> Path | None:
    """The SQLite file of the queue beside an embedded database file: ``placefund.db`` ->
    ``placefund-jobs.db``. None for PostgreSQL or an in-memory database."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    path = Path(database)
    return path.with_name(f"{path.stem}-jobs.db")


def pg_connect(
    engine: Engine, connect_args: dict | None = None
) -> Callable[[], psycopg.Connection]:
    """How huey opens its own connections to the service's PostgreSQL: the engine's address
    and its connection options (a test's search_path), outside SQLAlchemy's pool."""
    url = engine.url.set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    options = {k: v for k, v in (connect_args or {}).items() if k in ("options",)}

    def connect() -> psycopg.Connection:
        return psycopg.connect(conninfo, connect_timeout=10, **options)

    return connect


class _NoRevoking:
    """Nothing is revoked through huey (a job is cancelled in its row), so huey need not ask
    its storage about revocation before and after every message: two round trips fewer per
    job, and two fewer places where a dropped connection would lose a message already taken
    from the queue (huey deletes it when it hands it out)."""

    def is_revoked(self, task, timestamp=None, peek=True) -> bool:
        return False

    def delete(self, key):
        if isinstance(key, str) and key.startswith("r:"):  # a task's revoke id
            return False
        return super().delete(key)


class _PostgresStorage(PostgresStorage):
    """huey's PostgreSQL storage, writing a message twice before giving up. huey keeps one
    connection per process and learns that the database dropped it (a restart, a failover,
    a terminated backend) only when it next uses it, failing that call; the next call opens
    a new one. A message that fails there is lost to whoever sends it (the scheduler moving
    a due retry to the queue drops it with a log line), so the write is tried once more. A
    write that had committed before the error leaves a duplicate message, which finds its
    job claimed and does nothing."""

    def enqueue(self, data, priority=None):
        return self._twice(super().enqueue, data, priority)

    def add_to_schedule(self, data, ts):
        return self._twice(super().add_to_schedule, data, ts)

    @staticmethod
    def _twice(write, *args):
        try:
            return write(*args)
        except psycopg.OperationalError:
            log.warning("the queue's connection was lost; writing the message again")
            return write(*args)


class _PostgresHuey(_NoRevoking, PostgresHuey):
    storage_class = _PostgresStorage


class _SqliteHuey(_NoRevoking, SqliteHuey):
    pass


def make_huey(engine: Engine, connect_args: dict | None = None) -> Huey:
    """The huey for this database. No result store: outcomes are in the ``jobs`` rows."""
    common = {"results": False, "utc": True}
    if engine.dialect.name == "postgresql":
        return _PostgresHuey(
            QUEUE_NAME,
            connection=pg_connect(engine, connect_args),
            table_prefix=PG_TABLE_PREFIX,
            create_tables=False,  # the migrations make them, like every other table
            read_timeout=1,
            **common,
        )
    path = storage_path(engine)
    if path is None:  # an in-memory database lives in one process: so can its queue
        return MemoryHuey(QUEUE_NAME, **common)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _SqliteHuey(QUEUE_NAME, filename=str(path), timeout=30, **common)


class Queue:
    """The service's queue: hands jobs to workers and runs the minute's sweep.

    ``execute``: what a worker does with "run job N" (``jobs.runner.Runner.run``); None in
    the web processes, which only enqueue.
    """

    def __init__(
        self,
        database,
        *,
        execute: Callable[[int], float | None] | None = None,
    ):
        self.database = database
        # A test's search_path travels in the connection options (tests/conftest.py)
        self.huey = make_huey(database.engine, getattr(database, "connect_args", None))
        self.execute = execute
        # The one task every job travels in, and the sweep every worker's scheduler runs
        self._job = self.huey.task(name="placefund.job")(self._run)
        self.huey.periodic_task(crontab(minute="*"), name="placefund.sweep")(self.sweep)

    def _run(self, job_id: int) -> None:
        if self.execute is None:
            raise RuntimeError("this process only enqueues jobs; run `placefund worker`")
        delay = self.execute(job_id)
        if delay:  # the attempt failed; the job is queued again after its backoff
            try:
                self.enqueue(job_id, delay=delay)
            except Exception:  # the queue's database is away: the sweep hands it out
                log.warning("could not enqueue job %s again; the sweep will", job_id,
                            exc_info=True)  # fmt: skip

    def enqueue(self, job_id: int, *, delay: float | None = None) -> None:
        """Hand job ``job_id`` to the workers (now, or after ``delay`` seconds)."""
        if delay:
            self._job.schedule(args=(job_id,), delay=delay)
        else:
            self._job(job_id)

    def enqueue_quietly(self, job_id: int) -> None:
        """``enqueue`` after the job's row committed: should the queue be unreachable, the
        job stays queued and the next sweep hands it out (never an error for the caller)."""
        try:
            self.enqueue(job_id)
        except Exception:
            log.warning("could not enqueue job %s; the sweep will", job_id, exc_info=True)

    def sweep(self, now: dt.datetime | None = None) -> list[int]:
        """Submit what the schedule asks for this minute, hand out again every job whose
        message was lost, and forget the workers silent for a day. Returns the ids handed
        out."""
        now = now or utcnow()
        with self.database.session() as session, session.begin():
            made = []
            for kind in KINDS.values():
                if kind.schedule is not None and kind.schedule(now):
                    job, created = records.submit_slot(session, kind.name, now)
                    if created:
                        made.append(job.id)
            # A slot's new job is marked enqueued now, so ``lost`` would leave it for two
            # minutes: it travels with this sweep's messages (only the sweep that made it)
            ids = made + records.lost(session, now)
            # Workers gone for a day: their heartbeat rows would only grow with each restart
            forgotten = records.forget_workers(session, now)
        for job_id in ids:
            self.enqueue_quietly(job_id)
        if ids:
            log.info("jobs handed out by the sweep", extra={"jobs": ids})
        if forgotten:
            log.info("workers silent for a day forgotten", extra={"workers": forgotten})
        return ids

    def close(self) -> None:
        """Close huey's own connections (PostgreSQL: one, opened on first use, which huey
        otherwise leaves to the garbage collector). The queue opens them again if used."""
        self.huey.storage.close()

    def depth(self) -> int:
        """Messages waiting in the queue (delayed ones included)."""
        return self.huey.pending_count() + self.huey.scheduled_count()

    def drain(self) -> int:
        """Run every message due now, in this process, as a worker would (tests and
        ``placefund jobs run``). Returns how many ran."""
        ran = 0
        while True:
            # Delayed messages now due join the queue, as the consumer's scheduler does
            for due in self.huey.read_schedule():
                self.huey.enqueue(due)
            task = self.huey.dequeue()
            if task is None:
                return ran
            # A message for later (a retry's backoff) goes back to huey's schedule untouched
            # and is not counted: only what ran is
            if self.huey.ready_to_run(task):
                ran += 1
            self.huey.execute(task)


__all__ = ["Queue", "crontab", "make_huey", "storage_path"]
