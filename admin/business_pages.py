"""A local business's own page: its projects, return agreements and revenue reports."""

from __future__ import annotations

from flask import (
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _

from admin import forms, reports
from admin.console import bp, form_error, ledger_key, me, signed_in
from admin.matching_pages import org_proposals
from admin.self_service import requests_of
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity.models import Organisation
from identity.roles import visible
from ledger import listings
from ledger.fund import revenue_returns
from ledger.money import parse_amount
from web.request import db_session


def _business_page(
    org: Organisation,
    revenue_form=None,
    form_agreement: int | None = None,
):

    s = db_session()
    agreements = reports.agreements_due(s, business_id=org.id)
    revenue = {
        a.agreement.id: listings.list_revenue_reports(s, a.agreement.id, limit=100).items
        for a in agreements
    }
    returns = {
        a.agreement.id: listings.list_revenue_returns(s, a.agreement.id, limit=100).items
        for a in agreements
    }
    forms_by_agreement = {
        a.agreement.id: (
            revenue_form
            if revenue_form is not None and form_agreement == a.agreement.id
            else forms.RevenueForm(formdata=None)
        )
        for a in agreements
    }
    return render_template(
        "console/business.html",
        org=org,
        projects=listings.list_projects(s, business_id=org.id, limit=100).items,
        disbursements=listings.list_disbursements(s, business_id=org.id, limit=100).items,
        agreements=agreements,
        revenue=revenue,
        returns=returns,
        revenue_forms=forms_by_agreement,
        may_report=me().role == "business_member",
        proposals=org_proposals(org),
        partnerships=reports.org_partnerships(s, me(), org),
        requests=requests_of(org),
    )


@bp.get("/business")
@signed_in("business_member")
def my_business():
    return _business_page(me().organisation)


@bp.post("/agreements/<int:agreement_id>/revenue")
@signed_in("business_member")
def report_revenue(agreement_id: int):
    owner = listings.organisation_of_agreement(db_session(), agreement_id)
    visible(me(), owner, "Return agreement", agreement_id)  # another's is a 404, like none
    form = forms.RevenueForm()
    if form.validate_on_submit():
        try:
            revenue = parse_amount(form.revenue.data, "TWD")
            with atomic(db_session()) as tx:
                revenue_returns.report_revenue(
                    tx,
                    key=ledger_key(form),
                    agreement_id=agreement_id,
                    period_start=form.period_start.data,
                    period_end=form.period_end.data,
                    revenue=revenue,
                    actor=me(),
                )
        except LedgerError as error:
            form_error(form, error, aliases={"amount": "revenue"})
        else:
            flash(_("Revenue reported."), "info")
            return redirect(url_for("console.my_business"))
    return _business_page(me().organisation, form, agreement_id), 422
