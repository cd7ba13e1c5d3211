"""Yearly statements: the fingerprint of what one says, and keeping one per company and year."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from foundation.settings import ReceiptIssuer, Settings
from ledger import statements
from ledger.fund import donations
from ledger.fund.receipt_models import ReceiptNumber, YearlyStatement
from tests import factories as f

SETTINGS = Settings(database_url="sqlite://", secret_key="t")


def _give(session, company_id: int, key: str, amount: int = 100_000, **kw):
    with f.tx(session):
        return donations.record_donation(
            session,
            key=key,
            channel="bank_transfer",
            amount=amount,
            company_id=company_id,
            received_on=dt.date(2025, 6, 1),
            **kw,
        )


def test_the_fingerprint_changes_with_what_the_statement_says(session):
    with f.tx(session):
        company = f.organisation(session, "company", name="指紋企業")
    _give(session, company.id, "a")
    with f.tx(session):  # the payment had no number: preparing gives it one
        first = statements.prepare(session, company, 2025, SETTINGS)
    assert session.scalar(select(func.count()).select_from(ReceiptNumber)) == 1
    with f.tx(session):
        assert statements.prepare(session, company, 2025, SETTINGS).inputs == first.inputs
        other_issuer = Settings(
            database_url="sqlite://",
            secret_key="t",
            receipt_issuer=ReceiptIssuer(name="另一個開立單位"),
        )
        assert statements.prepare(session, company, 2025, other_issuer).inputs != first.inputs
    _give(session, company.id, "b", amount=50_000, restriction="county:10008")
    with f.tx(session):
        second = statements.prepare(session, company, 2025, SETTINGS)
    assert second.inputs != first.inputs
    assert second.purposes == {None: "不限用途", "county:10008": "南投縣"}
    assert statements.donor_companies(session, 2025) == [company.id]
    assert statements.donor_companies(session, 2024) == []


def test_one_statement_is_kept_per_company_and_year(session):
    with f.tx(session):
        company = f.organisation(session, "company")
        statements.store(session, company.id, 2025, b"%PDF old", "a" * 64, job_id=7)
    with f.tx(session):
        statements.store(session, company.id, 2025, b"%PDF new", "b" * 64)
    assert session.scalar(select(func.count()).select_from(YearlyStatement)) == 1
    assert statements.current(session, company.id, 2025, "a" * 64) is None
    assert statements.current(session, company.id, 2025, "b" * 64) == b"%PDF new"
    assert statements.stored_counts(session) == {2025: 1}
