"""Donations, refunds, disputes and payouts through ``ledger.fund.donations``, on SQLite."""

import datetime as dt

import pytest
from sqlalchemy import select

from foundation.errors import (
    InsufficientFunds,
    InvalidAmount,
)
from ledger.books.models import Entry, Posting
from ledger.books.reading import balance, fund_position, trial_balance
from ledger.fund import disbursements, pledges
from ledger.fund import donations as fund_donations
from tests import factories as f
from tests.ledger.fund.helpers import D, _fund


def test_card_donation_against_pledge_with_fee(session, world):
    with f.tx(session):
        pledge = pledges.record_pledge(
            session, key="p", company_id=world.company.id, amount=1_000_000, pledged_on=D
        )
        donation = fund_donations.record_donation(
            session,
            key="d",
            channel="stripe",
            amount=400_000,
            fee=11_600,
            pledge_id=pledge.id,
            received_on=D,
            refs={"payment_intent": "pi_1", "charge": "ch_1"},
        )
    assert donation.net_amount == 388_400
    assert balance(session, "assets:stripe:clearing:TWD") == 388_400
    assert balance(session, "expense:fees:processor:TWD") == 11_600
    assert balance(session, f"assets:pledges_receivable:company:{world.company.id}") == 600_000
    assert session.get(Entry, donation.entry_id).refs == {
        "charge": "ch_1",
        "payment_intent": "pi_1",
    }
    with pytest.raises(InvalidAmount, match="still due"), f.tx(session):
        fund_donations.record_donation(
            session, key="d2", channel="stripe", amount=700_000, pledge_id=pledge.id
        )


def test_settlement_in_another_currency_balances_each_currency(session, world):
    with f.tx(session):
        donation = fund_donations.record_donation(
            session,
            key="fx",
            channel="stripe",
            amount=100_000,
            company_id=world.company.id,
            settlement_currency="USD",
            settlement_amount=3_150,
            fee=120,
            received_on=D,
        )
    postings = session.scalars(select(Posting).where(Posting.entry_id == donation.entry_id)).all()
    by_currency = {}
    for p in postings:
        by_currency[p.currency] = by_currency.get(p.currency, 0) + p.amount
    assert by_currency == {"TWD": 0, "USD": 0}
    assert balance(session, "assets:stripe:clearing:USD") == 3_030
    assert balance(session, "expense:fees:processor:USD") == 120
    assert donation.exchange_rate == "1 TWD = 0.0315 USD"
    assert trial_balance(session).balanced


def test_bank_transfer_restricted_donation(session, world):
    with f.tx(session):
        fund_donations.record_donation(
            session,
            key="b",
            channel="bank_transfer",
            amount=800_000,
            company_id=world.company.id,
            restriction="township:10008040",
            received_on=D,
        )
    assert balance(session, "assets:bank:main") == 800_000
    assert fund_position(session).restricted == {"township:10008040": 800_000}


def test_partial_refund_of_restricted_donation(session, world):
    with f.tx(session):
        donation = fund_donations.record_donation(
            session,
            key="d",
            channel="stripe",
            amount=500_000,
            fee=14_500,
            company_id=world.company.id,
            restriction="county:10008",
            received_on=D,
        )
        fund_donations.record_refund(
            session,
            key="r",
            donation_id=donation.id,
            amount=200_000,
            refunded_on=D,
            refs={"refund": "re_1"},
        )
    assert balance(session, "assets:stripe:clearing:TWD") == 485_500 - 200_000
    assert fund_position(session).restricted == {"county:10008": 300_000}
    assert balance(session, "income:donations") == 300_000
    with pytest.raises(InvalidAmount, match="still be returned"), f.tx(session):
        fund_donations.record_refund(session, key="r2", donation_id=donation.id, amount=300_001)


def test_refund_after_restricted_money_was_spent_takes_the_rest_from_unrestricted(session, world):
    with f.tx(session):
        _fund(session, world, amount=1_000_000)
        donation = fund_donations.record_donation(
            session,
            key="d",
            channel="bank_transfer",
            amount=500_000,
            company_id=world.company.id,
            restriction="county:10008",
            received_on=D,
        )
        disbursements.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=400_000,
            funding="county:10008",
            on=D,
        )
        fund_donations.record_refund(
            session, key="r", donation_id=donation.id, amount=500_000, refunded_on=D
        )
    assert fund_position(session).restricted == {}
    assert trial_balance(session).balanced


def test_dispute_withdrawn_then_reinstated(session, world):
    with f.tx(session):
        fund_donations.record_donation(
            session,
            key="d0",
            channel="stripe",
            amount=100_000,
            company_id=world.company.id,
            received_on=D,
        )
        donation = fund_donations.record_donation(
            session,
            key="d",
            channel="stripe",
            amount=300_000,
            company_id=world.company.id,
            restriction="county:10008",
            received_on=D,
        )
        fund_donations.record_dispute(
            session,
            key="dw",
            donation_id=donation.id,
            stage="funds_withdrawn",
            amount=300_000,
            fee=50_000,
            on=D,
            refs={"dispute": "dp_1"},
        )
    assert balance(session, "assets:stripe:clearing:TWD") == 50_000
    assert fund_position(session).restricted == {}
    with f.tx(session):
        fund_donations.record_dispute(
            session,
            key="dr",
            donation_id=donation.id,
            stage="funds_reinstated",
            amount=300_000,
            on=D,
            refs={"dispute": "dp_1"},
        )
    assert balance(session, "assets:stripe:clearing:TWD") == 350_000
    assert balance(session, "income:donations") == 400_000
    assert balance(session, "expense:fees:processor:TWD") == 50_000
    assert fund_position(session).restricted == {"county:10008": 300_000}
    assert trial_balance(session).balanced


def test_payouts_move_clearing_to_bank_in_whole_dollars(session, world):
    with f.tx(session):
        fund_donations.record_donation(
            session,
            key="d",
            channel="stripe",
            amount=1_000_000,
            fee=29_000,
            company_id=world.company.id,
            received_on=D,
        )
    with pytest.raises(InvalidAmount, match="multiples of 100"), f.tx(session):
        fund_donations.record_payout(session, key="po", amount=971_050, paid_on=D)
    with pytest.raises(InsufficientFunds), f.tx(session):
        fund_donations.record_payout(session, key="po", amount=972_000, paid_on=D)
    with f.tx(session):
        fund_donations.record_payout(
            session, key="po", amount=971_000, paid_on=D, stripe_payout_id="po_1"
        )
    assert balance(session, "assets:stripe:clearing:TWD") == 0
    assert balance(session, "assets:bank:main") == 971_000


def test_retry_after_midnight_without_a_date_returns_the_original(session, world, monkeypatch):
    with f.tx(session):
        first = fund_donations.record_donation(
            session,
            key="late",
            channel="bank_transfer",
            amount=100_000,
            company_id=world.company.id,
        )
    monkeypatch.setattr(fund_donations, "today", lambda: first.received_on + dt.timedelta(days=1))
    with f.tx(session):
        again = fund_donations.record_donation(
            session,
            key="late",
            channel="bank_transfer",
            amount=100_000,
            company_id=world.company.id,
        )
    assert again.id == first.id
