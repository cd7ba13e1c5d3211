"""Domain operations through the services, on SQLite (PostgreSQL: test_postgres.py)."""

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from ledger import services as svc
from ledger.books import balance, fund_position, trial_balance
from ledger.errors import (
    AlreadyReversed,
    ApprovalRequired,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidState,
    NotFound,
    PermissionDenied,
    UnbalancedEntry,
    UnknownAccount,
    ValidationError,
)
from ledger.models import Entry, Pledge, Posting
from tests import factories as f

D = f.DAY


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


def entries(session) -> int:
    return session.scalar(select(func.count(Entry.id)))


def test_pledge_posts_receivable_and_income(session, world):
    with f.tx(session):
        pledge = svc.record_pledge(
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
        svc.record_pledge(
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
        svc.record_pledge(
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
        svc.record_pledge(session, key="bad", company_id=world.company.id, pledged_on=D, **kwargs)
    assert entries(session) == 0
    assert session.scalar(select(func.count(Pledge.id))) == 0


def test_same_key_same_request_returns_the_original(session, world):
    kwargs = dict(key="k1", company_id=world.company.id, amount=100_000, pledged_on=D)
    with f.tx(session):
        first = svc.record_pledge(session, **kwargs)
    with f.tx(session):
        again = svc.record_pledge(session, **kwargs)
    assert again.id == first.id
    assert entries(session) == 1


def test_same_key_different_request_is_refused(session, world):
    with f.tx(session):
        svc.record_pledge(
            session, key="k1", company_id=world.company.id, amount=100_000, pledged_on=D
        )
    with pytest.raises(IdempotencyConflict), f.tx(session):
        svc.record_pledge(
            session, key="k1", company_id=world.company.id, amount=200_000, pledged_on=D
        )
    assert entries(session) == 1


def test_card_donation_against_pledge_with_fee(session, world):
    with f.tx(session):
        pledge = svc.record_pledge(
            session, key="p", company_id=world.company.id, amount=1_000_000, pledged_on=D
        )
        donation = svc.record_donation(
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
        svc.record_donation(
            session, key="d2", channel="stripe", amount=700_000, pledge_id=pledge.id
        )


def test_settlement_in_another_currency_balances_each_currency(session, world):
    with f.tx(session):
        donation = svc.record_donation(
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
        svc.record_donation(
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


def _fund(session, world, amount=1_000_000, restriction=None):
    return svc.record_donation(
        session,
        key=f"fund{amount}{restriction}",
        channel="bank_transfer",
        amount=amount,
        company_id=world.company.id,
        restriction=restriction,
        received_on=D,
    )


def test_disbursement_needs_two_institutions(session, world):
    with f.tx(session):
        _fund(session, world)
        d = svc.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=300_000,
            on=D,
        )
    with pytest.raises(ApprovalRequired), f.tx(session):
        svc.pay_disbursement(session, key="pay", disbursement_id=d.id, actor=world.ndc, paid_on=D)
    with pytest.raises(ApprovalRequired, match="another institution"), f.tx(session):
        svc.approve_disbursement(session, disbursement_id=d.id, actor=world.ndc2)
    with pytest.raises(InvalidState, match="already approved"), f.tx(session):
        svc.approve_disbursement(session, disbursement_id=d.id, actor=world.ndc)
    with f.tx(session):
        svc.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
        paid = svc.pay_disbursement(
            session, key="pay", disbursement_id=d.id, actor=world.moea, paid_on=D
        )
    assert paid.status == "paid" and paid.paid_by_id == world.moea.id
    assert [a.institution for a in paid.approvals] == ["NDC", "MOEA"]
    assert balance(session, "assets:bank:main") == 700_000
    assert balance(session, f"expense:grants:project:{world.project.id}") == 300_000
    with f.tx(session):  # replaying the payment changes nothing
        svc.pay_disbursement(session, key="pay", disbursement_id=d.id, actor=world.moea, paid_on=D)
    assert balance(session, "assets:bank:main") == 700_000


def test_companies_cannot_move_the_funds_money(session, world):
    with pytest.raises(PermissionDenied), f.tx(session):
        svc.propose_disbursement(
            session,
            key="g",
            actor=world.member,
            kind="grant",
            project_id=world.project.id,
            amount=100_000,
        )


def test_bank_cannot_be_overdrawn(session, world):
    with f.tx(session):
        _fund(session, world, amount=100_000)
        # Received, so it may be committed, but still in Stripe's balance, not the bank's
        svc.record_donation(
            session, key="card", channel="stripe", amount=200_000, company_id=world.company.id
        )
        d = svc.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=300_000,
            on=D,
        )
        svc.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
    before = entries(session)
    with pytest.raises(InsufficientFunds, match="assets:bank:main"), f.tx(session):
        svc.pay_disbursement(session, key="pay", disbursement_id=d.id, actor=world.moea, paid_on=D)
    session.expire_all()
    assert entries(session) == before
    assert balance(session, "assets:bank:main") == 100_000
    assert session.get(type(d), d.id).status == "reserved"


def test_restricted_money_only_for_its_purpose_and_never_below_zero(session, world):
    other = None
    with f.tx(session):
        _fund(session, world, amount=500_000, restriction="township:10008040")
        other = f.project(session, town_code="10002060", county_code="10002")
    with pytest.raises(ValidationError, match="cannot be spent"), f.tx(session):
        svc.propose_disbursement(
            session,
            key="g0",
            actor=world.ndc,
            kind="grant",
            project_id=other.id,
            amount=100_000,
            funding="township:10008040",
        )
    with pytest.raises(InsufficientFunds, match="restricted"), f.tx(session):
        svc.propose_disbursement(
            session,
            key="g1",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=600_000,
            funding="township:10008040",
        )
    with f.tx(session):
        svc.propose_disbursement(
            session,
            key="g2",
            actor=world.ndc,
            kind="investment",
            project_id=world.project.id,
            amount=500_000,
            funding="township:10008040",
            on=D,
        )
    assert fund_position(session).restricted == {}


def test_unverified_business_receives_nothing(session, world):
    with f.tx(session):
        project = f.project(session, f.organisation(session, "business", verified=False))
    with pytest.raises(InvalidState, match="not verified"), f.tx(session):
        svc.propose_disbursement(
            session, key="g", actor=world.ndc, kind="grant", project_id=project.id, amount=100_000
        )


def test_void_restores_restricted_money_and_blocks_payment(session, world):
    with f.tx(session):
        _fund(session, world, amount=500_000, restriction="priority:agricultural")
        d = svc.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=200_000,
            funding="priority:agricultural",
            on=D,
        )
        svc.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
    assert fund_position(session).restricted == {"priority:agricultural": 300_000}
    with f.tx(session):
        voided = svc.void_disbursement(
            session, key="v", disbursement_id=d.id, actor=world.moea, reason="計畫取消", on=D
        )
    assert voided.status == "voided" and voided.void_reason == "計畫取消"
    assert fund_position(session).restricted == {"priority:agricultural": 500_000}
    with pytest.raises(InvalidState), f.tx(session):
        svc.pay_disbursement(session, key="pay", disbursement_id=d.id, actor=world.moea)


def test_an_entry_is_reversed_once(session, world):
    with f.tx(session):
        donation = _fund(session, world)
        svc.reverse_entry(
            session, key="r1", entry_id=donation.entry_id, actor=world.ndc, reason="重複入帳", on=D
        )
    assert balance(session, "assets:bank:main") == 0
    with pytest.raises(AlreadyReversed), f.tx(session):
        svc.reverse_entry(
            session, key="r2", entry_id=donation.entry_id, actor=world.ndc, reason="again", on=D
        )
    assert trial_balance(session).balanced


def test_partial_refund_of_restricted_donation(session, world):
    with f.tx(session):
        donation = svc.record_donation(
            session,
            key="d",
            channel="stripe",
            amount=500_000,
            fee=14_500,
            company_id=world.company.id,
            restriction="county:10008",
            received_on=D,
        )
        svc.record_refund(
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
        svc.record_refund(session, key="r2", donation_id=donation.id, amount=300_001)


def test_refund_after_restricted_money_was_spent_takes_the_rest_from_unrestricted(session, world):
    with f.tx(session):
        _fund(session, world, amount=1_000_000)
        donation = svc.record_donation(
            session,
            key="d",
            channel="bank_transfer",
            amount=500_000,
            company_id=world.company.id,
            restriction="county:10008",
            received_on=D,
        )
        svc.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=400_000,
            funding="county:10008",
            on=D,
        )
        svc.record_refund(session, key="r", donation_id=donation.id, amount=500_000, refunded_on=D)
    assert fund_position(session).restricted == {}
    assert trial_balance(session).balanced


def test_dispute_withdrawn_then_reinstated(session, world):
    with f.tx(session):
        svc.record_donation(
            session,
            key="d0",
            channel="stripe",
            amount=100_000,
            company_id=world.company.id,
            received_on=D,
        )
        donation = svc.record_donation(
            session,
            key="d",
            channel="stripe",
            amount=300_000,
            company_id=world.company.id,
            restriction="county:10008",
            received_on=D,
        )
        svc.record_dispute(
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
        svc.record_dispute(
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
        svc.record_donation(
            session,
            key="d",
            channel="stripe",
            amount=1_000_000,
            fee=29_000,
            company_id=world.company.id,
            received_on=D,
        )
    with pytest.raises(InvalidAmount, match="multiples of 100"), f.tx(session):
        svc.record_payout(session, key="po", amount=971_050, paid_on=D)
    with pytest.raises(InsufficientFunds), f.tx(session):
        svc.record_payout(session, key="po", amount=972_000, paid_on=D)
    with f.tx(session):
        svc.record_payout(session, key="po", amount=971_000, paid_on=D, stripe_payout_id="po_1")
    assert balance(session, "assets:stripe:clearing:TWD") == 0
    assert balance(session, "assets:bank:main") == 971_000


def test_revenue_returns_follow_the_agreement(session, world):
    with f.tx(session):
        agreement = svc.create_return_agreement(
            session,
            actor=world.ndc,
            business_id=world.business.id,
            share_bp=500,
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2030, 12, 31),
            cap_amount=1_000_000,
        )
        report = svc.report_revenue(
            session,
            key="rv1",
            agreement_id=agreement.id,
            period_start=dt.date(2026, 1, 1),
            period_end=dt.date(2026, 3, 31),
            revenue=12_345_600,
        )
    assert report.due_amount == 617_200  # 5% of NT$123,456, rounded down to whole dollars
    with f.tx(session):
        second = svc.report_revenue(
            session,
            key="rv2",
            agreement_id=agreement.id,
            period_start=dt.date(2026, 4, 1),
            period_end=dt.date(2026, 6, 30),
            revenue=20_000_000,
        )
    assert second.due_amount == 382_800  # capped at NT$10,000 in total
    with f.tx(session):
        svc.record_revenue_return(
            session,
            key="ret",
            agreement_id=agreement.id,
            amount=600_000,
            received_on=dt.date(2026, 7, 1),
        )
    assert balance(session, f"assets:returns_receivable:agreement:{agreement.id}") == 400_000
    assert balance(session, "income:revenue_returns") == 1_000_000
    with pytest.raises(InvalidAmount, match="exceeds what is due"), f.tx(session):
        svc.record_revenue_return(session, key="ret2", agreement_id=agreement.id, amount=500_000)


def test_manual_adjustment_rules(session, world):
    line = svc.AdjustmentLine
    with pytest.raises(PermissionDenied), f.tx(session):
        svc.record_adjustment(
            session,
            key="a",
            actor=world.member,
            reason="x",
            lines=[line("assets:bank:main", 100), line("expense:adjustments", -100)],
        )
    with pytest.raises(ValidationError, match="reason"), f.tx(session):
        svc.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason=" ",
            lines=[line("assets:bank:main", 100), line("expense:adjustments", -100)],
        )
    with pytest.raises(UnbalancedEntry, match="TWD"), f.tx(session):
        svc.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="x",
            lines=[line("assets:bank:main", 100), line("expense:adjustments", -90)],
        )
    with pytest.raises(UnknownAccount), f.tx(session):
        svc.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="x",
            lines=[line("assets:cash:box", 100), line("expense:adjustments", -100)],
        )
    with pytest.raises(CurrencyMismatch), f.tx(session):
        svc.record_adjustment(
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
        svc.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="x",
            lines=[line("assets:bank:main", 1.5), line("expense:adjustments", -1.5)],
        )
    assert entries(session) == 0
    with f.tx(session):
        entry = svc.record_adjustment(
            session,
            key="a",
            actor=world.ndc,
            reason="銀行利息",
            lines=[line("assets:bank:main", 1_200), line("net_assets:unrestricted", -1_200)],
            on=D,
        )
    assert entry.memo == "調整: 銀行利息" and balance(session, "assets:bank:main") == 1_200


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
        svc.record_payout(session, key="po", amount=100_000)  # clearing is empty
    with pytest.raises(HalfPostedError):
        session.commit()
    session.rollback()
    assert entries(session) == 0
    with f.tx(session):
        _fund(session, world)
    assert entries(session) == 1


def test_return_agreement_must_concern_the_business_own_project(session, world):
    with f.tx(session):
        other = f.project(session)
    with pytest.raises(ValidationError, match="another business"), f.tx(session):
        svc.create_return_agreement(
            session,
            actor=world.ndc,
            business_id=world.business.id,
            project_id=other.id,
            share_bp=500,
            start_date=D,
            end_date=D,
        )


def test_retry_after_midnight_without_a_date_returns_the_original(session, world, monkeypatch):
    with f.tx(session):
        first = svc.record_donation(
            session,
            key="late",
            channel="bank_transfer",
            amount=100_000,
            company_id=world.company.id,
        )
    monkeypatch.setattr(svc, "today", lambda: first.received_on + dt.timedelta(days=1))
    with f.tx(session):
        again = svc.record_donation(
            session,
            key="late",
            channel="bank_transfer",
            amount=100_000,
            company_id=world.company.id,
        )
    assert again.id == first.id


def test_a_proposal_commits_only_money_received_and_not_yet_committed(session, world):
    """Pledges are not money; pending proposals hold money; void gives it back."""
    from ledger.figures import OverCommitment, source_figures

    with f.tx(session):
        svc.record_pledge(session, key="promise", company_id=world.company.id, amount=9_000_000)
        _fund(session, world, amount=1_000_000)

    def propose(key, amount, **kw):
        return svc.propose_disbursement(
            session,
            key=key,
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=amount,
            **kw,
        )

    before = entries(session)
    with pytest.raises(OverCommitment) as refused, f.tx(session):
        propose("too-much", 5_000_000)
    assert refused.value.extra["available"] == "NT$10,000"
    assert "NT$10,000 is available" in refused.value.detail
    assert refused.value.fields == {"amount": ["more than the NT$10,000 available"]}
    session.expire_all()
    assert entries(session) == before

    with f.tx(session):
        pending = propose("first", 600_000)
    figures = source_figures(session, None)
    assert (figures.commitments.pending, figures.available) == (600_000, 400_000)
    with pytest.raises(OverCommitment, match="NT\\$4,000 is available"), f.tx(session):
        propose("second", 600_000)
    with f.tx(session):  # a replay of the first is not refused for the money it holds
        assert propose("first", 600_000).id == pending.id
        svc.approve_disbursement(session, disbursement_id=pending.id, actor=world.moea)
    figures = source_figures(session, None)
    assert (figures.commitments.pending, figures.commitments.approved) == (0, 600_000)
    with f.tx(session):
        svc.void_disbursement(
            session, key="v", disbursement_id=pending.id, actor=world.moea, reason="取消"
        )
        propose("second", 1_000_000)
    assert source_figures(session, None).available == 0


def test_restricted_proposals_draw_on_money_received_for_that_purpose(session, world):
    from ledger.figures import OverCommitment

    with f.tx(session):
        # Restricted pledge: in the bucket at once, but not received, so not available
        svc.record_pledge(
            session,
            key="promise",
            company_id=world.company.id,
            amount=5_000_000,
            restriction="county:10008",
        )
        _fund(session, world, amount=200_000, restriction="county:10008")
        _fund(session, world, amount=9_000_000)  # unrestricted money does not help
    refused = pytest.raises(OverCommitment, match="restricted to county:10008: NT\\$2,000")
    with refused, f.tx(session):
        svc.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=300_000,
            funding="county:10008",
        )


