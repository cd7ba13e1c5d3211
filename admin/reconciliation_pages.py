"""The managers' reconciliation queue: statement lines waiting for a decision (confirm,
unmatch, ignore with a reason) and the bank statement upload, which imports the CSV and
runs the bank rules at once (synchronously) before showing the run's counts.

Everything is ``ledger.reconciliation``'s; these handlers parse forms, call it and render.
"""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from admin import forms, reports
from admin.views import bp, form_error, me, signed_in
from api.auth import MANAGERS
from api.common import atomic
from ledger import reconciliation
from ledger.bankfile import StatementHasErrors
from ledger.errors import LedgerError
from ledger.payment_models import ReconciliationRun, StatementImport, StatementLine
from placefund.app import db_session


def _queue_page(upload_form=None, bad_lines=None, line_forms=None, status: int = 200):
    line_forms = line_forms or {}
    items = reports.reconciliation_queue(db_session())
    return (
        render_template(
            "console/reconciliation.html",
            items=items,
            decided=reports.recent_decisions(db_session()),
            upload_form=upload_form or forms.BankUploadForm(formdata=None),
            bad_lines=bad_lines or [],
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
    form = forms.BankUploadForm()
    if not form.validate_on_submit():
        return _queue_page(upload_form=form, status=422)
    data = form.statement.data.read()
    encoding = None if form.encoding.data == "auto" else form.encoding.data
    try:
        with atomic() as s:
            report = reconciliation.import_bank_statement(
                s,
                data,
                mapping=form.mapping.data,
                encoding=encoding,
                name=form.statement.data.filename or "statement.csv",
                skip_bad_lines=form.skip_bad_lines.data,
                actor=me(),
            )
            run = reconciliation.run_bank(s, import_id=report.import_id, actor=me())
    except StatementHasErrors as error:
        bad = sorted(
            ((int(name.split()[-1]), "; ".join(msgs)) for name, msgs in error.fields.items()),
            key=lambda pair: pair[0],
        )
        form.statement.errors = [
            _(
                "%(n)s bad lines: nothing was imported. Fix them, or tick the box to skip them.",
                n=len(bad),
            )
        ]
        return _queue_page(upload_form=form, bad_lines=bad, status=422)
    except LedgerError as error:
        form_error(form, error)
        return _queue_page(upload_form=form, status=422)
    flash(
        _(
            "Imported %(new)s new lines (%(dup)s already imported, %(bad)s bad lines skipped).",
            new=report.lines_new,
            dup=report.duplicates,
            bad=len(report.errors),
        ),
        "info",
    )
    return redirect(url_for("console.reconciliation_run", run_id=run.id))


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


@bp.post("/reconciliation/lines/<int:line_id>/confirm")
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
        flash(error.detail, "error")
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


@bp.post("/reconciliation/lines/<int:line_id>/unmatch")
@signed_in(*MANAGERS)
def reconciliation_unmatch(line_id: int):
    return _decide(line_id, "unmatch")


@bp.post("/reconciliation/lines/<int:line_id>/ignore")
@signed_in(*MANAGERS)
def reconciliation_ignore(line_id: int):
    return _decide(line_id, "ignore")
