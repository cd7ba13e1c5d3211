"""Jobs as rows: submit, claim, beat, finish, retry, cancel, and find the lost ones.

Every change is one guarded UPDATE (or INSERT), so two workers, a worker and a person
clicking "Cancel", or a duplicate message never both win: ``claim`` takes a job only from
``queued`` (or from a ``running`` whose worker stopped beating), ``finish`` only from the
worker that holds it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, delete, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.errors import InvalidState, NotFound
from jobs.models import FINISHED, Job, WorkerBeat
from jobs.registry import KINDS
from ledger.listings import Page, page

#: A worker refreshes the jobs it holds this often...
HEARTBEAT_SECONDS = 5.0
#: ...and a job whose worker has been silent this long is handed to another
STALE_AFTER = dt.timedelta(seconds=30)
#: A queued job whose message has not been taken for this long gets a new message
REDELIVER_AFTER = dt.timedelta(minutes=2)
#: A worker that beat within this long counts as up (/readyz)
WORKER_UP_WITHIN = dt.timedelta(seconds=30)
#: A worker silent this long is forgotten by the sweep (its heartbeat row deleted): every
#: restart makes a new row (``host:pid:start``), and nothing reads one this old; a day
#: keeps yesterday's stopped and killed workers for whoever looks into an incident
FORGET_WORKERS_AFTER = dt.timedelta(days=1)
#: Retry backoff: first wait and longest wait, doubling in between
BACKOFF = (10.0, 600.0)


def _proc_start() -> str:
    """This process's start time in clock ticks (Linux), so a recycled pid is not mistaken
    for the worker that held a job."""
    try:
        with open(f"/proc/{os.getpid()}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return str(int(time.time()))


def worker_name() -> str:
    """``host:pid:start``: who holds a job, unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{_proc_start()}"


def alive_here(worker: str | None) -> bool:
    """Whether ``worker`` is a process still running on this machine. A job held by one is
    not stale however old its heartbeat (on SQLite a long write holds the only lock the
    heartbeat needs)."""
    if not worker:
        return False
    host, _, rest = worker.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode() == start
    except (OSError, IndexError):
        return False


def dead_here(worker: str | None) -> bool:
    """Whether ``worker`` ran on this machine and its process is gone (killed, crashed): its
    jobs need not wait for their heartbeat to go stale, so a worker restarted at once takes
    them up at once (its first sweep)."""
    if not worker:
        return False
    host = worker.partition(":")[0]
    return host == socket.gethostname() and not alive_here(worker)


def backoff(attempts: int) -> float:
    first, longest = BACKOFF
    return min(longest, first * 2 ** max(0, attempts - 1))


# --- submitting ---------------------------------------------------------------------------------


def submit(
    session: Session,
    kind: str,
    *,
    params: dict | None = None,
    actor_id: int | None = None,
    payload: bytes | None = None,
    dedupe_key: str | None = None,
    parent_id: int | None = None,
) -> tuple[Job, bool]:
    """Record a job to run. Returns ``(job, created)``: with a ``dedupe_key`` already held by
    an unfinished job (or by a periodic slot), that job and False. The caller commits, then
    enqueues (``Queue.enqueue_quietly``); should it die in between, the sweep enqueues.
    ``parent_id``: the job this one is a part of (see ``parts``)."""
    spec = KINDS[kind]
    now = utcnow()
    job = Job(
        kind=kind,
        status="queued",
        phase="queued",
        params=json.dumps(params or {}, ensure_ascii=False, sort_keys=True),
        payload=payload,
        dedupe_key=dedupe_key,
        progress_done=0,
        attempts=0,
        max_attempts=spec.max_attempts,
        cancel_requested=False,
        created_by_id=actor_id,
        created_at=now,
        enqueued_at=now,
        parent_id=parent_id,
    )
    if dedupe_key is None:
        session.add(job)
        session.flush()
        return job, True
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        existing = session.scalars(select(Job).where(Job.dedupe_key == dedupe_key)).one()
        return existing, False
    return job, True


def slot_key(kind: str, when: dt.datetime) -> str:
    return f"slot:{kind}@{when.strftime('%Y-%m-%dT%H:%M')}"


