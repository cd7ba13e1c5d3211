"""The managers' reconciliation queue: statement lines waiting for a decision (confirm,
unmatch, ignore with a reason) and the bank statement upload, which becomes an import job
(a ``bank_import`` job, jobs/kinds/bank_import.py) that a worker runs while its page shows
the progress.

* ``/reconciliation``: counts per status, filters and pages, newest first;
* ``/reconciliation/lines/<id>``: one line, its suggestions, and a search over the ledger
  items it could be matched to by hand;
* ``/reconciliation/runs/<id>``: a run's findings in words, with a warning when the
  statement's closing balance differs from the ledger.

Pages name statuses, findings and ledger items in words and amounts in NT$, never by their
codes or ids (those travel only in form values). The queries are
``ledger.reconciliation.queue``'s and the decisions ``ledger.reconciliation.runs``'s; these
handlers parse forms, call them and render.
"""

from __future__ import annotations

import json

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from admin import forms, messages
from admin.console import bp, form_error, me, safe_next, signed_in
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity.roles import MANAGERS
from jobs import records
from jobs.kinds import bank_import
from jobs.models import Job
from ledger.money import format_money
from ledger.reconciliation import queue
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.models import (
    LINE_SOURCES,
    ReconciliationRun,
    StatementImport,
    StatementLine,
)
from web.request import db_session, job_queue

# What the pages call statuses, findings, rules and ledger items (never their codes)


def status_names() -> dict[str, str]:
    return {
        "open": _("Needs a decision"),
        "unmatched": _("Unmatched"),
        "matched": _("Matched, to confirm"),
        "confirmed": _("Confirmed"),
        "ignored": _("Ignored"),
        "all": _("All"),
    }


def outcome_name(outcome: str) -> str:
    return {
        "matched": _("Matched"),
        "suggested": _("Suggested, to choose"),
        "unmatched_line": _("No ledger item"),
        "unmatched_item": _("Not on the statement"),
        "missing_in_ledger": _("Not in the ledger"),
        "missing_in_stripe": _("Not in Stripe"),
        "amount_mismatch": _("Amounts differ"),
        "fee_mismatch": _("Fees differ"),
        "payout_ok": _("Payout adds up"),
        "payout_mismatch": _("Payout does not add up"),
    }.get(outcome, _("Finding"))


def rule_name(rule: str | None) -> str:
    return {
        "virtual_account": _("by virtual account"),
        "reference": _("by the reference in the memo"),
        "amount_date": _("by amount and date"),
        "one_to_many": _("several items adding up"),
        "stripe": _("by Stripe's records"),
        "manual": _("by hand"),
    }.get(rule or "", "")


def kind_name(kind: str) -> str:
    return {
        "pledge": _("Pledge"),
        "donation": _("Donation"),
        "stripe_payout": _("Stripe payout"),
        "disbursement": _("Disbursement"),
        "revenue_return": _("Revenue return"),
        "entry": _("Ledger entry"),
    }.get(kind, _("Ledger item"))


def _helpers() -> dict:
    return {
        "status_names": status_names(),
        "outcome_name": outcome_name,
        "rule_name": rule_name,
        "kind_name": kind_name,
        "difference_of": _difference_of,
    }


def _filter_from(form: forms.QueueFilterForm) -> tuple[queue.LineFilter, int]:
    """The domain filter a valid form asks for (an unknown status or source: the default)."""
    status = form.status.data if form.status.data in queue.STATUS_FILTERS else "open"
    source = form.source.data if form.source.data in LINE_SOURCES else None
    size = int(form.size.data) if form.size.data in {str(n) for n in queue.PAGE_SIZES} else 50
    return (
        queue.LineFilter(
            status=status,
            source=source,
            start=form.start.data,
            end=form.end.data,
            amount_min=getattr(form.amount_min, "minor", None),
            amount_max=getattr(form.amount_max, "minor", None),
        ),
        size,
    )


