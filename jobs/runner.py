"""Carrying one job from its claim to its outcome, with a heartbeat while it runs.

A kind's function gets a ``JobContext``: the database, the job's parameters and file, the
services the composition root gave the worker (the Stripe gateway, the virtual-account
scheme), and three duties it calls as it goes: ``progress`` (shown on the jobs page and the
API's job resource), ``check_cancelled`` (stops at a checkpoint; the kind's open transaction
rolls back) and ``writing`` (around a write transaction, see ``progress``).

Outcomes: what the function returns is kept as the job's result. An error the domain raised
on purpose (``LedgerError``: a malformed file, a refused posting) fails the job at once:
running it again would fail the same way. Anything else (a dropped connection, Stripe down)
is tried again after a backoff, up to the kind's ``max_attempts``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from foundation.db import is_postgres
from foundation.errors import LedgerError
from jobs import records
from jobs.models import Job
from jobs.registry import KINDS

log = logging.getLogger("placefund.jobs")

#: The job this thread works on, for every log line written meanwhile (``JobId``)
current_job: contextvars.ContextVar[int | None] = contextvars.ContextVar("job_id", default=None)


class JobId(logging.Filter):
    """Adds ``job_id`` and ``job_kind`` to a record made while a job runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = current_job.get()
        if job_id is not None and "job_id" not in record.__dict__:
            record.job_id = job_id
        return True


class JobCancelled(Exception):
    """Raised at a checkpoint of a job someone asked to stop."""


class JobContext:
    def __init__(self, runner: Runner, job: Job):
        self.runner = runner
        self.database = runner.database
        self.services = runner.services
        self.job_id = job.id
        self.kind = job.kind
        self.attempt = job.attempts
        self.actor_id = job.created_by_id
        self.params: dict[str, Any] = json.loads(job.params or "{}")
        self.stop = threading.Event()
        #: True inside the kind's write transaction: on SQLite nobody else may write then
        self.in_write = False
        self._pending: dict[str, object] = {}

    @property
    def payload(self) -> bytes | None:
        """The job's file (loaded on demand: it can be large)."""
        with self.database.session() as session:
            return session.get(Job, self.job_id).payload

    def progress(
        self, done: int | None = None, total: int | None = None, phase: str | None = None
    ) -> None:
        """Where the work is. Written at once where the database takes a second writer; on
        SQLite inside the kind's write transaction, when that transaction ends."""
        for key, value in (("done", done), ("total", total), ("phase", phase)):
            if value is not None:
                self._pending[key] = value
        if self.in_write and not is_postgres(self.database.engine):
            return
        self.flush_progress()

    def flush_progress(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        with self.database.session() as session, session.begin():
            records.progress(session, self.job_id, **pending)

    def check_cancelled(self) -> None:
        """A checkpoint: stop here if someone asked (the caller's transaction rolls back)."""
        if self.stop.is_set():
            raise JobCancelled()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Mark a write transaction of the kind's (see ``progress``)."""
        self.in_write = True
        try:
            yield
        finally:
            self.in_write = False
            self.flush_progress()


class Runner:
    """Runs the jobs huey hands this worker, and beats for them."""

    def __init__(self, database, services: dict[str, Any] | None = None, *, threads: int = 1):
        self.database = database
        self.services = dict(services or {})
        self.threads = threads
        self.worker = records.worker_name()
        self._lock = threading.Lock()
        self._held: dict[int, JobContext] = {}
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    # --- the heartbeat --------------------------------------------------------------------

    def start_heartbeat(self) -> None:
        self.beat_once()
        self._beater = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)
        self._beater.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception), self.database.session() as s, s.begin():
            records.worker_stopped(s, self.worker)

    def beat_once(self) -> None:
        with self._lock:
            held = dict(self._held)
        # On SQLite a job inside its write transaction holds the only write lock: its row is
        # not stale while this process lives (records.alive_here), so it is skipped here
        ids = [i for i, c in held.items() if not c.in_write or is_postgres(self.database.engine)]
        try:
            with self.database.session() as session, session.begin():
                stopping = records.beat(session, self.worker, ids, threads=self.threads)
        except Exception:  # the database is away: beat again next time
            log.warning("could not record the worker's heartbeat", exc_info=True)
            return
        for job_id in stopping:
            context = held.get(job_id)
            if context is not None:
                context.stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(records.HEARTBEAT_SECONDS):
            self.beat_once()

    # --- one job --------------------------------------------------------------------------

    def run(self, job_id: int) -> float | None:
        """Claim job ``job_id`` and carry it to an outcome. Never raises. Returns the delay
        before a retry when the attempt failed and the job goes back to the queue."""
        with self.database.session() as session, session.begin():
            if not records.claim(session, job_id, self.worker):
                return None  # a duplicate message, a cancelled or finished job
            job = session.get(Job, job_id)
            context = JobContext(self, job)
        token = current_job.set(job_id)
        with self._lock:
            self._held[job_id] = context
        try:
            log.info("job started", extra={"job_kind": context.kind, "attempt": context.attempt})
            return self._attempt(context)
        finally:
            with self._lock:
                self._held.pop(job_id, None)
            current_job.reset(token)

    def _attempt(self, context: JobContext) -> float | None:
        spec = KINDS.get(context.kind)
        try:
            if spec is None:
                raise LedgerError(f"No worker knows how to run a {context.kind!r} job.")
            result = spec.run(context)
        except JobCancelled:
            self._record(records.cancelled, context.job_id, self.worker)
            log.info("job cancelled", extra={"job_kind": context.kind})
            return None
        except Exception as exc:
            return self._failed(context, exc)
        context.flush_progress()
        self._record(records.succeed, context.job_id, self.worker, result)
        log.info("job succeeded", extra={"job_kind": context.kind})
        return None

    def _failed(self, context: JobContext, exc: Exception) -> float | None:
        on_purpose = isinstance(exc, LedgerError)
        detail = {
            "detail": str(getattr(exc, "detail", None) or "An unexpected error occurred."),
            "message_code": exc.message_code if on_purpose else "internal_error",
            "params": exc.params if on_purpose else {},
        }
        if on_purpose:
            log.warning("job failed: %s", exc, extra={"job_kind": context.kind})
        else:
            log.error("job attempt failed", exc_info=exc, extra={"job_kind": context.kind})
        code = exc.code if on_purpose else type(exc).__name__
        delay = self._record(
            records.fail,
            context.job_id,
            self.worker,
            code=code,
            detail=detail,
            retry=not on_purpose,
            keep_payload=not on_purpose,
        )
        return delay

    def _record(self, step, *args, **kwargs):
        """A finishing step in its own transaction. Should the database be away, the job
        keeps its ``running`` row, its heartbeat stops, and the sweep hands it out again."""
        try:
            with self.database.session() as session, session.begin():
                return step(session, *args, **kwargs)
        except Exception:
            log.exception("could not record the outcome of the job")
            return None
