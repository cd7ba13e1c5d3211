"""Bank statement imports as background jobs: upload, import and match without holding the
request, with progress and outcome kept in the ``import_jobs`` row.

The work is ``ledger.reconciliation.runs``'s, unchanged: ``import_bank_statement`` (with its
progress callback) and then ``run_bank``, exactly what the API and the CLI call. This module
only schedules it and records where it is:

1. *reading*: the file is parsed (pure, no transaction) to learn how many lines it holds and
   which are malformed. A bad file (unreadable, or malformed lines without "skip") fails the
   job here and nothing is written but the job row.
2. *importing*: one transaction stores the lines (all or nothing) and, in the same
   transaction, the job's ``import_id``; a crash before the commit leaves nothing imported,
   after it the job knows the lines are in.
3. *matching*: one transaction runs the bank rules and records the run on the job.

Progress is written from the worker in its own short transactions between steps. Inside the
import transaction, PostgreSQL lets a second connection record each stored chunk; SQLite has
one writer at a time (every transaction begins IMMEDIATE), so there the figures move when
the step commits.

A process owns its jobs by refreshing their heartbeat. A job whose heartbeat stopped (the
process died or restarted) is marked failed as ``interrupted`` the next time anyone looks,
and can be resumed: an import that committed goes straight to matching.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from admin.models import ImportJob
from foundation.db import is_postgres, utcnow
from foundation.errors import FieldMessage, LedgerError, ValidationError
from identity.models import User
from ledger.fund import common
from ledger.fund.virtual_accounts import VirtualAccountScheme
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.bank_files import LineError, StatementHasErrors, parse_statement

log = logging.getLogger(__name__)

#: A statement as large as the API takes (the request limit is a little above)
MAX_FILE_BYTES = 24 * 1024 * 1024
#: Malformed lines kept on the job for the page (their total is always counted)
MAX_BAD_LINES_KEPT = 500
#: How often a process refreshes the heartbeat of the jobs it owns, and when a silent job
#: is considered abandoned
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = dt.timedelta(seconds=60)
#: Errors that are the file's fault: retrying the same file cannot succeed
FILE_ERRORS = frozenset(
    {"bank_statement_invalid", "bank_statement_unreadable", "validation_error", "invalid_amount"}
)


def failure(job: ImportJob) -> tuple[str | None, dict]:
    """A failed job's message code and parameters, for the console to say what went wrong.

    ``error_code`` holds the error's kind; ``error_detail`` its English detail and, as JSON
    beside it, the message code and parameters of the error (``_fail``). A row written
    before that, or marked interrupted, has only the kind."""
    params = {"n": job.bad_line_count}
    try:
        stored = json.loads(job.error_detail or "")
    except ValueError:
        return job.error_code, params
    if not isinstance(stored, dict):
        return job.error_code, params
    return stored.get("message_code") or job.error_code, {**stored.get("params", {}), **params}


def resumable(job: ImportJob) -> bool:
    """A failed job that can be tried again: interrupted, or broken by something other than
    its file (whose copy is kept until the job succeeds)."""
    return job.status == "failed" and job.error_code not in FILE_ERRORS


def bad_lines(job: ImportJob) -> list[dict]:
    """The malformed lines kept on the job: ``{"line", "field", "message", "message_zh"}``."""
    try:
        return json.loads(job.bad_lines or "[]")
    except ValueError:
        return []


def _line_errors(errors: list[LineError]) -> str:
    return json.dumps(
        [
            {"line": e.line, "field": e.field, "message": e.message, "message_zh": e.message_zh}
            for e in errors[:MAX_BAD_LINES_KEPT]
        ],
        ensure_ascii=False,
    )


# --- creating and finding jobs -----------------------------------------------------------------


def create_job(
    session: Session,
    *,
    actor: User,
    data: bytes,
    filename: str,
    mapping: str,
    encoding: str | None,
    skip_bad_lines: bool,
    account: str = common.BANK,
) -> ImportJob:
    """Queue an import of ``data``. Refuses an empty or oversized file and an unknown layout
    at once (the page shows it next to the field); everything else is the job's to find."""
    if not data:
        raise ValidationError(
            "The file is empty.",
            fields={"statement": [FieldMessage("empty", "empty")]},
            case="empty",
        )
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            "The file is larger than 24 MB.",
            fields={"statement": [FieldMessage("too large", "too_large")]},
            case="too_large",
        )
    reconciliation_runs.mapping_from(mapping)  # an unknown layout is the form's error
    now = utcnow()
    job = ImportJob(
        status="queued",
        phase="queued",
        filename=(filename or "statement.csv")[:255],
        mapping=mapping,
        encoding=encoding,
        account=account,
        skip_bad_lines=skip_bad_lines,
        file_sha256=hashlib.sha256(data).hexdigest(),
        file_size=len(data),
        content=data,
        lines_done=0,
        bad_line_count=0,
        bad_lines="[]",
        attempts=0,
        created_by_id=actor.id,
        created_at=now,
        heartbeat_at=now,
    )
    session.add(job)
    session.flush()
    return job