def _queue_page(upload_form=None, status: int = 200):
    s = db_session()
    filter_form = forms.QueueFilterForm(request.args)
    valid = filter_form.validate()
    if not valid:
        status = 422 if status == 200 else status
        # Show what the valid fields ask for; the wrong ones are marked on the form
        for f in (filter_form.start, filter_form.end):
            if f.errors:
                f.data = None
        for f in (filter_form.amount_min, filter_form.amount_max):
            if f.errors:
                f.minor = None
    line_filter, size = _filter_from(filter_form)
    filter_form.status.data = line_filter.status
    try:
        page = queue.page_of_lines(
            s,
            line_filter,
            size=size,
            after=queue.decode_cursor(request.args.get("after"), "after"),
            before=queue.decode_cursor(request.args.get("before"), "before"),
        )
    except LedgerError as error:  # a mangled page position: the first page, with a word
        flash(messages.message(error), "error")
        page = queue.page_of_lines(s, line_filter, size=size)
    counts = queue.counts(s, line_filter)
    names = status_names()
    filter_form.status.choices = [
        (key, f"{names[key]} ({counts[key]:,})") for key in queue.STATUS_FILTERS
    ]
    decided = queue.recent_decisions(s)
    refs = [r for item in page.items for r in _refs_of(item)]
    refs += [r for ln in decided for r in ln.matched_to.split()]
    return (
        render_template(
            "console/reconciliation.html",
            page=page,
            counts=counts,
            line_filter=line_filter,
            filter_form=filter_form,
            queue_url=_queue_url,
            items=queue.describe(s, refs),
            decided=decided,
            upload_form=upload_form or forms.BankUploadForm(formdata=None),
            jobs=recent_imports(s),
            confirm_form=forms.ConfirmLineForm(formdata=None),
            reason_forms={
                (item.line.id, action): forms.unique_ids(
                    forms.LineReasonForm(formdata=None),
                    f"{action}-{item.line.id}",
                )
                for item in page.items
                for action in ("unmatch", "ignore")
            },
            **_helpers(),
        ),
        status,
    )


def _queue_url(**changes) -> str:
    """The queue's address with the current filters and ``changes`` (a new page position
    or status starts from the filters, never from the old position)."""
    args = {k: v for k, v in request.args.items() if k not in ("after", "before")}
    return url_for("console.reconciliation_queue", **(args | changes))


def _difference_of(line, refs, items) -> int | None:
    if not refs or any(r not in items for r in refs):
        return None
    return queue.difference(line, [items[r] for r in refs])


def _refs_of(item: queue.QueueLine) -> list[str]:
    refs = item.line.matched_to.split()
    for option in item.options:
        refs += option
    return refs


@bp.get("/reconciliation")
@signed_in(*MANAGERS)
def reconciliation_queue():
    """The lines needing a decision, newest first: counts, filters and pages."""
    return _queue_page()


@bp.post("/reconciliation/upload")
@signed_in(*MANAGERS)
def reconciliation_upload():
    """Record the upload as a ``bank_import`` job for the workers, show its progress."""
    form = forms.BankUploadForm()
    if not form.validate_on_submit():
        return _queue_page(upload_form=form, status=422)
    data = form.statement.data.read(bank_import.MAX_FILE_BYTES + 1)
    encoding = None if form.encoding.data == "auto" else form.encoding.data
    try:
        with atomic(db_session()) as s:
            job, created = bank_import.submit(
                s,
                data=data,
                filename=form.statement.data.filename or "statement.csv",
                mapping=form.mapping.data,
                encoding=encoding,
                skip_bad_lines=form.skip_bad_lines.data,
                actor_id=me().id,
            )
    except LedgerError as error:
        form_error(form, error, aliases={"mapping.name": "mapping"})
        return _queue_page(upload_form=form, status=422)
    if created:
        # After the commit: should the queue be away, the job waits for the sweep
        job_queue().enqueue_quietly(job.id)
    else:
        flash(_("This file is already being imported."), "info")
    return redirect(url_for("console.reconciliation_job", job_id=job.id), 303)


def recent_imports(s, limit: int = 10) -> list[dict]:
    """The newest imports for the queue page: their job, file name and state."""
    jobs = s.scalars(
        select(Job).where(Job.kind == bank_import.KIND).order_by(Job.id.desc()).limit(limit)
    )
    return [
        {
            "id": j.id,
            "filename": bank_import.params_of(j).get("filename", ""),
            "created_at": j.created_at,
            "status": j.status,
        }
        for j in jobs
    ]


def _job(job_id: int) -> Job:
    job = db_session().get(Job, job_id)
    if job is None or job.kind != bank_import.KIND:
        abort(404)
    return job