def submit_slot(session: Session, kind: str, when: dt.datetime) -> tuple[Job, bool]:
    """The periodic job of ``kind`` for the minute ``when``: made once, whoever asks."""
    return submit(session, kind, dedupe_key=slot_key(kind, when))


# --- the worker's side --------------------------------------------------------------------------


def claim(
    session: Session,
    job_id: int,
    worker: str,
    now: dt.datetime | None = None,
    *,
    own_orphan: bool = False,
) -> bool:
    """Take job ``job_id`` for ``worker``: a queued job that is due, or a running one whose
    worker is gone. Atomic; False when someone else has it or it is finished.

    ``own_orphan``: the caller knows it is not running the job, so a ``running`` row in its
    own name is an orphan to take back (a claim whose commit reached the database while its
    answer was lost with the connection, a finish that could not be recorded)."""
    now = now or utcnow()
    job = session.get(Job, job_id)
    if job is None:
        return False
    mine = own_orphan and job.status == "running" and job.worker == worker
    if job.status == "running" and not mine and alive_here(job.worker):
        return False
    gone = Job.heartbeat_at < now - STALE_AFTER
    if job.status == "running" and dead_here(job.worker):
        gone = Job.worker == job.worker  # its process is gone: still held by that one?
    result = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(
                and_(
                    Job.status == "queued",
                    Job.cancel_requested.is_(False),
                    or_(Job.run_after.is_(None), Job.run_after <= now),
                ),
                and_(
                    Job.status == "running",
                    or_(
                        Job.heartbeat_at.is_(None),
                        gone,
                        Job.worker == worker if mine else false(),
                    ),
                ),
            ),
        )
        .values(
            status="running",
            attempts=Job.attempts + 1,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            run_after=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(job)
    return result.rowcount == 1


def beat(session: Session, worker: str, job_ids: list[int], *, threads: int = 1) -> set[int]:
    """The worker is alive and still holds ``job_ids``. Returns those asked to stop."""
    now = utcnow()
    if job_ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.worker == worker, Job.status == "running")
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
    row = session.get(WorkerBeat, worker)
    if row is None:
        session.add(WorkerBeat(name=worker, started_at=now, beat_at=now, threads=threads))
    else:
        row.beat_at, row.stopped_at = now, None
    session.flush()
    if not job_ids:
        return set()
    return set(
        session.scalars(select(Job.id).where(Job.id.in_(job_ids), Job.cancel_requested.is_(True)))
    )


def held_by(session: Session, worker: str) -> list[int]:
    """The jobs the database says ``worker`` is running."""
    return list(
        session.scalars(select(Job.id).where(Job.status == "running", Job.worker == worker))
    )


def worker_stopped(session: Session, worker: str) -> None:
    row = session.get(WorkerBeat, worker)
    if row is not None:
        row.stopped_at = utcnow()


def progress(
    session: Session,
    job_id: int,
    *,
    done: int | None = None,
    total: int | None = None,
    phase: str | None = None,
) -> None:
    values: dict[str, object] = {"heartbeat_at": utcnow()}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    if phase is not None:
        values["phase"] = phase
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _finish_values(status: str) -> dict[str, object]:
    now = utcnow()
    return {"status": status, "finished_at": now, "heartbeat_at": now}


def _clear_key(job: Job) -> None:
    # A file's key only guards against the same upload while it runs; a slot's stays
    if job.dedupe_key and not job.dedupe_key.startswith("slot:"):
        job.dedupe_key = None


def succeed(session: Session, job_id: int, worker: str, result: dict | None) -> bool:
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.status != "running" or job.worker != worker:
        return False
    for key, value in _finish_values("succeeded").items():
        setattr(job, key, value)
    job.phase = "done"
    job.result = json.dumps(result or {}, ensure_ascii=False, default=str)
    job.error_code = job.error_detail = None
    job.payload = None  # its work is stored; the file need not be kept twice
    _clear_key(job)
    session.flush()
    return True


