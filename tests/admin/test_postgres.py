"""The console on PostgreSQL: sign-in, lockout counting and the pages' queries."""

from __future__ import annotations

import pytest

from placefund.app import create_app
from placefund.config import Settings
from tests.admin.conftest import PASSWORD, build_console_world, sign_in

pytestmark = pytest.mark.postgres


def test_console_pages_on_postgres(pg):
    ids, emails, _tokens = build_console_world(pg)
    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="pg"), database=pg)
    c = app.test_client()
    assert sign_in(c, emails["ndc"], "wrong password").status_code == 401
    assert sign_in(c, emails["ndc"], PASSWORD).status_code == 302
    for url in (
        "/console/dashboard",
        "/console/ledger/entries",
        "/console/ledger/trial-balance",
        f"/console/organisations/{ids['business_x']}",
        "/transparency",
    ):
        assert c.get(url).status_code == 200, url
    company = app.test_client()
    assert sign_in(company, emails["company_a"], PASSWORD).status_code == 302
    page = company.get("/console/company")
    assert "NT$10,000" in page.text and "NT$20,000" not in page.text
