"""Background jobs for fund managers: what runs, what waits, what failed and why.

* ``/jobs``: every job newest first, filtered by status and kind, keyset-paged; rows still
  running refresh their progress by themselves (static/job-progress.js polls each one's
  ``/status``; without scripts the page refreshes itself while something runs);
* ``/jobs/<id>``: one job: its progress, attempts, who started it, when, its outcome or its
  error in words, and the Retry or Cancel button where the job allows it.

The rules (what may be retried or cancelled, and when) are ``jobs.records``'s; these handlers
call them, say a refusal in the reader's language and hand a retried job to the queue.
"""

from __future__ import annotations

import json

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin import job_figures, labels, messages
from admin.console import PAGE, _after_arg, bp, safe_next, signed_in
from admin.error_messages import MESSAGES
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity.models import User
from identity.roles import MANAGERS
from jobs import records
from jobs.models import FINISHED, JOB_STATUSES, Job
from jobs.registry import KINDS
from web.request import db_session, job_queue


def can_retry(job: Job) -> bool:
    spec = KINDS.get(job.kind)
    return job.status in ("failed", "cancelled") and spec is not None and spec.retryable(job)


def can_cancel(job: Job) -> bool:
    return job.status in ("queued", "running") and not job.cancel_requested


def _error(job: Job) -> str | None:
    """Why the job failed (or why its last attempt did, while it waits to try again)."""
    if not job.error_code:
        return None
    try:
        stored = json.loads(job.error_detail or "{}")
    except ValueError:
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    code = stored.get("message_code") or job.error_code
    if code == "internal_error" or code.split(".", 1)[0] not in MESSAGES:
        # Not the domain's refusal (its codes all have a message): an exception's class
        # name, a crash, a dropped connection, Stripe away
        return _("An unexpected error stopped the job; the worker's log has the details.")
    params = stored.get("params") if isinstance(stored.get("params"), dict) else {}
    return messages.translate(code, params)


def status(job: Job) -> dict:
    """What the pages show of a job, in the reader's language (also the polled JSON)."""
    total = job.progress_total
    if job.status == "succeeded":
        percent = 100
    elif total:
        percent = max(0, min(100, job.progress_done * 100 // total))
    elif job.status == "running":
        percent = None  # working, amount unknown yet: the bar says so (indeterminate)
    else:
        percent = 0
    state = labels.label(job.status)
    if job.cancel_requested and job.status == "running":
        state = _("Stopping")
    return {
        "id": job.id,
        "status": job.status,
        "status_label": state,
        "phase_label": labels.job_phase(job.phase),
        "finished": job.status in FINISHED,
        "done": f"{job.progress_done:,}",
        "total": f"{total:,}" if total is not None else None,
        "percent": percent,
        "attempts": _("%(n)s of %(most)s", n=job.attempts, most=job.max_attempts),
        "error": _error(job),
    }


def _names(jobs: list[Job]) -> dict[int, str]:
    ids = {j.created_by_id for j in jobs if j.created_by_id is not None}
    s = db_session()
    return {i: user.name for i in ids if (user := s.get(User, i)) is not None}


def _result(job: Job) -> list[tuple[str, str]]:
    """The outcome's figures as words and formatted numbers, as the job's kind names them
    (``admin.job_figures``; never JSON, never a key)."""
    try:
        result = json.loads(job.result or "{}")
    except ValueError:
        return []
    return job_figures.figures(job.kind, result)


@bp.get("/jobs")
@signed_in(*MANAGERS)
def jobs():
    state = request.args.get("status") or None
    if state not in JOB_STATUSES:
        state = None
    kinds = labels.job_kinds()
    for name in KINDS:
        kinds.setdefault(name, labels.job_kind(name))
    kind = request.args.get("kind") or None
    if kind not in kinds:
        kind = None
    result = records.list_jobs(
        db_session(), status=state, kind=kind, limit=PAGE, after=_after_arg()
    )
    return render_template(
        "console/jobs.html",
        items=result.items,
        states={j.id: status(j) for j in result.items},
        names=_names(result.items),
        status=state or "",
        kind=kind or "",
        statuses=JOB_STATUSES,
        kinds=sorted(kinds.items(), key=lambda pair: pair[1]),
        next_after=result.next_after,
        active=any(j.status not in FINISHED for j in result.items),
        can_retry=can_retry,
        can_cancel=can_cancel,
    )


def _job(job_id: int) -> Job:
    job = db_session().get(Job, job_id) if job_id < 2**63 else None
    if job is None:
        abort(404)
    return job


@bp.get("/jobs/<int:job_id>")
@signed_in(*MANAGERS)
def job(job_id: int):
    job = _job(job_id)
    return render_template(
        "console/job.html",
        job=job,
        st=status(job),
        names=_names([job]),
        result=_result(job),
        can_retry=can_retry(job),
        can_cancel=can_cancel(job),
    )


@bp.get("/jobs/<int:job_id>/status")
@signed_in(*MANAGERS)
def job_status(job_id: int):
    """A job's progress as JSON (polled by static/job-progress.js)."""
    return jsonify(status(_job(job_id)))


@bp.post("/jobs/<int:job_id>/retry")
@signed_in(*MANAGERS)
def job_retry(job_id: int):
    """Run a failed or cancelled job again."""
    _job(job_id)
    try:
        with atomic(db_session()) as s:
            records.retry(s, job_id)
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        # After the commit: should the queue be away, the sweep hands the job out
        job_queue().enqueue_quietly(job_id)
        flash(_("The job will run again."), "info")
    return redirect(_back(job_id), 303)


@bp.post("/jobs/<int:job_id>/cancel")
@signed_in(*MANAGERS)
def job_cancel(job_id: int):
    """Cancel a waiting job, or ask a running one to stop (its work so far rolls back)."""
    _job(job_id)
    try:
        with atomic(db_session()) as s:
            job = records.cancel(s, job_id)
            stopping = job.status == "running"
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        if stopping:
            flash(_("The job stops at its next checkpoint; its work so far is undone."), "info")
        else:
            flash(_("The job is cancelled."), "info")
    return redirect(_back(job_id), 303)


def _back(job_id: int) -> str:
    # The list's buttons come back to the list (with its filters), the page's to the page
    default = url_for("console.job", job_id=job_id)
    target = safe_next(request.form.get("next"), default)
    return target if target.startswith("/console/jobs") else default
