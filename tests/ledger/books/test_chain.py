"""Tamper evidence: the chain and balances are re-derived; a changed row is named. Sealing
never stops for good: the sealer rides out database errors, and verify says how far behind
sealing was."""

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from foundation.db import utcnow
from ledger.books import chain
from ledger.books.chain import seal_continuously, seal_pending, unsealed_backlog, verify
from ledger.books.models import Seal
from ledger.fund import donations
from ledger.fund.models import Donation
from tests import factories as f
from tests.factories import donate


@pytest.fixture
def ledger_with_entries(session):
    with f.tx(session):
        company = f.organisation(session, "company")
        for i in range(5):
            donations.record_donation(
                session,
                key=f"d{i}",
                channel="bank_transfer",
                amount=100_000,
                company_id=company.id,
                received_on=dt.date(2026, 11, 1),
            )
    with f.tx(session):
        assert seal_pending(session) == 5
    return session


def test_untouched_ledger_verifies(ledger_with_entries):
    report = verify(ledger_with_entries)
    assert report.ok, report.problems
    assert (report.entries, report.postings, report.unsealed) == (5, 10, 0)


def test_sealing_is_incremental(ledger_with_entries):
    session = ledger_with_entries
    with f.tx(session):
        assert seal_pending(session) == 0
        company = f.organisation(session, "company")
        donations.record_donation(
            session, key="late", channel="bank_transfer", amount=100_000, company_id=company.id
        )
    report = verify(session)
    assert report.ok and report.unsealed == 1 and report.entries == 5
    with f.tx(session):
        assert seal_pending(session) == 1
    assert verify(session).entries == 6


def _tamper(session, sql):
    """What an attacker with database access would do: get past the triggers, change a row."""
    session.commit()
    with session.begin():
        session.execute(text("DROP TRIGGER ledger_postings_no_update"))
        session.execute(text(sql))


def test_changed_amount_is_found_and_named(ledger_with_entries):
    session = ledger_with_entries
    target = session.query(Donation).order_by(Donation.id).all()[2].entry_id
    _tamper(session, f"UPDATE ledger_postings SET amount = amount + 100 WHERE entry_id = {target}")
    report = verify(session)
    assert not report.ok
    assert report.first_bad_entry == target
    assert any(f"entry {target}: content does not match" in p for p in report.problems)


def test_balanced_tampering_still_breaks_the_seal(ledger_with_entries):
    session = ledger_with_entries
    target = session.query(Donation).order_by(Donation.id).all()[0].entry_id
    _tamper(session, f"UPDATE ledger_postings SET amount = amount * 2 WHERE entry_id = {target}")
    report = verify(session)
    assert report.first_bad_entry == target


def test_changed_balance_is_found(ledger_with_entries):
    session = ledger_with_entries
    session.commit()
    with session.begin():
        session.execute(
            text("UPDATE ledger_accounts SET balance = balance + 1 WHERE code = 'assets:bank:main'")
        )
    report = verify(session)
    assert any("account assets:bank:main" in p for p in report.problems)


def test_cli_verify_exits_non_zero_naming_the_entry(database, monkeypatch):
    with database.session() as session:
        with f.tx(session):
            company = f.organisation(session, "company")
            donation = donations.record_donation(
                session, key="d", channel="bank_transfer", amount=100_000, company_id=company.id
            )
        entry_id = donation.entry_id
    monkeypatch.setenv("DATABASE_URL", str(database.engine.url))
    from placefund.cli import main

    ok = CliRunner().invoke(main, ["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "Ledger verified" in ok.output
    with database.session() as session:
        _tamper(session, f"UPDATE ledger_postings SET amount = -amount WHERE entry_id = {entry_id}")
    bad = CliRunner().invoke(main, ["ledger", "verify"])
    assert bad.exit_code == 1
    assert f"first bad entry {entry_id}" in bad.output


def sealed(database) -> int:
    with database.session() as session:
        return len(session.scalars(select(Seal.seq)).all())


def test_the_sealer_outlives_database_errors_and_catches_up(database):
    donate(database, 3)
    failures = {"left": 3}
    waits = []

    def sessions():
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return database.session()

    rounds = iter(range(5))
    seal_continuously(
        sessions,
        interval=1.0,
        max_backoff=30.0,
        stop=lambda: next(rounds, None) is None,
        sleep=waits.append,
    )
    assert sealed(database) == 3
    # Three failures waited longer each time (jittered between half and all of the step),
    # then the successful rounds went back to the interval
    assert 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 4.0 and 4.0 <= waits[2] <= 8.0
    assert waits[3:] == [1.0, 1.0]


def test_verify_says_how_many_entries_waited_and_for_how_long(database, monkeypatch):
    donate(database, 4)
    with database.session() as session:
        assert unsealed_backlog(session).entries == 4
    later = utcnow() + dt.timedelta(hours=3)
    monkeypatch.setattr(chain, "utcnow", lambda: later)
    monkeypatch.setenv("DATABASE_URL", str(database.engine.url))
    from placefund.cli import main

    result = CliRunner().invoke(main, ["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "Sealed 4 entries that were waiting; the oldest had waited 3.0 h" in result.output
