"""The unit of work and the transaction helpers both faces use (foundation/transactions.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, configure_mappers

from foundation.transactions import (
    HalfPostedError,
    PostingRefused,
    UnitOfWork,
    atomic,
    refuse_commit,
    write,
)
from ledger.fund import donations as fund_donations
from ledger.fund.models import Donation

# As the first query of a process would (the services below may not run one before posting)
configure_mappers()


def donations(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Donation))


def test_atomic_commits_the_block_or_rolls_all_of_it_back(database, session):
    with atomic(session) as s:
        fund_donations.record_donation(s, key="a", channel="bank_transfer", amount=1_000)
    assert donations(database) == 1
    with pytest.raises(RuntimeError), atomic(session) as s:
        fund_donations.record_donation(s, key="b", channel="bank_transfer", amount=1_000)
        raise RuntimeError("after the posting")
    assert donations(database) == 1


def test_a_replay_is_reported_to_the_unit_of_work_the_service_was_given(database, session):
    first, uow = write(
        session, fund_donations.record_donation, key="k", channel="bank_transfer", amount=500
    )
    assert not uow.replayed
    again, uow = write(
        session, fund_donations.record_donation, key="k", channel="bank_transfer", amount=500
    )
    assert uow.replayed and again.id == first.id
    assert donations(database) == 1


def test_write_runs_the_service_again_without_the_shortcut_when_the_posting_is_refused(
    database, session
):
    allowed = []

    def service(s, *, amount, uow):
        allowed.append(uow.commit_with_posting)
        donation = fund_donations.record_donation(
            s, key=f"try-{len(allowed)}", channel="bank_transfer", amount=amount, uow=uow
        )
        if uow.commit_with_posting:
            raise PostingRefused("refused in the database")
        return donation

    donation, uow = write(session, service, amount=700)
    assert allowed == [True, False] and not uow.commit_with_posting
    with database.session() as s:  # the refused try left nothing behind
        assert s.scalars(select(Donation.id)).all() == [donation.id]


def test_the_apps_sessions_refuse_to_commit_after_a_failed_write_until_rolled_back(session):
    session.execute(text("SELECT 1"))
    refuse_commit(session, "InsufficientFunds: not enough")
    with pytest.raises(HalfPostedError, match="not enough"):
        session.commit()
    session.rollback()
    session.execute(text("SELECT 1"))
    session.commit()


def test_the_guard_is_on_the_apps_sessions_only(database):
    """Importing the posting engine changes no other session in the process (it once put its
    listeners on SQLAlchemy's Session class)."""
    import ledger.books.posting  # noqa: F401

    with Session(database.engine) as other:
        other.execute(text("SELECT 1"))
        refuse_commit(other, "not ours to police")
        other.commit()


def test_a_unit_of_work_continues_the_transaction_the_session_is_in(database, session):
    session.execute(text("SELECT 1"))  # authentication reads the token first
    outer = session.get_transaction()
    with UnitOfWork(session) as uow:
        assert uow.session.get_transaction() is outer
        fund_donations.record_donation(
            session, key="c", channel="bank_transfer", amount=100, uow=uow
        )
    assert not session.in_transaction() and donations(database) == 1


@pytest.mark.postgres
def test_on_postgresql_write_lets_the_last_posting_commit_in_its_round_trip(pg):
    seen = []

    def service(s, **kwargs):
        donation = fund_donations.record_donation(s, **kwargs)
        # Before the unit of work ends: the posting's own round trip committed already
        with pg.session() as other:
            seen.append(other.get(Donation, donation.id) is not None)
        return donation

    with pg.session() as s:
        write(s, service, key="one-trip", channel="bank_transfer", amount=900)
    assert seen == [True]
