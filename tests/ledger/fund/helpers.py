"""What the tests of the fund's operations share: the day step, funding a world, reports."""

import datetime as dt

from sqlalchemy import func, select

from ledger.books.models import Entry
from ledger.fund import donations as fund_donations
from ledger.fund import revenue_returns as fund_revenue_returns
from tests import factories as f

D = f.DAY


def entries(session) -> int:
    return session.scalar(select(func.count(Entry.id)))


def _fund(session, world, amount=1_000_000, restriction=None):
    return fund_donations.record_donation(
        session,
        key=f"fund{amount}{restriction}",
        channel="bank_transfer",
        amount=amount,
        company_id=world.company.id,
        restriction=restriction,
        received_on=D,
    )


def _agreement(session, world, **kw):
    return fund_revenue_returns.create_return_agreement(
        session,
        actor=world.ndc,
        business_id=world.business.id,
        share_bp=1000,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        **kw,
    )


def _report(session, agreement, key, start, end, revenue=1_000_000):
    return fund_revenue_returns.report_revenue(
        session,
        key=key,
        agreement_id=agreement.id,
        period_start=start,
        period_end=end,
        revenue=revenue,
    )


Q1 = (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
