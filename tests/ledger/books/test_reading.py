import datetime as dt

import pytest

from foundation.errors import AssertionFailed, PeriodClosed, ValidationError
from ledger.books.models import Period
from ledger.books.periods import close_period
from ledger.books.reading import balance, statement, statement_page, trial_balance
from ledger.fund import donations as fund_donations
from tests import factories as f


@pytest.fixture
def setup(session):
    with f.tx(session):
        company = f.organisation(session, "company")
        manager = f.manager(session, "NDC")
        for i, day in enumerate([1, 5, 9]):
            fund_donations.record_donation(
                session,
                key=f"d{i}",
                channel="bank_transfer",
                amount=100_000 * (i + 1),
                company_id=company.id,
                received_on=dt.date(2026, 10, day),
            )
    return company, manager


def test_balance_as_of_a_date(session, setup):
    assert balance(session, "assets:bank:main") == 600_000
    assert balance(session, "assets:bank:main", dt.date(2026, 10, 4)) == 100_000
    assert balance(session, "assets:bank:main", dt.date(2026, 9, 30)) == 0


def test_statement_has_running_balance(session, setup):
    st = statement(session, "assets:bank:main", dt.date(2026, 10, 2), dt.date(2026, 10, 31))
    assert st.opening == 100_000
    assert [(ln.amount, ln.running) for ln in st.lines] == [(200_000, 300_000), (300_000, 600_000)]
    assert st.closing == 600_000
    income = statement(session, "income:donations")
    assert [ln.running for ln in income.lines] == [100_000, 300_000, 600_000]


def test_statement_page_is_the_latest_lines_and_pages_back_to_the_opening(session, setup):
    whole = statement(session, "assets:bank:main")
    latest = statement_page(session, "assets:bank:main", limit=2)
    # The same lines and running balances as the whole statement's last two
    assert latest.lines == whole.lines[-2:]
    assert (latest.opening, latest.closing) == (100_000, 600_000)
    assert latest.earlier is not None
    first = statement_page(session, "assets:bank:main", limit=2, before=latest.earlier)
    assert first.lines == whole.lines[:1]
    assert (first.opening, first.closing, first.earlier) == (0, 100_000, None)


def test_statement_page_within_dates(session, setup):
    st = statement_page(
        session, "assets:bank:main", dt.date(2026, 10, 2), dt.date(2026, 10, 6), limit=5
    )
    assert [(ln.amount, ln.running) for ln in st.lines] == [(200_000, 300_000)]
    assert (st.opening, st.closing, st.earlier) == (100_000, 300_000, None)


def test_trial_balance_debits_equal_credits(session, setup):
    tb = trial_balance(session)
    assert tb.balanced and tb.totals == {"TWD": (600_000, 600_000)}
    past = trial_balance(session, dt.date(2026, 10, 1))
    assert past.totals == {"TWD": (100_000, 100_000)}


def test_close_period_with_assertions_then_reject_postings_inside_it(session, setup):
    company, manager = setup
    with pytest.raises(AssertionFailed, match="assets:bank:main"), f.tx(session):
        close_period(
            session,
            actor=manager,
            end_date=dt.date(2026, 10, 5),
            assertions={"assets:bank:main": 999},
        )
    assert session.query(Period).count() == 0
    with f.tx(session):
        close_period(
            session,
            actor=manager,
            end_date=dt.date(2026, 10, 5),
            assertions={"assets:bank:main": 300_000},
        )
    with pytest.raises(PeriodClosed, match="2026-10-05"), f.tx(session):
        fund_donations.record_donation(
            session,
            key="late",
            channel="bank_transfer",
            amount=100_000,
            company_id=company.id,
            received_on=dt.date(2026, 10, 5),
        )
    with f.tx(session):
        fund_donations.record_donation(
            session,
            key="ok",
            channel="bank_transfer",
            amount=100_000,
            company_id=company.id,
            received_on=dt.date(2026, 10, 6),
        )
    with pytest.raises(ValidationError, match="already closed"), f.tx(session):
        close_period(session, actor=manager, end_date=dt.date(2026, 10, 1))
