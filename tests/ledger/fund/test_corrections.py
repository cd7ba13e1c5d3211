"""Reversals and adjustments through ``ledger.fund.corrections``, on SQLite."""

import pytest

from foundation.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    InvalidAmount,
    PermissionDenied,
    UnbalancedEntry,
    UnknownAccount,
    ValidationError,
)
from ledger.books.reading import balance, trial_balance
from ledger.fund import corrections
from tests import factories as f
from tests.ledger.fund.helpers import D, _fund, entries


def test_an_entry_is_reversed_once(session, world):
    with f.tx(session):
        donation = _fund(session, world)
        corrections.reverse_entry(
            session, key="r1", entry_id=donation.entry_id, actor=world.ndc, reason="重複入帳", on=D
        )
    assert balance(session, "assets:bank:main") == 0
    with pytest.raises(AlreadyReversed), f.tx(session):
        corrections.reverse_entry(
            session, key="r2", entry_id=donation.entry_id, actor=world.ndc, reason="again", on=D
        )
    assert trial_balance(session).balanced


def test_manual_adjustment_rules(session, world):
    line = corrections.AdjustmentLine
    with pytest.raises(PermissionDenied), f.tx(session):
        corrections.record_adjustment(
            session,
            key="a",
            actor=world.member,
            reason="x",
            lines=[line("assets:bank:main", 100), line("expense:adjustments", -100)],
        )
    with pytest.raises(ValidationError, match="reason"), f.tx(session):
        corrections.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason=" ",
            lines=[line("assets:bank:main", 100), line("expense:adjustments", -100)],
        )
    with pytest.raises(UnbalancedEntry, match="TWD"), f.tx(session):
        corrections.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="x",
            lines=[line("assets:bank:main", 100), line("expense:adjustments", -90)],
        )
    with pytest.raises(UnknownAccount), f.tx(session):
        corrections.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="x",
            lines=[line("assets:cash:box", 100), line("expense:adjustments", -100)],
        )
    with pytest.raises(CurrencyMismatch), f.tx(session):
        corrections.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="x",
            lines=[
                line("assets:bank:main", 100, "USD"),
                line("expense:fees:processor:USD", -100, "USD"),
            ],
        )
    with pytest.raises(InvalidAmount), f.tx(session):
        corrections.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="x",
            lines=[line("assets:bank:main", 1.5), line("expense:adjustments", -1.5)],
        )
    assert entries(session) == 0
    with f.tx(session):
        entry = corrections.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="銀行利息",
            lines=[line("assets:bank:main", 1_200), line("net_assets:unrestricted", -1_200)],
            on=D,
        )
    assert entry.memo == "調整: 銀行利息" and balance(session, "assets:bank:main") == 1_200
