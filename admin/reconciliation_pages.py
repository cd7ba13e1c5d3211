"""The managers' reconciliation queue: statement lines waiting for a decision (confirm,
unmatch, ignore with a reason) and the bank statement upload, which becomes an import job
(admin/imports.py) running in the background while its page shows the progress.

Everything is ``ledger.reconciliation``'s; these handlers parse forms, call it and render.
"""

from __future__ import annotations

import json

from flask import abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from admin import forms, imports, messages, reports
from admin.models import ImportJob
from admin.views import bp, form_error, me, signed_in
from api.auth import MANAGERS
from api.common import atomic
from ledger import reconciliation
from ledger.errors import LedgerError
from ledger.payment_models import ReconciliationRun, StatementImport, StatementLine
from placefund.app import db_session


def _queue_page(upload_form=None, line_forms=None, status: int = 200):
    line_forms = line_forms or {}
    if imports.mark_abandoned(db_session()):
        db_session().commit()
    items = reports.reconciliation_queue(db_session())
    return (
        render_template(
            "console/reconciliation.html",
            items=items,
            decided=reports.recent_decisions(db_session()),
            upload_form=upload_form or forms.BankUploadForm(formdata=None),
            jobs=imports.recent_jobs(db_session()),
            confirm_form=forms.ConfirmLineForm(formdata=None),
            reason_forms={
                (item.line.id, action): forms.unique_ids(
                    line_forms.get((item.line.id, action)) or forms.LineReasonForm(formdata=None),
                    f"{action}-{item.line.id}",
                )
                for item in items
                for action in ("unmatch", "ignore")
            },
        ),
        status,
    )


@bp.get("/reconciliation")
@signed_in(*MANAGERS)
def reconciliation_queue():
    return _queue_page()


@bp.post("/reconciliation/upload")
@signed_in(*MANAGERS)
def reconciliation_upload():
    """Store the upload as an import job, start it in the background, show its progress."""
    form = forms.BankUploadForm()
    if not form.validate_on_submit():
        return _queue_page(upload_form=form, status=422)
    data = form.statement.data.read(imports.MAX_FILE_BYTES + 1)
    encoding = None if form.encoding.data == "auto" else form.encoding.data
    existing = imports.active_job_for(db_session(), data) if data else None
    if existing is not None:
        flash(_("This file is already being imported."), "info")
        return redirect(url_for("console.reconciliation_job", job_id=existing.id), 303)
    try:
        with atomic() as s:
            job = imports.create_job(
                s,
                actor=me(),
                data=data,
                filename=form.statement.data.filename or "statement.csv",
                mapping=form.mapping.data,
                encoding=encoding,
                skip_bad_lines=form.skip_bad_lines.data,
            )
    except LedgerError as error:
        form_error(form, error, aliases={"mapping.name": "mapping"})
        return _queue_page(upload_form=form, status=422)
    imports.runner(current_app).start(job.id)
    return redirect(url_for("console.reconciliation_job", job_id=job.id), 303)


def _job(job_id: int) -> ImportJob:
    s = db_session()
    if imports.mark_abandoned(s):
        s.commit()
    job = s.get(ImportJob, job_id)
    if job is None:
        abort(404)
    return job


