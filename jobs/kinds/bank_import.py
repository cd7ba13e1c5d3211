"""Bank statement imports as jobs: the file uploaded (console) or posted (API) is imported and
matched by a worker, never inside the request.

The work is ``ledger.reconciliation.runs``'s, unchanged (``import_bank_statement`` with its
progress callback, then ``run_bank``: what the CLI calls synchronously). This kind schedules
it in three steps and records on the job row what each step did, in that step's own
transaction, so that running the job again (a worker killed, a transient error, a "Resume")
never does a step twice:

1. *reading*: the file is parsed, once (no write transaction), to learn how many lines it
   holds and which are malformed; those go into the job's result at once, for the page. A
   bad file (unreadable, or malformed lines without "skip") fails the job here: nothing is
   written but the job row, and the file is dropped (running it again would fail the same
   way).
2. *importing*: one transaction stores the lines just read (the reading itself is handed to
   the import, the file is not parsed again), all or nothing, and in the same
   transaction the import's id on the job (``result.import_id``). A crash before the commit
   leaves nothing imported; after it, the next attempt skips straight to matching. Each
   stored chunk is a cancellation checkpoint: a cancel rolls the whole import back.
3. *matching*: one transaction runs the bank rules and records the run's id on the job.

The job's ``params``: filename, mapping (a layout's name or a column mapping), encoding,
account, skip_bad_lines, file_sha256, file_size; its ``payload``: the file itself, kept until
the job succeeds (or the file is refused).
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from foundation.errors import FieldMessage, InvalidState, ValidationError
from identity.models import User
from jobs import records
from jobs.models import Job
from jobs.registry import kind
from jobs.runner import JobContext
from ledger.fund import common
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.bank_files import LineError

KIND = "bank_import"
#: A statement as large as the API takes (its request limit is a little above)
MAX_FILE_BYTES = 24 * 1024 * 1024
#: Malformed lines kept on the job for the page (their total is always counted)
MAX_BAD_LINES_KEPT = 500
#: Errors that are the file's fault: running the job again cannot succeed
FILE_ERRORS = frozenset(
    {"bank_statement_invalid", "bank_statement_unreadable", "validation_error", "invalid_amount"}
)


def dedupe_key(data: bytes) -> str:
    """The same file, uploaded again while its import is unfinished, finds that job."""
    return f"{KIND}:{hashlib.sha256(data).hexdigest()}"


def submit(
    session: Session,
    *,
    data: bytes,
    filename: str,
    mapping: str | dict,
    encoding: str | None,
    skip_bad_lines: bool,
    account: str = common.BANK,
    actor_id: int | None,
) -> tuple[Job, bool]:
    """Record an import of ``data`` to run. Refuses an empty or oversized file and an unknown
    layout at once (the form and the API say so beside the field); everything else (the
    lines themselves) is the job's to find. Returns ``(job, created)``: the same file while
    its import is unfinished gives that job and False. The caller commits, then enqueues."""
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
    reconciliation_runs.mapping_from(mapping)  # an unknown layout is the request's error
    params = {
        "filename": (filename or "statement.csv")[:255],
        "mapping": mapping,
        "encoding": encoding,
        "account": account,
        "skip_bad_lines": bool(skip_bad_lines),
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "file_size": len(data),
    }
    return records.submit(
        session, KIND, params=params, actor_id=actor_id, payload=data, dedupe_key=dedupe_key(data)
    )


# --- what the job row says --------------------------------------------------------------------


def result_of(job: Job) -> dict:
    """The job's result so far (the import's figures once it committed, the malformed lines
    once the file was read), or an empty dict."""
    try:
        loaded = json.loads(job.result or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def params_of(job: Job) -> dict:
    try:
        loaded = json.loads(job.params or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def failure(job: Job) -> tuple[str | None, dict]:
    """A failed job's message code and parameters (the runner keeps them as JSON in
    ``error_detail``), for the console to say what went wrong in the reader's language."""
    params = {"n": result_of(job).get("bad_line_count", 0)}
    try:
        stored = json.loads(job.error_detail or "")
    except ValueError:
        return job.error_code, params
    if not isinstance(stored, dict):
        return job.error_code, params
    code = stored.get("message_code") or job.error_code
    return code, {**(stored.get("params") or {}), **params}


def _has_payload(job: Job) -> bool:
    session = object_session(job)
    if session is None:  # a detached row: ask nothing of the (deferred) file
        return False
    return (
        session.scalar(select(Job.id).where(Job.id == job.id, Job.payload.is_not(None))) is not None
    )


