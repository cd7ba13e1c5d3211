"""Overdue instalments: payments settle the oldest instalment first; only unpaid parts count."""

import datetime as dt

from ledger.fund import donations, pledges
from ledger.fund.overdue import overdue_instalments, overdue_summary
from tests import factories as f


def test_payments_cover_the_oldest_instalments_and_the_rest_is_overdue(session):
    with f.tx(session):
        company = f.organisation(session, "company")
        other = f.organisation(session, "company")
        pledge = pledges.record_pledge(
            session,
            key="p",
            company_id=company.id,
            amount=300_000,
            instalments=3,
            pledged_on=dt.date(2026, 1, 10),
        )  # NT$1,000 due on 10 January, February and March
        donations.record_donation(
            session, key="d", channel="bank_transfer", amount=150_000, pledge_id=pledge.id
        )
        pledges.record_pledge(  # due in the future: not overdue
            session, key="q", company_id=other.id, amount=100_000, pledged_on=dt.date(2026, 4, 1)
        )
    today = dt.date(2026, 3, 1)
    items = overdue_instalments(session, today)
    assert [(o.seq, o.due_date, o.unpaid, o.days_overdue) for o in items] == [
        (2, dt.date(2026, 2, 10), 50_000, 19)
    ]
    assert items[0].company.id == company.id
    later = overdue_instalments(session, dt.date(2026, 3, 11))
    assert [(o.seq, o.unpaid) for o in later] == [(2, 50_000), (3, 100_000)]
    assert overdue_summary(later).instalments == 2
    assert overdue_summary(later).amounts == {"TWD": 150_000}
    assert overdue_instalments(session, dt.date(2026, 3, 11), company_id=other.id) == []
    with f.tx(session):
        donations.record_donation(
            session, key="d2", channel="bank_transfer", amount=150_000, pledge_id=pledge.id
        )
    assert overdue_instalments(session, dt.date(2026, 12, 31), company_id=company.id) == []