def fail(
    session: Session,
    job_id: int,
    worker: str,
    *,
    code: str,
    detail: dict,
    retry: bool,
    keep_payload: bool = True,
) -> float | None:
    """Record a failed attempt. With ``retry`` and attempts left, the job goes back to the
    queue after a backoff, whose length (seconds) is returned; else it is failed."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.status != "running" or job.worker != worker:
        return None
    job.error_code = code[:64]
    job.error_detail = json.dumps(detail, ensure_ascii=False, default=str)
    job.heartbeat_at = utcnow()
    if retry and job.attempts < job.max_attempts:
        delay = backoff(job.attempts)
        job.status, job.phase = "queued", "waiting"
        job.run_after = job.enqueued_at = utcnow() + dt.timedelta(seconds=delay)
        session.flush()
        return delay
    for key, value in _finish_values("failed").items():
        setattr(job, key, value)
    if not keep_payload:
        job.payload = None
    _clear_key(job)
    session.flush()
    return None


def cancelled(session: Session, job_id: int, worker: str) -> None:
    """The worker stopped a job asked to stop, its work rolled back. Like any finished job
    it frees its file's key: the same file may be uploaded again."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.status != "running" or job.worker != worker:
        return
    for key, value in _finish_values("cancelled").items():
        setattr(job, key, value)
    job.phase = "cancelled"
    _clear_key(job)
    session.flush()


# --- a person's side ----------------------------------------------------------------------------


def get(session: Session, job_id: int, *, lock: bool = False) -> Job:
    """Job ``job_id`` (``lock``: its row locked until the transaction ends), or NotFound."""
    job = session.get(Job, job_id, with_for_update=lock)
    if job is None:
        raise NotFound(f"There is no job {job_id}.", reason="job", params={"id": job_id})
    return job


def cancel(session: Session, job_id: int) -> Job:
    """Stop a job: a queued one at once, a running one at its next checkpoint (its work so
    far rolls back). A finished job cannot be cancelled."""
    job = get(session, job_id, lock=True)
    if job.status in FINISHED:
        raise InvalidState(
            f"Job {job_id} has already finished ({job.status}).",
            reason="job_finished",
            params={"id": job_id, "status": job.status},
        )
    _stop(job)
    # Its parts stop with it (a part already finished keeps its work)
    for part in session.scalars(
        select(Job)
        .where(Job.parent_id == job_id, Job.status.in_(("queued", "running")))
        .with_for_update()
    ):
        _stop(part)
    session.flush()
    return job


def _stop(job: Job) -> None:
    if job.status == "queued":
        for key, value in _finish_values("cancelled").items():
            setattr(job, key, value)
        job.phase = "cancelled"
        _clear_key(job)
    else:
        job.cancel_requested = True


def retry(session: Session, job_id: int) -> Job:
    """Run a failed or cancelled job again, with its attempts counted afresh. The caller
    commits, then enqueues."""
    job = get(session, job_id, lock=True)
    if job.status not in ("failed", "cancelled"):
        raise InvalidState(
            f"Only a failed or cancelled job can be retried; job {job_id} is {job.status}.",
            reason="job_not_retryable",
            params={"id": job_id, "status": job.status},
        )
    spec = KINDS.get(job.kind)  # a kind this code no longer has cannot run
    if spec is None or not spec.retryable(job):
        raise InvalidState(
            f"Job {job_id} cannot run again: what it needed is gone (its file was refused).",
            reason="job_not_runnable",
            params={"id": job_id, "status": job.status},
        )
    job.status, job.phase = "queued", "queued"
    job.attempts, job.cancel_requested = 0, False
    job.error_code = job.error_detail = None
    job.run_after = job.finished_at = None
    job.enqueued_at = utcnow()
    session.flush()
    return job


# --- a job in parts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Parts:
    """Where a job's parts stand: their ids by status, and their summed progress."""

    by_status: dict[str, list[int]]
    done: int

    def ids(self, *statuses: str) -> list[int]:
        return [i for status in statuses for i in self.by_status.get(status, [])]

    @property
    def unfinished(self) -> list[int]:
        return self.ids("queued", "running")


def parts(session: Session, parent_id: int) -> Parts:
    """The parts of job ``parent_id`` (``submit(parent_id=...)``), oldest first."""
    by_status: dict[str, list[int]] = {}
    done = 0
    for job_id, status, progress_done in session.execute(
        select(Job.id, Job.status, Job.progress_done)
        .where(Job.parent_id == parent_id)
        .order_by(Job.id)
    ):
        by_status.setdefault(status, []).append(job_id)
        done += progress_done
    return Parts(by_status, done)


