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

Each attempt is counted in this process (foundation/metrics.py: ``placefund_jobs_run_total``
by kind and outcome, its duration, the threads busy), which ``placefund worker
--metrics-port`` serves.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from foundation import metrics
from foundation.db import is_postgres
from foundation.errors import LedgerError
from jobs import records
from jobs.models import Job
from jobs.registry import KINDS

#: A claim that failed (the database away) is tried again after this many seconds
CLAIM_RETRY_SECONDS = 2.0
#: How long a worker keeps trying to record a job's outcome while the database is away
RECORD_PATIENCE = 60.0

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
        #: The job this one is a part of: its progress is the sum of its parts'
        self.parent_id = job.parent_id
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
            if self.parent_id is not None and "done" in pending:
                records.sum_parts_progress(session, self.parent_id)

    def hand_out(self, job_ids: list[int]) -> None:
        """Give jobs this one made (its parts) to the queue, so any worker may take them;
        in a process without a queue (``placefund jobs run``, tests) nobody else would, and
        the job runs them itself (``run_here``)."""
        if self.runner.hand_out is not None:
            for job_id in job_ids:
                self.runner.hand_out(job_id)

    def run_here(self, job_id: int) -> bool:
        """Claim and run another job (a part of this one) in this thread, as a worker would:
        False when someone else holds it, it is finished, or not yet due."""
        return self.runner.run_one(job_id)[0]

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
        #: The jobs this process is running (None: being claimed, not yet running)
        self._held: dict[int, JobContext | None] = {}
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None
        #: What to do with a job the database says this worker runs while it does not (the
        #: worker sets it to hand the job out again: jobs.queue.Queue.enqueue_quietly)
        self.orphaned: Callable[[int], None] | None = None
        #: How a job hands out the jobs it made (its parts) to every worker (the worker sets
        #: it: jobs.queue.Queue.enqueue_quietly); None: no queue, the job runs them itself
        self.hand_out: Callable[[int], None] | None = None

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
        postgres = is_postgres(self.database.engine)
        ids = [i for i, c in held.items() if c is not None and (not c.in_write or postgres)]
        try:
            with self.database.session() as session, session.begin():
                stopping = records.beat(session, self.worker, ids, threads=self.threads)
                mine = records.held_by(session, self.worker) if self.orphaned else []
        except Exception:  # the database is away (the pool replaces a broken connection)
            log.warning("could not record the worker's heartbeat", exc_info=True)
            return
        for job_id in stopping:
            context = held.get(job_id)
            if context is not None:
                context.stop.set()
        self._hand_out_orphans(mine)

    def _hand_out_orphans(self, mine: list[int]) -> None:
        """Jobs running in this worker's name that it does not run: a claim that committed
        while its answer was lost with the connection, or a finish that could not be
        recorded. No other worker takes them (this process is alive, records.alive_here),
        so this one hands them out again and claims them back (``own_orphan``). Read after
        the database answered: a job claimed meanwhile was reserved in ``_held`` first."""
        if not mine:
            return
        with self._lock:
            orphans = [job_id for job_id in mine if job_id not in self._held]
        for job_id in orphans:
            log.warning("job held in this worker's name but not running; handing it out again",
                        extra={"job_id": job_id})  # fmt: skip
            self.orphaned(job_id)

    def _beat(self) -> None:
        while not self._stop.wait(records.HEARTBEAT_SECONDS):
            self.beat_once()

    # --- one job --------------------------------------------------------------------------

    def run(self, job_id: int) -> float | None:
        """Claim job ``job_id`` and carry it to an outcome. Never raises. Returns the delay
        before a retry when the attempt failed and the job goes back to the queue."""
        return self.run_one(job_id)[1]

    def run_one(self, job_id: int) -> tuple[bool, float | None]:
        """``run``, saying also whether this worker claimed the job: ``(ran, delay)``."""
        with self._lock:
            if job_id in self._held:
                return False, None  # a duplicate message of a job this worker runs now
            self._held[job_id] = None  # reserved: no other thread here claims it meanwhile
        try:
            try:
                with self.database.session() as session, session.begin():
                    # Reserved above, so a running row in this worker's name is an orphan
                    if not records.claim(session, job_id, self.worker, own_orphan=True):
                        return False, None  # a duplicate message, a cancelled or finished job
                    job = session.get(Job, job_id)
                    context = JobContext(self, job)
            except Exception:
                # The database is away. Should the claim have committed nonetheless, the
                # message sent again finds the job in this worker's name and takes it back
                log.warning("could not claim the job; trying again", exc_info=True,
                            extra={"job_id": job_id})  # fmt: skip
                return False, CLAIM_RETRY_SECONDS
            token = current_job.set(job_id)
            with self._lock:
                self._held[job_id] = context
            metrics.WORKER_THREADS.labels(state="busy").inc()
            metrics.WORKER_THREADS.labels(state="idle").dec()
            try:
                log.info(
                    "job started", extra={"job_kind": context.kind, "attempt": context.attempt}
                )
                return True, self._attempt(context)
            finally:
                metrics.WORKER_THREADS.labels(state="idle").inc()
                metrics.WORKER_THREADS.labels(state="busy").dec()
                current_job.reset(token)
        finally:
            with self._lock:
                self._held.pop(job_id, None)

    def _attempt(self, context: JobContext) -> float | None:
        spec = KINDS.get(context.kind)
        # A kind no worker knows is one label, not one per stored name: each label value
        # is a time series kept for good
        label = context.kind if spec is not None else "(unknown)"
        started = time.perf_counter()
        outcome = None
        try:
            try:
                if spec is None:
                    raise LedgerError(f"No worker knows how to run a {context.kind!r} job.")
                result = spec.run(context)
            except JobCancelled:
                self._record(records.cancelled, context.job_id, self.worker)
                log.info("job cancelled", extra={"job_kind": context.kind})
                outcome = "cancelled"
                return None
            except Exception as exc:
                delay = self._failed(context, exc)
                outcome = "failed" if delay is None else "retried"
                return delay
            context.flush_progress()
            self._record(records.succeed, context.job_id, self.worker, result)
            log.info("job succeeded", extra={"job_kind": context.kind})
            outcome = "succeeded"
            return None
        finally:
            # Not when the thread is torn down (a BaseException: the process is ending), which
            # leaves the job running in this worker's name for the sweep: no outcome yet
            if outcome is not None:
                metrics.JOBS_RUN.labels(kind=label, outcome=outcome).inc()
                metrics.JOB_DURATION.labels(kind=label).observe(time.perf_counter() - started)

    def _failed(self, context: JobContext, exc: Exception) -> float | None:
        on_purpose = isinstance(exc, LedgerError)
        # A job's own reason to try again (not a refusal: retried) may say why in words too
        said = on_purpose or isinstance(getattr(exc, "message_code", None), str)
        detail = {
            "detail": str(getattr(exc, "detail", None) or exc or "An unexpected error occurred."),
            "message_code": exc.message_code if said else "internal_error",
            "params": dict(getattr(exc, "params", None) or {}) if said else {},
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
        """A finishing step in its own transaction, tried again while the database is away
        (a restart, a dropped connection: the pool replaces it) for up to
        ``RECORD_PATIENCE`` seconds; the job is still held meanwhile, so its heartbeat goes
        on. A step that committed but whose answer was lost finds the job finished when
        tried again and changes nothing. Past the patience, the job keeps its ``running``
        row in this worker's name, and the heartbeat hands it out again (its kind makes a
        second run harmless)."""
        delay, deadline = 0.2, time.monotonic() + RECORD_PATIENCE
        while True:
            try:
                with self.database.session() as session, session.begin():
                    return step(session, *args, **kwargs)
            except Exception:
                if time.monotonic() + delay > deadline:
                    log.exception("could not record the outcome of the job")
                    return None
                log.warning("could not record the outcome of the job; trying again",
                            exc_info=True)  # fmt: skip
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
