"""Test data built through the same models and services users go through."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

from foundation.db import utcnow
from foundation.ubn import complete_ubn
from identity.models import Organisation, User
from ledger.fund import donations as fund_donations
from ledger.fund.models import Project

_counter = itertools.count(1)


def organisation(session, kind: str = "company", *, verified: bool = True, **kw) -> Organisation:
    n = next(_counter)
    defaults = {
        "name": f"{kind} {n}",
        "ubn": complete_ubn(f"{1000000 + n * 7919 % 8999999:07d}")
        if kind != "institution"
        else None,
        "county_code": "10008",
        "town_code": "10008040",
        "verified_at": utcnow() if verified else None,
    }
    if kind == "institution":
        defaults["institution_code"] = kw.pop("institution_code", f"INST{n}")
    defaults.update(kw)
    org = Organisation(kind=kind, **defaults)
    session.add(org)
    session.flush()
    return org


def user(session, role: str, org: Organisation, **kw) -> User:
    n = next(_counter)
    u = User(
        email=kw.pop("email", f"user{n}@example.tw"),
        name=f"User {n}",
        role=role,
        organisation_id=org.id,
        **kw,
    )
    session.add(u)
    session.flush()
    return u


def manager(session, institution_code: str) -> User:
    inst = organisation(session, "institution", institution_code=institution_code)
    return user(session, "fund_manager", inst)


def project(session, business: Organisation | None = None, **kw) -> Project:
    business = business or organisation(session, "business")
    defaults = {
        "name": "茶竹小鎮",
        "county_code": business.county_code or "10008",
        "town_code": business.town_code or "10008040",
        "priority_type": "agricultural",
    }
    defaults.update(kw)
    p = Project(business_id=business.id, **defaults)
    session.add(p)
    session.flush()
    return p


DAY = dt.date(2026, 11, 2)


@contextlib.contextmanager
def tx(session):
    """One transaction, like a request: ends any read-only transaction left open by queries."""
    if session.in_transaction():
        session.commit()
    with session.begin():
        yield session


def donate(database, n: int, prefix: str = "d") -> None:
    """n bank-transfer donations from one new company, committed: entries for the sealer."""
    with database.session() as session, tx(session):
        company = organisation(session, "company")
        for i in range(n):
            fund_donations.record_donation(
                session,
                key=f"{prefix}{i}",
                channel="bank_transfer",
                amount=100_000,
                company_id=company.id,
                received_on=dt.date(2026, 11, 1),
            )
