"""Read queries of the console's reports (admin/reports.py)."""

from __future__ import annotations

import datetime as dt

from admin import reports
from ledger.fund import donations as fund_donations
from tests import factories as f


def test_donations_by_donor_county_counts_each_donor_once_and_sums_its_donations(session):
    with f.tx(session):
        nantou = [f.organisation(session, "company") for _ in range(2)]
        taipei = f.organisation(session, "company", county_code="63000", town_code="63000050")
        gifts = [(nantou[0], 100_000), (nantou[0], 200_000), (nantou[1], 50_000), (taipei, 70_000)]
        for n, (company, amount) in enumerate(gifts):
            fund_donations.record_donation(
                session,
                key=f"county:{n}",
                channel="bank_transfer",
                amount=amount,
                company_id=company.id,
                received_on=dt.date(2026, 10, 1),
            )
        # Not a company's: no county to count it under
        fund_donations.record_donation(
            session, key="county:anon", channel="bank_transfer", amount=90_000
        )
    rows = reports.donations_by_donor_county(session)
    assert [(r.county_code, r.donors, r.amount) for r in rows] == [
        ("10008", 2, 350_000),
        ("63000", 1, 70_000),
    ]
