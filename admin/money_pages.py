"""Console pages of the money rules: overdue pledge instalments a manager follows up, and
the correction of a revenue report (a reversal and a new report, with the reason).

The rules are ``ledger.fund.overdue``'s and
``ledger.fund.revenue_returns.correct_revenue_report``'s; these parse forms, call them and render.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin import forms, job_progress
from admin.console import bp, form_error, ledger_key, me, signed_in
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity.models import User
from identity.roles import MANAGERS, visible
from jobs.kinds import reminders as reminder_jobs
from ledger.fund import common, revenue_returns
from ledger.fund.models import ReturnAgreement, RevenueReport
from ledger.fund.overdue import overdue_instalments, overdue_summary
from ledger.money import parse_amount
from web.request import db_session, job_queue


class CorrectRevenueForm(forms.MoneyForm):
    period_start = DateField(_l("Period from"), validators=[Optional()])
    period_end = DateField(_l("Period to"), validators=[Optional()])
    revenue = StringField(_l("Revenue (NT$)"), validators=[DataRequired(), Length(max=30)])
    reason = TextAreaField(
        _l("Why is the report corrected?"), validators=[DataRequired(), Length(max=500)]
    )


@bp.get("/pledges/overdue")
@signed_in(*MANAGERS)
def overdue_pledges():
    """Instalments past their due date and not paid, oldest first, with whom to call."""
    s = db_session()
    items = overdue_instalments(s, common.today())
    contacts: dict[int, list[User]] = {}
    companies = {o.company.id for o in items}
    if companies:
        for u in s.scalars(
            select(User).where(User.organisation_id.in_(companies)).order_by(User.id)
        ):
            contacts.setdefault(u.organisation_id, []).append(u)
    newest, reminders = reminder_jobs.latest(s)
    return render_template(
        "console/overdue.html",
        items=items,
        summary=overdue_summary(items),
        contacts=contacts,
        reminders=reminders,
        reminders_job=job_progress.describe(newest) if newest is not None else None,
        action_form=forms.ActionForm(),
    )


@bp.post("/pledges/overdue/reminders")
@signed_in(*MANAGERS)
def make_reminder_list():
    """Make the reminder list now rather than at 09:00 tomorrow (in the background)."""
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    with atomic(db_session()) as s:
        job, _created = reminder_jobs.submit_now(s, me().id)
    job_queue().enqueue_quietly(job.id)
    flash(_("The reminder list is being made."), "info")
    return redirect(url_for("console.overdue_pledges") + "#reminders", 303)


def _own_report(report_id: int) -> tuple[RevenueReport, ReturnAgreement]:
    s = db_session()
    report = s.get(RevenueReport, report_id)
    agreement = s.get(ReturnAgreement, report.agreement_id) if report else None
    visible(me(), agreement.business_id if agreement else None, "Revenue report", report_id)
    if report is None:
        abort(404)
    return report, agreement


@bp.route("/revenue-reports/<int:report_id>/correct", methods=["GET", "POST"])
@signed_in("business_member", *MANAGERS)
def correct_revenue_report(report_id: int):
    """Correct a revenue report: the old one is reversed and stays on record."""
    report, agreement = _own_report(report_id)
    form = CorrectRevenueForm()
    if form.validate_on_submit():
        try:
            revenue = parse_amount(form.revenue.data, agreement.currency)
            with atomic(db_session()) as tx:
                revenue_returns.correct_revenue_report(
                    tx,
                    key=ledger_key(form),
                    report_id=report_id,
                    revenue=revenue,
                    reason=form.reason.data.strip(),
                    period_start=form.period_start.data,
                    period_end=form.period_end.data,
                    actor=me(),
                )
        except LedgerError as error:
            form_error(form, error, aliases={"amount": "revenue"})
        else:
            flash(_("The report was corrected; the old one is kept as reversed."), "info")
            if me().role == "business_member":
                return redirect(url_for("console.my_business"))
            return redirect(url_for("console.organisation", org_id=agreement.business_id))
    elif not form.is_submitted():
        form.period_start.data = report.period_start
        form.period_end.data = report.period_end
    status = 422 if form.errors else 200
    return (
        render_template(
            "console/correct_report.html", form=form, report=report, agreement=agreement
        ),
        status,
    )
