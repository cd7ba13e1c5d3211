"""Fixtures of the ledger's tests: a small world of a company, a business and managers."""

import pytest

from tests import factories as f


@pytest.fixture
def world(session):
    with f.tx(session):
        company = f.organisation(session, "company")
        business = f.organisation(session, "business", town_code="10008040", county_code="10008")
        project = f.project(session, business, priority_type="agricultural")
        ndc = f.manager(session, "NDC")
        ndc2 = f.manager(session, "NDC")
        moea = f.manager(session, "MOEA")
        member = f.user(session, "company_member", company)
    return type(
        "World",
        (),
        dict(
            company=company,
            business=business,
            project=project,
            ndc=ndc,
            ndc2=ndc2,
            moea=moea,
            member=member,
        ),
    )