def retryable(job: Job) -> bool:
    """A failed or cancelled import can run again unless its file was refused: one whose
    import committed goes straight to matching, one that has its file starts over."""
    if job.error_code in FILE_ERRORS:
        return False
    return result_of(job).get("import_id") is not None or _has_payload(job)


# --- the work -----------------------------------------------------------------------------------


def _line_errors(errors: list[LineError]) -> list[dict]:
    return [
        {"line": e.line, "field": e.field, "message": e.message, "message_zh": e.message_zh}
        for e in errors[:MAX_BAD_LINES_KEPT]
    ]


def _record(session: Session, job_id: int, result: dict, **values) -> None:
    """The job's result (and progress) as part of ``session``'s transaction."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(result=json.dumps(result, ensure_ascii=False), **values)
        .execution_options(synchronize_session=False)
    )


def _recorded(context: JobContext) -> dict:
    with context.database.session() as session:
        return result_of(session.get(Job, context.job_id))


def _actor(session: Session, actor_id: int | None) -> User | None:
    return session.get(User, actor_id) if actor_id is not None else None


@kind(KIND, max_attempts=5, retryable=retryable)
def bank_import(context: JobContext) -> dict:
    """Read, import and match a bank statement (module docstring)."""
    state = _recorded(context)
    if state.get("run_id") is not None:
        return state  # matched already: the worker died before it recorded the success
    if state.get("import_id") is None:
        state = _import(context, state)
    return _match(context, state)


def _import(context: JobContext, state: dict) -> dict:
    params = context.params
    data = context.payload
    if data is None:
        raise InvalidState(
            "The file of this import is no longer kept; upload it again.",
            reason="import_file_gone",
            params={"id": context.job_id},
        )
    scheme = context.services.get("va_scheme", common.DEFAULT_VA_SCHEME)
    mapping = reconciliation_runs.mapping_from(params["mapping"])
    context.progress(0, None, "reading")
    # Read once: the import below stores this same reading (``parsed=``) rather than
    # parsing the file again. Nothing here is written but the job row, so a job run again
    # (killed before the import committed) simply reads the file again.
    parsed = reconciliation_runs.read_bank_statement(
        data, mapping, params.get("encoding"), account=params["account"], scheme=scheme
    )
    total = len(parsed.importable(skip_bad_lines=True))
    state = {
        "bad_line_count": len({e.line for e in parsed.errors}),
        "bad_lines": _line_errors(parsed.errors),
    }
    with context.database.session() as session, session.begin():
        _record(session, context.job_id, state)
    context.progress(0, total, "importing")
    # Malformed lines without "skip": the refusal the import itself would raise, before any
    # write transaction, so the file changes nothing (and the job fails without a retry)
    parsed.importable(skip_bad_lines=params["skip_bad_lines"])
    context.check_cancelled()

    done = 0

    def stored(n: int) -> None:
        nonlocal done
        done += n
        context.progress(done=done)
        context.check_cancelled()  # raises: the transaction below rolls back

    with context.writing(), context.database.session() as session, session.begin():
        report = reconciliation_runs.import_bank_statement(
            session,
            data,
            mapping=mapping,
            encoding=params.get("encoding"),
            account=params["account"],
            name=params["filename"],
            skip_bad_lines=params["skip_bad_lines"],
            actor=_actor(session, context.actor_id),
            progress=stored,
            scheme=scheme,
            parsed=parsed,
        )
        del parsed  # stored: the lines' objects need not live on through matching
        state = {
            "import_id": report.import_id,
            "lines_read": report.lines_read,
            "lines_new": report.lines_new,
            "duplicates": report.duplicates,
            **state,
        }
        # In the import's own transaction: the lines and the job's knowledge of them commit
        # together, so a job run again never imports twice
        _record(
            session,
            context.job_id,
            state,
            phase="matching",
            progress_done=report.lines_read,
            progress_total=report.lines_read,
        )
    return state


def _match(context: JobContext, state: dict) -> dict:
    context.check_cancelled()
    context.progress(phase="matching")
    with context.writing(), context.database.session() as session, session.begin():
        run = reconciliation_runs.run_bank(
            session, import_id=state["import_id"], actor=_actor(session, context.actor_id)
        )
        summary = json.loads(run.summary or "{}")
        state = {
            **state,
            "run_id": run.id,
            "matched": summary.get("matched", 0),
            "suggested": summary.get("suggested", 0),
            "unmatched": summary.get("unmatched_lines", 0),
            "donations_recorded": summary.get("donations_recorded", 0),
        }
        # With the run: a job run again after this commit does not match twice
        _record(session, context.job_id, state)
    return state