def _agreement(session, world, **kw):
    return svc.create_return_agreement(
        session,
        actor=world.ndc,
        business_id=world.business.id,
        share_bp=1000,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        **kw,
    )


def _report(session, agreement, key, start, end, revenue=1_000_000):
    return svc.report_revenue(
        session,
        key=key,
        agreement_id=agreement.id,
        period_start=start,
        period_end=end,
        revenue=revenue,
    )


Q1 = (dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def test_one_revenue_report_per_period_and_no_overlaps(session, world):
    with f.tx(session):
        agreement = _agreement(session, world)
        first = _report(session, agreement, "q1", *Q1)
    before = entries(session)
    for key, start, end in [
        ("again", *Q1),  # the same period twice
        ("overlap", dt.date(2026, 3, 1), dt.date(2026, 4, 30)),
        ("inside", dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
    ]:
        with pytest.raises(ValidationError, match="already reported") as refused, f.tx(session):
            _report(session, agreement, key, start, end)
        assert refused.value.extra["case"] == "period_overlap"
        assert refused.value.extra["id"] == first.id
    session.expire_all()
    assert entries(session) == before
    with f.tx(session):
        _report(session, agreement, "q2", dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    assert svc.amount_due_total(session, agreement.id) == 200_000


def test_revenue_in_twd_is_whole_dollars_and_a_backwards_period_says_so(session, world):
    with f.tx(session):
        agreement = _agreement(session, world)
    with pytest.raises(InvalidAmount, match="whole number") as refused, f.tx(session):
        _report(session, agreement, "cents", *Q1, revenue=100_050)  # NT$1,000.50
    assert refused.value.fields == {"revenue": ["must be a multiple of 100"]}
    with pytest.raises(ValidationError, match="ends before it starts") as refused, f.tx(session):
        _report(session, agreement, "back", dt.date(2026, 3, 31), dt.date(2026, 1, 1))
    assert refused.value.fields == {"period_end": ["before period_start"]}
    assert entries(session) == 0


def test_a_correction_reverses_the_report_and_reports_again_both_kept(session, world):
    with f.tx(session):
        agreement = _agreement(session, world)
        wrong = _report(session, agreement, "q1", *Q1, revenue=60_000_000)
        svc.record_revenue_return(session, key="back", agreement_id=agreement.id, amount=300_000)
    receivable = f"assets:returns_receivable:agreement:{agreement.id}"
    assert balance(session, receivable) == 5_700_000
    with pytest.raises(ValidationError, match="reason"), f.tx(session):
        svc.correct_revenue_report(
            session, key="c", report_id=wrong.id, revenue=4_300_000, reason=" "
        )
    with f.tx(session):
        right = svc.correct_revenue_report(
            session, key="c", report_id=wrong.id, revenue=4_300_000, reason="多打了一個零"
        )
    session.refresh(wrong)
    assert wrong.reversed_at is not None and wrong.reversal_entry_id is not None
    assert (right.corrects_report_id, right.reason, right.due_amount) == (
        wrong.id,
        "多打了一個零",
        430_000,
    )
    assert (right.period_start, right.period_end) == Q1
    assert session.get(Entry, wrong.reversal_entry_id).reverses_entry_id == wrong.entry_id
    assert balance(session, receivable) == 130_000  # NT$4,300 due less NT$3,000 returned
    assert svc.amount_due_total(session, agreement.id) == 430_000
    with f.tx(session):  # a retry gives the same correction back
        again = svc.correct_revenue_report(
            session, key="c", report_id=wrong.id, revenue=4_300_000, reason="多打了一個零"
        )
    assert again.id == right.id
    with pytest.raises(InvalidState, match="already corrected"), f.tx(session):
        svc.correct_revenue_report(
            session, key="c2", report_id=wrong.id, revenue=1_000_000, reason="again"
        )
    with pytest.raises(InvalidAmount, match="already been returned"), f.tx(session):
        svc.correct_revenue_report(
            session, key="c3", report_id=right.id, revenue=1_000_000, reason="less"
        )


def test_the_database_keeps_one_report_in_force_per_period_start(session, world):
    from sqlalchemy.exc import IntegrityError

    from ledger.models import RevenueReport

    with f.tx(session):
        agreement = _agreement(session, world)
        _report(session, agreement, "q1", *Q1)
    row = dict(agreement_id=agreement.id, revenue_amount=0, due_amount=0)
    with pytest.raises(IntegrityError), f.tx(session):
        session.add(RevenueReport(period_start=Q1[0], period_end=Q1[0], **row))
    with pytest.raises(IntegrityError), f.tx(session):
        session.add(RevenueReport(period_start=Q1[1], period_end=Q1[0], **row))


def test_a_pending_proposal_holds_money_and_only_approval_makes_it_an_expense(session, world):
    grants = f"expense:grants:project:{world.project.id}"
    payable = f"liabilities:disbursements_payable:project:{world.project.id}"

    def bal(code):
        try:
            return balance(session, code)
        except NotFound:
            return 0  # never posted to

    with f.tx(session):
        _fund(session, world, amount=1_000_000)
        d = svc.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=300_000,
        )
    assert (bal(grants), bal(payable)) == (0, 0)  # not spent
    assert bal("net_assets:held:unrestricted") == 300_000  # but held
    assert fund_position(session).total == 1_000_000
    assert session.get(Entry, d.reserve_entry_id).kind == "disbursement_hold"
    with f.tx(session):
        svc.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
    session.refresh(d)
    assert (bal(grants), bal(payable), bal("net_assets:held:unrestricted")) == (300_000,) * 2 + (0,)
    assert session.get(Entry, d.commit_entry_id).kind == "disbursement_commit"
    assert fund_position(session).total == 700_000
    with f.tx(session):
        svc.void_disbursement(session, key="v", disbursement_id=d.id, actor=world.moea, reason="x")
    assert (bal(grants), bal(payable), bal("net_assets:held:unrestricted")) == (0, 0, 0)
    assert fund_position(session).total == 1_000_000
    void = session.scalars(select(Entry).where(Entry.reverses_entry_id == d.commit_entry_id))
    assert void.one().kind == "disbursement_void"


def test_a_proposal_committed_before_holds_existed_is_not_committed_twice(session, world):
    from ledger.core import credit, debit
    from ledger.models import Disbursement, DisbursementApproval
    from ledger.posting import post_entry

    grants = f"expense:grants:project:{world.project.id}"
    payable = f"liabilities:disbursements_payable:project:{world.project.id}"
    with f.tx(session):
        _fund(session, world, amount=1_000_000)
        legacy = post_entry(  # what propose_disbursement posted before migration 0010
            session,
            operation="disbursement_reserve",
            key="old",
            params={},
            legs=[debit(grants, 200_000, "TWD"), credit(payable, 200_000, "TWD")],
            entry_date=D,
            memo="legacy",
        )
        d = Disbursement(
            kind="grant",
            project_id=world.project.id,
            amount=200_000,
            currency="TWD",
            proposed_by_id=world.ndc.id,
            reserve_entry_id=legacy.entry_id,
        )
        session.add(d)
        session.flush()
        session.add(
            DisbursementApproval(disbursement_id=d.id, user_id=world.ndc.id, institution="NDC")
        )
    with f.tx(session):
        svc.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
    assert d.commit_entry_id is None
    assert balance(session, grants) == 200_000
    with f.tx(session):
        svc.pay_disbursement(session, key="pay", disbursement_id=d.id, actor=world.moea)
    assert balance(session, payable) == 0