def job_status(job: Job) -> dict:
    """What the progress page shows, in the reader's language (also its JSON)."""
    phases = {
        "queued": _("Waiting to start"),
        "waiting": _("Waiting to try again"),
        "reading": _("Reading the file"),
        "importing": _("Storing the lines"),
        "matching": _("Matching against the ledger"),
        "done": _("Done"),
        "cancelled": _("Cancelled"),
    }
    states = {
        "queued": _("Waiting"),
        "running": _("Running"),
        "succeeded": _("Finished"),
        "failed": _("Failed"),
        "cancelled": _("Cancelled"),
    }
    params = bank_import.params_of(job)
    result = bank_import.result_of(job)
    total, done = job.progress_total, job.progress_done
    percent = None
    if job.status == "succeeded":
        percent = 100
    elif total:
        # Storing the lines is most of the work; matching is the last step
        percent = min(95, int(90 * done / total)) if job.phase != "matching" else 95
    english = str(get_locale()).startswith("en")
    finished = job.status in ("succeeded", "failed", "cancelled")
    if job.status in ("failed", "cancelled"):
        phase_label = states[job.status]
    else:
        phase_label = phases.get(job.phase, phases["queued"])
    error = None
    if job.status == "failed" or (job.status == "queued" and job.error_code):
        error = messages.translate(*bank_import.failure(job))
    return {
        "id": job.id,
        "status": job.status,
        "status_label": states.get(job.status, job.status),
        "phase": job.phase,
        "phase_label": phase_label,
        "finished": finished,
        "filename": params.get("filename", ""),
        "file_size": params.get("file_size"),
        "lines_total": total,
        "lines_done": done,
        "percent": percent,
        "lines_new": result.get("lines_new"),
        "duplicates": result.get("duplicates"),
        "matched": result.get("matched"),
        "suggested": result.get("suggested"),
        "unmatched": result.get("unmatched"),
        "donations_recorded": result.get("donations_recorded"),
        "bad_line_count": result.get("bad_line_count", 0),
        "bad_lines": [
            {"line": b["line"], "message": b["message"] if english else b["message_zh"]}
            for b in result.get("bad_lines", [])
        ],
        "skip_bad_lines": bool(params.get("skip_bad_lines")),
        "error": error,
        "resumable": finished and job.status != "succeeded" and bank_import.retryable(job),
        "run_url": (
            url_for("console.reconciliation_run", run_id=result["run_id"])
            if result.get("run_id")
            else None
        ),
    }


@bp.get("/reconciliation/imports/<int:job_id>")
@signed_in(*MANAGERS)
def reconciliation_job(job_id: int):
    """The import's progress: live through the status endpoint, refreshed without scripts."""
    job = _job(job_id)
    return render_template(
        "console/import_job.html", job=job, st=job_status(job), action_form=forms.ActionForm()
    )


@bp.get("/reconciliation/imports/<int:job_id>/status")
@signed_in(*MANAGERS)
def reconciliation_job_status(job_id: int):
    """The progress page's figures as JSON (polled by static/job-progress.js, the script of
    every page that follows a job)."""
    return jsonify(job_status(_job(job_id)))


@bp.post("/reconciliation/imports/<int:job_id>/resume")
@signed_in(*MANAGERS)
def reconciliation_job_resume(job_id: int):
    """Run a failed or cancelled import again (not one whose file was refused): one whose
    lines were stored goes straight to matching."""
    _job(job_id)
    try:
        with atomic(db_session()) as s:
            records.retry(s, job_id)
    except LedgerError:
        flash(_("This import cannot be resumed; upload the file again."), "error")
    else:
        job_queue().enqueue_quietly(job_id)
        flash(_("The import continues."), "info")
    return redirect(url_for("console.reconciliation_job", job_id=job_id), 303)


@bp.get("/reconciliation/runs/<int:run_id>")
@signed_in(*MANAGERS)
def reconciliation_run(run_id: int):
    """A run's figures and findings in words; a closing balance that differs is a warning."""
    s = db_session()
    run = s.get(ReconciliationRun, run_id)
    if run is None:
        abort(404)
    outcome = request.args.get("outcome") or None
    after = request.args.get("after", "")
    findings = queue.run_findings(
        s, run_id, outcome=outcome, after=int(after) if after.isdigit() else None
    )
    refs = [r for f in findings.items for r in f.refs]
    return render_template(
        "console/reconciliation_run.html",
        run=run,
        stmt_import=s.get(StatementImport, run.import_id) if run.import_id else None,
        summary=json.loads(run.summary or "{}"),
        findings=findings,
        outcome=outcome,
        items=queue.describe(s, refs),
        mapping_names={"tw_bank": _("Taiwanese bank export"), "generic": _("Generic layout")},
        **_helpers(),
    )


def _line(line_id: int) -> StatementLine:
    line = db_session().get(StatementLine, line_id)
    if line is None:
        abort(404)
    return line


def _back(line_id: int):
    """Back where the decision was taken (the queue page with its filters), at the line."""
    queue_url = url_for("console.reconciliation_queue")
    target = safe_next(request.form.get("next"), queue_url)
    if not target.startswith(queue_url):
        target = queue_url
    return redirect(f"{target.split('#')[0]}#line-{line_id}")


