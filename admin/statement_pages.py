"""The managers' yearly statements: make every donor company's statement for a year in the
background (``jobs.kinds.statements``), follow it, stop it. A company's download then serves
the stored statement (``admin.company_pages.yearly_statement``)."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms.validators import InputRequired, NumberRange

from admin import forms, job_progress, messages
from admin.console import bp, me, signed_in
from admin.forms import ConsoleForm
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity.roles import MANAGERS
from jobs import records
from jobs.kinds import statements as statement_jobs
from jobs.models import Job
from ledger import statements
from ledger.fund import common
from web.request import db_session, job_queue

KIND = statement_jobs.KIND


class StatementsForm(ConsoleForm):
    year = forms.WholeNumberField(
        _l("Year"), validators=[InputRequired(), NumberRange(min=2000, max=2200)]
    )


def _page(form: StatementsForm, status: int = 200):
    s = db_session()
    jobs = s.scalars(select(Job).where(Job.kind == KIND).order_by(Job.id.desc()).limit(10)).all()
    described = [
        dict(job_progress.describe(j), year=json.loads(j.params or "{}").get("year")) for j in jobs
    ]
    return render_template(
        "console/statements.html",
        form=form,
        jobs=described,
        stored=statements.stored_counts(s),
        working=any(not d["finished"] for d in described),
        action_form=forms.ActionForm(),
    ), status


@bp.route("/statements", methods=["GET", "POST"])
@signed_in(*MANAGERS)
def yearly_statements():
    form = StatementsForm()
    if not form.is_submitted():
        form.year.data = common.today().year - 1
    if form.validate_on_submit():
        year = form.year.data
        with atomic(db_session()) as s:
            job, created = statement_jobs.submit(s, year=year, actor_id=me().id)
        job_queue().enqueue_quietly(job.id)
        if created:
            flash(_("The statements for %(year)s are being made.", year=year), "info")
        else:
            flash(_("The statements for %(year)s are already being made.", year=year), "info")
        return redirect(url_for("console.yearly_statements"), 303)
    return _page(form, 422 if form.is_submitted() else 200)


@bp.post("/statements/jobs/<int:job_id>/cancel")
@signed_in(*MANAGERS)
def cancel_statements_job(job_id: int):
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    job = db_session().get(Job, job_id)
    if job is None or job.kind != KIND:
        abort(404)
    try:
        with atomic(db_session()) as s:
            records.cancel(s, job_id)
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(_("The statements stop after the company being made now."), "info")
    return redirect(url_for("console.yearly_statements"), 303)