def sum_parts_progress(session: Session, parent_id: int) -> None:
    """The parent's done count made the sum of its parts' (called as a part moves on, so
    the parent's progress moves while its own thread renders a part). Not a heartbeat:
    the parent's worker beats for it."""
    total = (
        select(func.coalesce(func.sum(Job.progress_done), 0))
        .where(Job.parent_id == parent_id)
        .scalar_subquery()
    )
    session.execute(
        update(Job)
        .where(Job.id == parent_id, Job.status == "running")
        .values(progress_done=total)
        .execution_options(synchronize_session=False)
    )


def lost(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Jobs whose message was lost: running ones whose worker went silent (or, on this
    machine, died), queued ones that are due and whose message nobody took. Marks them
    handed out now."""
    now = now or utcnow()
    running = session.execute(
        select(Job.id, Job.worker, Job.heartbeat_at).where(Job.status == "running")
    ).all()
    # Silent for too long, or held by a process of this machine that is gone
    ids = [
        job_id
        for job_id, worker, beat_at in running
        if (beat_at is None or beat_at < now - STALE_AFTER or dead_here(worker))
        and not alive_here(worker)
    ]
    waiting = list(
        session.scalars(
            select(Job.id).where(
                Job.status == "queued",
                or_(Job.run_after.is_(None), Job.run_after <= now),
                or_(Job.enqueued_at.is_(None), Job.enqueued_at < now - REDELIVER_AFTER),
            )
        )
    )
    if waiting:
        session.execute(
            update(Job)
            .where(Job.id.in_(waiting))
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids + waiting


@dataclass(frozen=True)
class QueueFigures:
    queued: int
    running: int
    oldest_queued_seconds: float


def figures(session: Session, now: dt.datetime | None = None) -> QueueFigures:
    """How much waits and for how long (``/metrics``)."""
    now = now or utcnow()
    rows = dict(
        session.execute(
            select(Job.status, func.count())
            .where(Job.status.in_(("queued", "running")))
            .group_by(Job.status)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(Job.created_at)).where(
            Job.status == "queued", or_(Job.run_after.is_(None), Job.run_after <= now)
        )
    )
    return QueueFigures(
        queued=rows.get("queued", 0),
        running=rows.get("running", 0),
        oldest_queued_seconds=(now - oldest).total_seconds() if oldest else 0.0,
    )


def finished_since(session: Session, since: dt.datetime) -> list[tuple[str, str, int]]:
    """``(kind, status, count)`` of the jobs finished since ``since`` (``/metrics``): a
    range of ``ix_jobs_finished_at``, never the whole table. Only a finished job has a
    ``finished_at`` (a retry or a new claim clears it), so the range alone says finished.
    Counted here rather than by GROUP BY, which would tempt a planner without statistics
    (SQLite) to walk ``ix_jobs_kind_id`` over every job for the grouping's order; an
    hour's finished jobs are few."""
    counts = Counter(
        tuple(row)
        for row in session.execute(select(Job.kind, Job.status).where(Job.finished_at >= since))
    )
    return [(kind, status, n) for (kind, status), n in sorted(counts.items())]


def forget_workers(session: Session, now: dt.datetime | None = None) -> int:
    """Delete the heartbeat rows of workers silent for ``FORGET_WORKERS_AFTER`` (stopped
    cleanly or killed); the number deleted. Run by the minute's sweep, so ``job_workers``
    holds about a day of workers however often they restart, and ``workers_up`` (``/readyz``,
    ``/metrics``) reads that, not every worker that ever ran. A live worker beats every
    ``HEARTBEAT_SECONDS`` and is never this old; should one come back all the same, its
    next beat writes its row again."""
    now = now or utcnow()
    result = session.execute(
        delete(WorkerBeat)
        .where(WorkerBeat.beat_at < now - FORGET_WORKERS_AFTER)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def workers_up(session: Session, now: dt.datetime | None = None) -> list[WorkerBeat]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(WorkerBeat).where(
                WorkerBeat.stopped_at.is_(None), WorkerBeat.beat_at >= now - WORKER_UP_WITHIN
            )
        )
    )


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 20,
    after: int | None = None,
) -> Page:
    """Jobs newest first, keyset-paged by id."""
    stmt = select(Job)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    return page(session, stmt, Job.id, limit=limit, after=after)