def active_job_for(session: Session, data: bytes) -> ImportJob | None:
    """A queued or running job of the same file: uploading it twice starts nothing new."""
    digest = hashlib.sha256(data).hexdigest()
    return session.scalars(
        select(ImportJob)
        .where(ImportJob.file_sha256 == digest, ImportJob.status.in_(("queued", "running")))
        .order_by(ImportJob.id.desc())
        .limit(1)
    ).first()


def recent_jobs(session: Session, limit: int = 10) -> list[ImportJob]:
    return list(session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)))


def mark_abandoned(session: Session, now: dt.datetime | None = None) -> int:
    """Fail the jobs whose owner stopped beating (a crash or restart): ``interrupted``.

    Called whenever jobs are shown, so a dead worker is noticed by the next person who
    looks; the job can then be resumed.
    """
    now = now or utcnow()
    result = session.execute(
        update(ImportJob)
        .where(
            ImportJob.status.in_(("queued", "running")),
            or_(ImportJob.heartbeat_at.is_(None), ImportJob.heartbeat_at < now - STALE_AFTER),
        )
        .values(
            status="failed",
            error_code="interrupted",
            error_detail="The import stopped before it finished (the server restarted).",
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        session.expire_all()
    return result.rowcount


def claim(session: Session, job_id: int) -> bool:
    """Take a queued job for this process. Atomic, so two processes (or two clicks) never
    run the same job."""
    now = utcnow()
    result = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == "queued")
        .values(
            status="running",
            attempts=ImportJob.attempts + 1,
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            error_code=None,
            error_detail=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def requeue(session: Session, job_id: int) -> bool:
    """Put a resumable failed job back in the queue (the manager's "Resume")."""
    job = session.get(ImportJob, job_id, with_for_update=True)
    if job is None or not resumable(job):
        return False
    if job.import_id is None and not _has_content(session, job_id):
        return False
    job.status, job.error_code, job.error_detail = "queued", None, None
    job.heartbeat_at, job.finished_at = utcnow(), None
    session.flush()
    return True


def _has_content(session: Session, job_id: int) -> bool:
    return (
        session.scalar(
            select(ImportJob.id).where(ImportJob.id == job_id, ImportJob.content.is_not(None))
        )
        is not None
    )


# --- the worker ------------------------------------------------------------------------------


class _Progress:
    """Writes a job's progress in short transactions of its own session."""

    def __init__(self, database, job_id: int):
        self.database = database
        self.job_id = job_id
        self.lock = threading.Lock()
        #: True while the worker holds a write transaction: on SQLite nobody else can
        #: write then, so progress waits for the step's commit
        self.busy = False

    @property
    def concurrent(self) -> bool:
        return is_postgres(self.database.engine)

    def write(self, **values) -> None:
        with self.lock, self.database.session() as s, s.begin():
            s.execute(
                update(ImportJob)
                .where(ImportJob.id == self.job_id)
                .values(heartbeat_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )

    def during_step(self, **values) -> None:
        """Progress from inside the worker's transaction: written now where the database
        allows a second writer, else carried by the step's own commit."""
        if self.concurrent:
            self.write(**values)


def run_job(
    database,
    job_id: int,
    *,
    owner: Runner | None = None,
    scheme: VirtualAccountScheme = common.DEFAULT_VA_SCHEME,
) -> None:
    """Claim the job and carry it to the end (succeeded or failed). Never raises.
    ``scheme``: the fund's virtual accounts, as the statement's lines carry them."""
    with database.session() as s, s.begin():
        if not claim(s, job_id):
            return
    progress = _Progress(database, job_id)
    if owner is not None:
        owner.owned(job_id, progress)
    try:
        _work(database, job_id, progress, scheme)
    except Exception as exc:  # the job records every failure; the thread must not die silently
        code = getattr(exc, "code", None) if isinstance(exc, LedgerError) else None
        if code is None:
            log.exception("bank statement import job %s failed", job_id)
        _fail(database, job_id, exc, code or "internal_error")
    finally:
        if owner is not None:
            owner.released(job_id)


def _work(database, job_id: int, progress: _Progress, scheme: VirtualAccountScheme) -> None:
    # A short read, then the session is closed: on SQLite an open transaction would hold
    # the one write lock the steps below need.
    with database.session() as s, s.begin():
        job = s.get(ImportJob, job_id)
        data = job.content if job.import_id is None else None
    if job.import_id is None:
        _import(database, job, data or b"", progress, scheme)
    _match(database, job_id, progress)


def _import(
    database, job: ImportJob, data: bytes, progress: _Progress, scheme: VirtualAccountScheme
) -> None:
    progress.write(phase="reading", lines_done=0)
    parsed = parse_statement(
        data,
        reconciliation_runs.mapping_from(job.mapping),
        job.encoding,
        account=job.account,
        scheme=scheme,
    )
    total = len(parsed.importable(skip_bad_lines=True))
    progress.write(
        phase="importing",
        lines_total=total,
        bad_line_count=len({e.line for e in parsed.errors}),
        bad_lines=_line_errors(parsed.errors),
    )
    # Malformed lines without "skip": the same refusal the import itself would raise, before
    # any transaction, so the file changes nothing.
    parsed.importable(skip_bad_lines=job.skip_bad_lines)

    done = 0

    def stored(n: int) -> None:
        nonlocal done
        done += n
        progress.during_step(lines_done=done)

    progress.busy = True
    try:
        with database.session() as s, s.begin():
            actor = s.get(User, job.created_by_id)
            report = reconciliation_runs.import_bank_statement(
                s,
                data,
                mapping=job.mapping,
                encoding=job.encoding,
                account=job.account,
                name=job.filename,
                skip_bad_lines=job.skip_bad_lines,
                actor=actor,
                progress=stored,
                scheme=scheme,
            )
            # In the import's own transaction: the lines and the job's knowledge of them
            # commit together, so a resumed job never imports twice.
            s.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id)
                .values(
                    import_id=report.import_id,
                    lines_total=report.lines_read,
                    lines_done=report.lines_read,
                    lines_new=report.lines_new,
                    duplicates=report.duplicates,
                    phase="matching",
                    heartbeat_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
    finally:
        progress.busy = False


def _match(database, job_id: int, progress: _Progress) -> None:
    progress.busy = True
    try:
        with database.session() as s, s.begin():
            job = s.get(ImportJob, job_id)
            actor = s.get(User, job.created_by_id)
            run = reconciliation_runs.run_bank(s, import_id=job.import_id, actor=actor)
            summary = json.loads(run.summary or "{}")
            job.run_id = run.id
            job.matched = summary.get("matched", 0)
            job.suggested = summary.get("suggested", 0)
            job.unmatched = summary.get("unmatched_lines", 0)
            job.donations_recorded = summary.get("donations_recorded", 0)
            job.status, job.phase = "succeeded", "done"
            job.finished_at = job.heartbeat_at = utcnow()
            job.content = None  # the lines are stored; the file need not be kept twice
    finally:
        progress.busy = False


def _fail(database, job_id: int, exc: Exception, code: str) -> None:
    values = {
        "status": "failed",
        "error_code": code[:64],
        "error_detail": json.dumps(
            {
                "detail": str(getattr(exc, "detail", None) or "An unexpected error occurred."),
                "message_code": exc.message_code if isinstance(exc, LedgerError) else code,
                "params": exc.params if isinstance(exc, LedgerError) else {},
            },
            ensure_ascii=False,
            default=str,
        ),
        "finished_at": utcnow(),
        "heartbeat_at": utcnow(),
    }
    if isinstance(exc, StatementHasErrors) or code in FILE_ERRORS:
        values["content"] = None  # nothing was imported and the file cannot be retried
    try:
        with database.session() as s, s.begin():
            s.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
    except Exception:  # the database itself is gone: the heartbeat stops and the next
        log.exception("could not record the failure of import job %s", job_id)  # look marks it


# --- running jobs in the web process -----------------------------------------------------------


class Runner:
    """Runs import jobs on one background thread of this process and keeps their heartbeat.

    One at a time per process (imports are CPU- and write-heavy, and SQLite takes one writer
    anyway); a queued job waits its turn with its heartbeat kept fresh.
    """

    def __init__(self, database, scheme: VirtualAccountScheme = common.DEFAULT_VA_SCHEME) -> None:
        self.database = database
        self.scheme = scheme
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-job")
        self.lock = threading.Lock()
        self.jobs: dict[int, _Progress | None] = {}
        self.futures: dict[int, object] = {}
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None

    def start(self, job_id: int) -> None:
        with self.lock:
            self.jobs[job_id] = None
            self.futures[job_id] = self.executor.submit(
                run_job, self.database, job_id, owner=self, scheme=self.scheme
            )
            if self.ticker is None or not self.ticker.is_alive():
                self.stop.clear()
                self.ticker = threading.Thread(
                    target=self._beat, name="import-job-heartbeat", daemon=True
                )
                self.ticker.start()

    def owned(self, job_id: int, progress: _Progress) -> None:
        with self.lock:
            self.jobs[job_id] = progress

    def released(self, job_id: int) -> None:
        with self.lock:
            self.jobs.pop(job_id, None)

    def wait(self, job_id: int | None = None, timeout: float = 60) -> None:
        """Block until the job (or every job this runner started) has finished."""
        with self.lock:
            futures = [self.futures[job_id]] if job_id is not None else list(self.futures.values())
        for future in futures:
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        """Finish the running job and stop (tests; a server simply exits)."""
        self.executor.shutdown(wait=True)
        self.stop.set()

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            with self.lock:
                ids = [
                    i
                    for i, p in self.jobs.items()
                    if p is None or not p.busy or is_postgres(self.database.engine)
                ]
                if not self.jobs:
                    self.ticker = None
                    return
            if not ids:
                continue
            try:
                with self.database.session() as s, s.begin():
                    s.execute(
                        update(ImportJob)
                        .where(ImportJob.id.in_(ids), ImportJob.status.in_(("queued", "running")))
                        .values(heartbeat_at=utcnow())
                        .execution_options(synchronize_session=False)
                    )
            except Exception:  # a busy or unreachable database: try again next beat
                log.warning("could not refresh the heartbeat of import jobs %s", ids)


def runner(app) -> Runner:
    """The app's job runner (created on first use)."""
    existing = app.extensions.get("placefund.import_jobs")
    if existing is None:
        # setdefault: two first uploads racing share one runner (one job at a time)
        existing = app.extensions.setdefault(
            "placefund.import_jobs",
            Runner(app.extensions["placefund.db"], app.extensions["placefund.va_scheme"]),
        )
    return existing
