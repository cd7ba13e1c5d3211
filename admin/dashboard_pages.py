"""The managers' dashboard and the console's front page."""

from __future__ import annotations

from flask import (
    redirect,
    render_template,
)
from flask_babel import gettext as _

from admin import charts, reports
from admin.console import PAGE, bp, home_for, me, signed_in
from identity.roles import MANAGERS
from ledger import listings
from ledger.fund import common, figures
from ledger.fund.overdue import overdue_instalments, overdue_summary
from web.request import db_session


@bp.get("/")
@signed_in()
def index():
    return redirect(home_for(me()))


@bp.get("/dashboard")
@signed_in(*MANAGERS)
def dashboard():
    s = db_session()
    flows = reports.monthly_flows(s, end=common.today())
    chart = charts.flow_chart(flows, in_label=_("Inflows"), out_label=_("Outflows"))
    pledges, pledge_totals = reports.pledges_outstanding(s)
    agreements = reports.agreements_due(s)
    pending = listings.list_disbursements(s, status="reserved", limit=PAGE).items
    return render_template(
        "console/dashboard.html",
        figures=figures.fund_figures(s),
        overdue=overdue_summary(overdue_instalments(s, common.today())),
        flows=flows,
        chart=chart,
        by_donor_county=reports.donations_by_donor_county(s),
        pledges=pledges,
        pledge_totals=pledge_totals,
        agreements=agreements,
        pending=pending,
    )
