"""Return agreements, revenue reports and their corrections through
``ledger.fund.revenue_returns``; on SQLite."""

import datetime as dt

import pytest

from foundation.errors import (
    InvalidAmount,
    InvalidState,
    ValidationError,
)
from ledger.books.models import Entry
from ledger.books.reading import balance
from ledger.fund import revenue_returns as fund_revenue_returns
from tests import factories as f
from tests.ledger.fund.helpers import Q1, D, _agreement, _report, entries


def test_revenue_returns_follow_the_agreement(session, world):
    with f.tx(session):
        agreement = fund_revenue_returns.create_return_agreement(
            session,
            actor=world.ndc,
            business_id=world.business.id,
            share_bp=500,
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2030, 12, 31),
            cap_amount=1_000_000,
        )
        report = fund_revenue_returns.report_revenue(
            session,
            key="rv1",
            agreement_id=agreement.id,
            period_start=dt.date(2026, 1, 1),
            period_end=dt.date(2026, 3, 31),
            revenue=12_345_600,
        )
    assert report.due_amount == 617_200  # 5% of NT$123,456, rounded down to whole dollars
    with f.tx(session):
        second = fund_revenue_returns.report_revenue(
            session,
            key="rv2",
            agreement_id=agreement.id,
            period_start=dt.date(2026, 4, 1),
            period_end=dt.date(2026, 6, 30),
            revenue=20_000_000,
        )
    assert second.due_amount == 382_800  # capped at NT$10,000 in total
    with f.tx(session):
        fund_revenue_returns.record_revenue_return(
            session,
            key="ret",
            agreement_id=agreement.id,
            amount=600_000,
            received_on=dt.date(2026, 7, 1),
        )
    assert balance(session, f"assets:returns_receivable:agreement:{agreement.id}") == 400_000
    assert balance(session, "income:revenue_returns") == 1_000_000
    with pytest.raises(InvalidAmount, match="exceeds what is due"), f.tx(session):
        fund_revenue_returns.record_revenue_return(
            session, key="ret2", agreement_id=agreement.id, amount=500_000
        )


def test_return_agreement_must_concern_the_business_own_project(session, world):
    with f.tx(session):
        other = f.project(session)
    with pytest.raises(ValidationError, match="another business"), f.tx(session):
        fund_revenue_returns.create_return_agreement(
            session,
            actor=world.ndc,
            business_id=world.business.id,
            project_id=other.id,
            share_bp=500,
            start_date=D,
            end_date=D,
        )


def test_one_revenue_report_per_period_and_no_overlaps(session, world):
    with f.tx(session):
        agreement = _agreement(session, world)
        first = _report(session, agreement, "q1", *Q1)
    before = entries(session)
    for key, start, end in [
        ("again", *Q1),  # the same period twice
        ("overlap", dt.date(2026, 3, 1), dt.date(2026, 4, 30)),
        ("inside", dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
    ]:
        with pytest.raises(ValidationError, match="already reported") as refused, f.tx(session):
            _report(session, agreement, key, start, end)
        assert refused.value.extra["case"] == "period_overlap"
        assert refused.value.extra["id"] == first.id
    session.expire_all()
    assert entries(session) == before
    with f.tx(session):
        _report(session, agreement, "q2", dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    assert fund_revenue_returns.amount_due_total(session, agreement.id) == 200_000


def test_revenue_in_twd_is_whole_dollars_and_a_backwards_period_says_so(session, world):
    with f.tx(session):
        agreement = _agreement(session, world)
    with pytest.raises(InvalidAmount, match="whole number") as refused, f.tx(session):
        _report(session, agreement, "cents", *Q1, revenue=100_050)  # NT$1,000.50
    assert refused.value.fields == {"revenue": ["must be a multiple of 100"]}
    with pytest.raises(ValidationError, match="ends before it starts") as refused, f.tx(session):
        _report(session, agreement, "back", dt.date(2026, 3, 31), dt.date(2026, 1, 1))
    assert refused.value.fields == {"period_end": ["before period_start"]}
    assert entries(session) == 0


def test_a_correction_reverses_the_report_and_reports_again_both_kept(session, world):
    with f.tx(session):
        agreement = _agreement(session, world)
        wrong = _report(session, agreement, "q1", *Q1, revenue=60_000_000)
        fund_revenue_returns.record_revenue_return(
            session, key="back", agreement_id=agreement.id, amount=300_000
        )
    receivable = f"assets:returns_receivable:agreement:{agreement.id}"
    assert balance(session, receivable) == 5_700_000
    with pytest.raises(ValidationError, match="reason"), f.tx(session):
        fund_revenue_returns.correct_revenue_report(
            session, key="c", report_id=wrong.id, revenue=4_300_000, reason=" "
        )
    with f.tx(session):
        right = fund_revenue_returns.correct_revenue_report(
            session, key="c", report_id=wrong.id, revenue=4_300_000, reason="多打了一個零"
        )
    session.refresh(wrong)
    assert wrong.reversed_at is not None and wrong.reversal_entry_id is not None
    assert (right.corrects_report_id, right.reason, right.due_amount) == (
        wrong.id,
        "多打了一個零",
        430_000,
    )
    assert (right.period_start, right.period_end) == Q1
    assert session.get(Entry, wrong.reversal_entry_id).reverses_entry_id == wrong.entry_id
    assert balance(session, receivable) == 130_000  # NT$4,300 due less NT$3,000 returned
    assert fund_revenue_returns.amount_due_total(session, agreement.id) == 430_000
    with f.tx(session):  # a retry gives the same correction back
        again = fund_revenue_returns.correct_revenue_report(
            session, key="c", report_id=wrong.id, revenue=4_300_000, reason="多打了一個零"
        )
    assert again.id == right.id
    with pytest.raises(InvalidState, match="already corrected"), f.tx(session):
        fund_revenue_returns.correct_revenue_report(
            session, key="c2", report_id=wrong.id, revenue=1_000_000, reason="again"
        )
    with pytest.raises(InvalidAmount, match="already been returned"), f.tx(session):
        fund_revenue_returns.correct_revenue_report(
            session, key="c3", report_id=right.id, revenue=1_000_000, reason="less"
        )


def test_the_database_keeps_one_report_in_force_per_period_start(session, world):
    from sqlalchemy.exc import IntegrityError

    from ledger.fund.models import RevenueReport

    with f.tx(session):
        agreement = _agreement(session, world)
        _report(session, agreement, "q1", *Q1)
    row = dict(agreement_id=agreement.id, revenue_amount=0, due_amount=0)
    with pytest.raises(IntegrityError), f.tx(session):
        session.add(RevenueReport(period_start=Q1[0], period_end=Q1[0], **row))
    with pytest.raises(IntegrityError), f.tx(session):
        session.add(RevenueReport(period_start=Q1[1], period_end=Q1[0], **row))