def job_status(job: ImportJob) -> dict:
    """What the progress page shows, in the reader's language (also its JSON)."""
    phases = {
        "queued": _("Waiting to start"),
        "reading": _("Reading the file"),
        "importing": _("Storing the lines"),
        "matching": _("Matching against the ledger"),
        "done": _("Done"),
    }
    states = {
        "queued": _("Waiting"),
        "running": _("Running"),
        "succeeded": _("Finished"),
        "failed": _("Failed"),
    }
    total = job.lines_total
    percent = None
    if job.status == "succeeded":
        percent = 100
    elif total:
        # Storing the lines is most of the work; matching is the last step
        percent = min(95, int(90 * job.lines_done / total)) if job.phase != "matching" else 95
    english = str(get_locale()).startswith("en")
    return {
        "id": job.id,
        "status": job.status,
        "status_label": states[job.status],
        "phase": job.phase,
        "phase_label": phases[job.phase] if job.status != "failed" else states["failed"],
        "finished": job.finished,
        "filename": job.filename,
        "lines_total": total,
        "lines_done": job.lines_done,
        "percent": percent,
        "lines_new": job.lines_new,
        "duplicates": job.duplicates,
        "matched": job.matched,
        "suggested": job.suggested,
        "unmatched": job.unmatched,
        "donations_recorded": job.donations_recorded,
        "bad_line_count": job.bad_line_count,
        "bad_lines": [
            {"line": b["line"], "message": b["message"] if english else b["message_zh"]}
            for b in imports.bad_lines(job)
        ],
        "skip_bad_lines": job.skip_bad_lines,
        "error": (
            messages.translate(job.error_code, job.error_detail or "", {"n": job.bad_line_count})
            if job.status == "failed"
            else None
        ),
        "resumable": imports.resumable(job),
        "run_url": (
            url_for("console.reconciliation_run", run_id=job.run_id) if job.run_id else None
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
    """The progress page's figures as JSON (polled by static/import-progress.js)."""
    return jsonify(job_status(_job(job_id)))


@bp.post("/reconciliation/imports/<int:job_id>/resume")
@signed_in(*MANAGERS)
def reconciliation_job_resume(job_id: int):
    """Try an interrupted (or otherwise failed, not for its file) job again."""
    _job(job_id)
    with atomic() as s:
        queued = imports.requeue(s, job_id)
    if queued:
        imports.runner(current_app).start(job_id)
        flash(_("The import continues."), "info")
    else:
        flash(_("This import cannot be resumed; upload the file again."), "error")
    return redirect(url_for("console.reconciliation_job", job_id=job_id), 303)


@bp.get("/reconciliation/runs/<int:run_id>")
@signed_in(*MANAGERS)
def reconciliation_run(run_id: int):
    s = db_session()
    run = s.get(ReconciliationRun, run_id)
    if run is None:
        abort(404)
    stmt_import = s.get(StatementImport, run.import_id) if run.import_id else None
    return render_template(
        "console/reconciliation_run.html",
        run=run,
        stmt_import=stmt_import,
        summary=json.loads(run.summary or "{}"),
        results=reconciliation.results_of(s, run_id),
    )


def _line(line_id: int) -> StatementLine:
    line = db_session().get(StatementLine, line_id)
    if line is None:
        abort(404)
    return line


def _back(line_id: int):
    return redirect(f"{url_for('console.reconciliation_queue')}#line-{line_id}")


@bp.post("/reconciliation/lines/<bigid:line_id>/confirm")
@signed_in(*MANAGERS)
def reconciliation_confirm(line_id: int):
    _line(line_id)
    form = forms.ConfirmLineForm()
    if not form.validate_on_submit():
        flash(_("The choice is not valid."), "error")
        return _back(line_id)
    try:
        with atomic() as s:
            reconciliation.confirm_line(
                s,
                line_id=line_id,
                targets=(form.targets.data or "").split() or None,
                reason=form.reason.data or None,
                actor=me(),
            )
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(_("Line %(id)s confirmed.", id=line_id), "info")
    return _back(line_id)


def _decide(line_id: int, action: str):
    _line(line_id)
    form = forms.LineReasonForm()
    if form.validate_on_submit():
        service = reconciliation.unmatch_line if action == "unmatch" else reconciliation.ignore_line
        try:
            with atomic() as s:
                service(s, line_id=line_id, reason=form.reason.data.strip(), actor=me())
        except LedgerError as error:
            form_error(form, error)
        else:
            if action == "unmatch":
                flash(_("Line %(id)s is unmatched.", id=line_id), "info")
            else:
                flash(_("Line %(id)s is ignored.", id=line_id), "info")
            return _back(line_id)
    return _queue_page(line_forms={(line_id, action): form}, status=422)


@bp.post("/reconciliation/lines/<bigid:line_id>/unmatch")
@signed_in(*MANAGERS)
def reconciliation_unmatch(line_id: int):
    return _decide(line_id, "unmatch")


@bp.post("/reconciliation/lines/<bigid:line_id>/ignore")
@signed_in(*MANAGERS)
def reconciliation_ignore(line_id: int):
    return _decide(line_id, "ignore")