def _line_page(
    line: StatementLine, confirm_form=None, status: int = 200, reason_form=None, action=None
):
    """A line with its finding, and a search over the ledger items it could be matched to."""
    s = db_session()
    # The search stays after a refused confirm (the form carries it back)
    search = forms.CandidateSearchForm(request.values)
    found = []
    if search.validate() and search.q.data:
        found = queue.search_items(s, search.q.data, currency=line.currency, source=line.source)
    entry = queue.queue_line(s, line)
    refs = _refs_of(entry)
    choices = [" ".join(option) for option in entry.options] + [i.ref for i in found]
    if line.status == "matched":
        choices.insert(0, line.matched_to)
    # One confirm form per choice (own field ids); a refused one comes back with its error
    confirm_forms = {}
    for n, targets in enumerate(dict.fromkeys(choices)):
        posted = confirm_form is not None and (confirm_form.targets.data or "") == targets
        form = confirm_form if posted else forms.ConfirmLineForm(formdata=None)
        form.targets.data = targets
        confirm_forms[targets] = forms.unique_ids(form, f"choice-{n}")
    return (
        render_template(
            "console/reconciliation_line.html",
            entry=entry,
            ln=line,
            search=search,
            found=found,
            items=queue.describe(s, refs),
            confirm_forms=confirm_forms,
            reason_forms={
                a: forms.unique_ids(
                    reason_form
                    if (a == action and reason_form is not None)
                    else forms.LineReasonForm(formdata=None),
                    f"{a}-{line.id}",
                )
                for a in ("unmatch", "ignore")
            },
            stmt_import=s.get(StatementImport, line.import_id),
            **_helpers(),
        ),
        status,
    )


@bp.get("/reconciliation/lines/<int:line_id>")
@signed_in(*MANAGERS)
def reconciliation_line(line_id: int):
    return _line_page(_line(line_id))


def _describe_line(line: StatementLine) -> str:
    return _(
        "The line of %(date)s for %(amount)s",
        date=line.date.isoformat(),
        amount=format_money(line.amount, line.currency),
    )


@bp.post("/reconciliation/lines/<bigid:line_id>/confirm")
@signed_in(*MANAGERS)
def reconciliation_confirm(line_id: int):
    """Confirm the proposed match or the items chosen; from the line page, errors stay there."""
    line = _line(line_id)
    form = forms.ConfirmLineForm()
    from_line = request.form.get("back") == "line"
    if not form.validate_on_submit():
        flash(_("The choice is not valid."), "error")
        return _line_page(line, form, 422) if from_line else _back(line_id)
    try:
        with atomic(db_session()) as s:
            confirmed = reconciliation_runs.confirm_line(
                s,
                line_id=line_id,
                targets=(form.targets.data or "").split() or None,
                reason=form.reason.data or None,
                actor=me(),
            )
            words = _describe_line(confirmed)
    except LedgerError as error:
        if from_line:
            form_error(form, error)
            return _line_page(_line(line_id), form, 422)
        flash(messages.message(error), "error")
    else:
        flash(_("%(line)s is confirmed.", line=words), "info")
    return _back(line_id)


def _decide(line_id: int, action: str):
    """Unmatch or ignore with a reason; a refusal is shown on the line's own page (the
    queue page it came from may not show the line's form any more)."""
    line = _line(line_id)
    form = forms.LineReasonForm()
    if form.validate_on_submit():
        service = (
            reconciliation_runs.unmatch_line
            if action == "unmatch"
            else reconciliation_runs.ignore_line
        )
        try:
            with atomic(db_session()) as s:
                service(s, line_id=line_id, reason=form.reason.data.strip(), actor=me())
        except LedgerError as error:
            form_error(form, error)
        else:
            words = _describe_line(_line(line_id))
            if action == "unmatch":
                flash(_("%(line)s is unmatched.", line=words), "info")
            else:
                flash(_("%(line)s is ignored.", line=words), "info")
            return _back(line_id)
    return _line_page(line, status=422, reason_form=form, action=action)


@bp.post("/reconciliation/lines/<bigid:line_id>/unmatch")
@signed_in(*MANAGERS)
def reconciliation_unmatch(line_id: int):
    return _decide(line_id, "unmatch")


@bp.post("/reconciliation/lines/<bigid:line_id>/ignore")
@signed_in(*MANAGERS)
def reconciliation_ignore(line_id: int):
    return _decide(line_id, "ignore")
