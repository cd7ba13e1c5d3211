"""Pages never show another organisation's data: checked for company and business users."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger.fund.models import RevenueReport
from tests.admin.conftest import post_form

MANAGER_PAGES = [
    "/console/dashboard",
    "/console/disbursements",
    "/console/disbursements/new",
    "/console/disbursements/{disbursement_x}",
    "/console/organisations",
    "/console/organisations/{company_a}",
    "/console/organisations/{business_x}",
    "/console/users",
    "/console/ledger/accounts",
    "/console/ledger/accounts/assets:bank:main",
    "/console/ledger/entries",
    "/console/ledger/entries/{entry}",
    "/console/ledger/trial-balance",
    "/console/ledger/chain",
    "/console/ledger/periods",
    "/console/matching",
    "/console/reconciliation",
    "/console/jobs",
]


@pytest.mark.parametrize("actor", ["company_a", "business_x"])
def test_members_cannot_open_manager_pages(console, actor):
    c = console.client(actor)
    for url in MANAGER_PAGES:
        response = c.get(url.format(**console.ids))
        assert response.status_code == 403, url


def test_managers_open_every_manager_page(console):
    c = console.client("ndc")
    for url in MANAGER_PAGES:
        response = c.get(url.format(**console.ids))
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_company_sees_only_its_own_pledges_and_donations(console):
    c = console.client("company_a")
    page = c.get("/console/company")
    assert page.status_code == 200
    assert "甲公司" in page.text
    assert "乙公司" not in page.text
    assert f"/console/donations/{console.ids['donation_a']}/receipt.pdf" in page.text
    assert f"/console/donations/{console.ids['donation_b']}/" not in page.text
    assert "NT$10,000" in page.text  # pledge A, not pledge B's NT$20,000
    assert "NT$20,000" not in page.text


def test_a_company_cannot_reach_another_companys_receipts_or_statements(console):
    c = console.client("company_a")
    ids = console.ids
    assert c.get(f"/console/donations/{ids['donation_b']}/receipt.pdf").status_code == 404
    assert c.get(f"/console/organisations/{ids['company_b']}/statement-2026.pdf").status_code == 404
    assert c.get("/console/donations/999999/receipt.pdf").status_code == 404
    # Another company's page is a manager page.
    assert c.get(f"/console/organisations/{ids['company_b']}").status_code == 403
    assert c.get("/console/business").status_code == 403


def test_a_business_sees_only_its_own_agreements(console):
    c = console.client("business_x")
    page = c.get("/console/business")
    assert page.status_code == 200
    assert "丙工作室" in page.text
    assert "丁合作社" not in page.text
    assert f'id="agreement-{console.ids["agreement_x"]}"' in page.text
    assert f'id="agreement-{console.ids["agreement_y"]}"' not in page.text
    assert c.get("/console/company").status_code == 403
    assert c.get(f"/console/donations/{console.ids['donation_a']}/receipt.pdf").status_code == 403


def _reports(console) -> int:
    with console.database.session() as s:
        return s.scalar(select(func.count()).select_from(RevenueReport))


def test_a_business_reports_revenue_only_on_its_own_agreement(console):
    c = console.client("business_x")
    ids = console.ids
    data = {"period_start": "2026-01-01", "period_end": "2026-03-31", "revenue": "200,000"}
    other = post_form(
        c, "/console/business", f"/console/agreements/{ids['agreement_y']}/revenue", data
    )
    assert other.status_code == 404
    assert _reports(console) == 0
    own = post_form(
        c, "/console/business", f"/console/agreements/{ids['agreement_x']}/revenue", data
    )
    assert own.status_code == 302
    assert _reports(console) == 1
    page = c.get("/console/business")
    assert "NT$200,000" in page.text
    assert "NT$20,000" in page.text  # 10% of it is due


def test_revenue_errors_are_shown_next_to_the_field(console):
    c = console.client("business_x")
    data = {"period_start": "2026-01-01", "period_end": "2026-03-31", "revenue": "12.345"}
    response = post_form(
        c, "/console/business", f"/console/agreements/{console.ids['agreement_x']}/revenue", data
    )
    assert response.status_code == 422
    assert 'id="revenue-error"' in response.text
    assert _reports(console) == 0
