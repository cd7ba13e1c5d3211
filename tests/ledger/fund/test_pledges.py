"""Pledges through ``ledger.fund.pledges`` (and idempotency keys), on SQLite."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from foundation.errors import (
    IdempotencyConflict,
    InvalidAmount,
    ValidationError,
)
from ledger.books.reading import balance, fund_position, trial_balance
from ledger.fund import pledges
from ledger.fund.models import Pledge
from tests import factories as f
from tests.ledger.fund.helpers import D, entries


def test_pledge_posts_receivable_and_income(session, world):
    with f.tx(session):
        pledge = pledges.record_pledge(
            session,
            key="p1",
            company_id=world.company.id,
            amount=1_200_000,
            instalments=12,
            pledged_on=D,
        )
    assert [i.amount for i in pledge.instalments] == [100_000] * 12
    assert pledge.instalments[1].due_date == dt.date(2026, 12, 2)
    assert balance(session, f"assets:pledges_receivable:company:{world.company.id}") == 1_200_000
    assert balance(session, "income:donations") == 1_200_000
    assert trial_balance(session).balanced


def test_restricted_pledge_moves_money_into_its_purpose(session, world):
    with f.tx(session):
        pledges.record_pledge(
            session,
            key="p1",
            company_id=world.company.id,
            amount=500_000,
            restriction="county:10008",
            pledged_on=D,
        )
    position = fund_position(session)
    assert position.restricted == {"county:10008": 500_000}
    assert position.unrestricted == 0


def test_instalments_must_add_up(session, world):
    with pytest.raises(InvalidAmount, match="add up"), f.tx(session):
        pledges.record_pledge(
            session,
            key="p1",
            company_id=world.company.id,
            amount=300_000,
            instalments=[(D, 100_000), (D, 100_000)],
            pledged_on=D,
        )
    assert entries(session) == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"amount": 0}, InvalidAmount),
        ({"amount": -100}, InvalidAmount),
        ({"amount": 100_050}, InvalidAmount),  # fractional TWD dollars
        ({"amount": 1.5}, InvalidAmount),
        ({"amount": 100_000, "restriction": "county:99999"}, ValidationError),
        ({"amount": 100_000, "restriction": "planet:mars"}, ValidationError),
        ({"amount": 100_000, "currency": "XYZ"}, ValidationError),
    ],
)
def test_bad_pledges_change_nothing(session, world, kwargs, error):
    with pytest.raises(error), f.tx(session):
        pledges.record_pledge(
            session, key="bad", company_id=world.company.id, pledged_on=D, **kwargs
        )
    assert entries(session) == 0
    assert session.scalar(select(func.count(Pledge.id))) == 0


def test_same_key_same_request_returns_the_original(session, world):
    kwargs = dict(key="k1", company_id=world.company.id, amount=100_000, pledged_on=D)
    with f.tx(session):
        first = pledges.record_pledge(session, **kwargs)
    with f.tx(session):
        again = pledges.record_pledge(session, **kwargs)
    assert again.id == first.id
    assert entries(session) == 1


def test_same_key_different_request_is_refused(session, world):
    with f.tx(session):
        pledges.record_pledge(
            session, key="k1", company_id=world.company.id, amount=100_000, pledged_on=D
        )
    with pytest.raises(IdempotencyConflict), f.tx(session):
        pledges.record_pledge(
            session, key="k1", company_id=world.company.id, amount=200_000, pledged_on=D
        )
    assert entries(session) == 1
