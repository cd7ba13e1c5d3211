"""The posting engine's guards: posted rows are never changed, half a posting never commits."""

import pytest
from sqlalchemy import select, text

from foundation.errors import (
    InsufficientFunds,
)
from ledger.books.models import Posting
from ledger.fund import donations as fund_donations
from tests import factories as f
from tests.ledger.fund.helpers import _fund, entries


def test_posted_rows_cannot_be_changed(session, world):
    with f.tx(session):
        donation = _fund(session, world)
    posting = session.scalars(select(Posting).where(Posting.entry_id == donation.entry_id)).first()
    posting.amount = 1
    with pytest.raises(PermissionError, match="immutable"):
        session.flush()
    session.rollback()
    with pytest.raises(Exception, match="immutable"), f.tx(session):
        session.execute(text("UPDATE ledger_postings SET amount = 5"))
    with pytest.raises(Exception, match="immutable"), f.tx(session):
        session.execute(text("DELETE FROM ledger_entries"))


def test_a_caller_that_swallows_a_failed_posting_cannot_commit_half_of_it(session, world):
    from foundation.transactions import HalfPostedError

    session.commit()
    session.begin()
    with pytest.raises(InsufficientFunds):  # the caller below swallows it
        fund_donations.record_payout(session, key="po", amount=100_000)  # clearing is empty
    with pytest.raises(HalfPostedError):
        session.commit()
    session.rollback()
    assert entries(session) == 0
    with f.tx(session):
        _fund(session, world)
    assert entries(session) == 1
