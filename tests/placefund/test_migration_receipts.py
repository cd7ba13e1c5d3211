"""Migration 0013: receipt numbers already printed are kept; new ones follow them."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, select

from placefund.app import Database
from placefund.migrate import alembic_config


def test_receipt_numbers_printed_before_the_migration_are_kept(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    run = _runner(database)
    run(command.upgrade, "0012")
    _kept_and_followed(database, run)
    database.engine.dispose()


@pytest.mark.postgres
def test_receipt_numbers_printed_before_the_migration_are_kept_on_postgres(pg):
    run = _runner(pg)
    run(command.downgrade, "0012")
    _kept_and_followed(pg, run)


def _runner(database):
    cfg = alembic_config(database.engine)

    def run(fn, revision):
        with database.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            fn(cfg, revision)

    return run


def _kept_and_followed(database, run):
    from ledger.fund.models import Donation
    from ledger.fund.receipts import issued_numbers, receipt_numbers
    from tests import factories
    from tests.api.conftest import build_world

    with database.session() as s, s.begin():
        build_world(s)
        donations = s.scalars(select(Donation)).all()
        # What receipts printed until now: PF-<year>-<donation id>
        before = {d.id: f"PF-{d.received_on.year}-{d.id:06d}" for d in donations}
    assert len(before) >= 2
    run(command.upgrade, "head")
    with database.session() as s, s.begin():
        assert issued_numbers(s, before) == before
        from ledger.fund import donations as fund_donations

        new = fund_donations.record_donation(
            s,
            key="after-migration",
            channel="bank_transfer",
            amount=100_000,
            company_id=factories.organisation(s, "company").id,
        )
        year = new.received_on.year
        numbers = receipt_numbers(s, [new.id])
    last = max(int(n.rsplit("-", 1)[1]) for n in before.values() if f"-{year}-" in n)
    assert numbers[new.id] == f"PF-{year}-{last + 1:06d}"
    run(command.downgrade, "0012")
    assert not inspect(database.engine).has_table("receipt_numbers")
    run(command.upgrade, "head")
