"""A small world for API tests: two institutions, an admin, two companies, two businesses.

Everything is created through the models and ledger services users go through; each actor
has an API token. ``world.call(actor, method, path, ...)`` sends an authenticated request.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from identity.tokens import issue_token
from ledger.fund import disbursements, donations, pledges, revenue_returns
from tests import factories

V1 = "/api/v1"

_keys = itertools.count(1)


def new_key() -> str:
    return f"test-{next(_keys)}"


@dataclass
class World:
    client: object
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def headers(self, actor: str | None, key: str | None = None, **extra) -> dict[str, str]:
        h = dict(extra)
        if actor is not None:
            h["Authorization"] = f"Bearer {self.tokens[actor]}"
        if key is not None:
            h["Idempotency-Key"] = key
        return h

    def call(self, actor, method, path, *, json=None, key=None, headers=None, **kw):
        h = self.headers(actor, key, **(headers or {}))
        return self.client.open(path.format(**self.ids), method=method, json=json, headers=h, **kw)


ACTORS = ("ndc", "moea", "admin", "company_a", "company_b", "business_x", "business_y")


def build_world(session) -> tuple[dict[str, str], dict[str, int]]:
    ndc = factories.manager(session, "NDC")
    moea = factories.manager(session, "MOEA")
    admin = factories.user(session, "admin", ndc.organisation)
    company_a = factories.organisation(session, "company", name="甲公司")
    company_b = factories.organisation(session, "company", name="乙公司")
    business_x = factories.organisation(session, "business", name="丙工作室")
    business_y = factories.organisation(session, "business", name="丁合作社")
    users = {
        "ndc": ndc,
        "moea": moea,
        "admin": admin,
        "company_a": factories.user(session, "company_member", company_a),
        "company_b": factories.user(session, "company_member", company_b),
        "business_x": factories.user(session, "business_member", business_x),
        "business_y": factories.user(session, "business_member", business_y),
    }
    project_x = factories.project(session, business_x)
    project_y = factories.project(session, business_y)
    pledge_a = pledges.record_pledge(
        session, key="w:p:a", company_id=company_a.id, amount=1_000_000, instalments=2
    )
    pledge_b = pledges.record_pledge(
        session, key="w:p:b", company_id=company_b.id, amount=2_000_000, public_name=True
    )
    donation_a = donations.record_donation(
        session, key="w:d:a", channel="bank_transfer", amount=500_000, pledge_id=pledge_a.id
    )
    donation_b = donations.record_donation(
        session, key="w:d:b", channel="bank_transfer", amount=2_000_000, pledge_id=pledge_b.id
    )
    d_x = disbursements.propose_disbursement(
        session,
        key="w:g:x",
        actor=ndc,
        kind="grant",
        project_id=project_x.id,
        amount=300_000,
        purpose="設備",
    )
    d_y = disbursements.propose_disbursement(
        session,
        key="w:g:y",
        actor=ndc,
        kind="investment",
        project_id=project_y.id,
        amount=400_000,
        purpose="加工廠",
    )
    agreement_x = revenue_returns.create_return_agreement(
        session,
        actor=ndc,
        business_id=business_x.id,
        project_id=project_x.id,
        share_bp=1000,
        start_date=factories.DAY.replace(year=2020),
        end_date=factories.DAY.replace(year=2035),
    )
    agreement_y = revenue_returns.create_return_agreement(
        session,
        actor=ndc,
        business_id=business_y.id,
        project_id=project_y.id,
        share_bp=1000,
        start_date=factories.DAY.replace(year=2020),
        end_date=factories.DAY.replace(year=2035),
    )
    tokens = {name: issue_token(session, u, name="test")[1] for name, u in users.items()}
    ids = {
        "company_a": company_a.id,
        "company_b": company_b.id,
        "business_x": business_x.id,
        "business_y": business_y.id,
        "project_x": project_x.id,
        "project_y": project_y.id,
        "pledge_a": pledge_a.id,
        "pledge_b": pledge_b.id,
        "donation_a": donation_a.id,
        "donation_b": donation_b.id,
        "disbursement_x": d_x.id,
        "disbursement_y": d_y.id,
        "agreement_x": agreement_x.id,
        "agreement_y": agreement_y.id,
        "entry": donation_a.entry_id,
        "missing": 999_999,  # an id no object has
        **{f"user_{name}": u.id for name, u in users.items()},
    }
    return tokens, ids


@pytest.fixture
def world(database, client) -> World:
    with database.session() as s, s.begin():
        tokens, ids = build_world(s)
    return World(client, tokens, ids)


def register(client, **over):
    """Register an organisation through the public endpoint (a business unless told)."""
    body = {
        "kind": "business",
        "name": "新竹米粉工坊",
        "ubn": "04595257",
        "town_code": "10008040",
        "contact": {"email": "owner@rice.example.tw", "name": "王小明"},
    }
    body.update(over)
    return client.post(f"{V1}/organisations", json=body)
