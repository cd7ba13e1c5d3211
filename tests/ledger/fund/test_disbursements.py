"""Disbursements through ``ledger.fund.disbursements``: two institutions, holds, what
is available; on SQLite."""

import pytest
from sqlalchemy import select

from foundation.errors import (
    ApprovalRequired,
    InsufficientFunds,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from ledger.books.models import Entry
from ledger.books.reading import balance, fund_position
from ledger.fund import disbursements, pledges
from ledger.fund import donations as fund_donations
from tests import factories as f
from tests.ledger.fund.helpers import D, _fund, entries


def test_disbursement_needs_two_institutions(session, world):
    with f.tx(session):
        _fund(session, world)
        d = disbursements.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=300_000,
            on=D,
        )
    with pytest.raises(ApprovalRequired), f.tx(session):
        disbursements.pay_disbursement(
            session, key="pay", disbursement_id=d.id, actor=world.ndc, paid_on=D
        )
    with pytest.raises(ApprovalRequired, match="another institution"), f.tx(session):
        disbursements.approve_disbursement(session, disbursement_id=d.id, actor=world.ndc2)
    with pytest.raises(InvalidState, match="already approved"), f.tx(session):
        disbursements.approve_disbursement(session, disbursement_id=d.id, actor=world.ndc)
    with f.tx(session):
        disbursements.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
        paid = disbursements.pay_disbursement(
            session, key="pay", disbursement_id=d.id, actor=world.moea, paid_on=D
        )
    assert paid.status == "paid" and paid.paid_by_id == world.moea.id
    assert [a.institution for a in paid.approvals] == ["NDC", "MOEA"]
    assert balance(session, "assets:bank:main") == 700_000
    assert balance(session, f"expense:grants:project:{world.project.id}") == 300_000
    with f.tx(session):  # replaying the payment changes nothing
        disbursements.pay_disbursement(
            session, key="pay", disbursement_id=d.id, actor=world.moea, paid_on=D
        )
    assert balance(session, "assets:bank:main") == 700_000


def test_companies_cannot_move_the_funds_money(session, world):
    with pytest.raises(PermissionDenied), f.tx(session):
        disbursements.propose_disbursement(
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
        fund_donations.record_donation(
            session, key="card", channel="stripe", amount=200_000, company_id=world.company.id
        )
        d = disbursements.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=300_000,
            on=D,
        )
        disbursements.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
    before = entries(session)
    with pytest.raises(InsufficientFunds, match="assets:bank:main"), f.tx(session):
        disbursements.pay_disbursement(
            session, key="pay", disbursement_id=d.id, actor=world.moea, paid_on=D
        )
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
        disbursements.propose_disbursement(
            session,
            key="g0",
            actor=world.ndc,
            kind="grant",
            project_id=other.id,
            amount=100_000,
            funding="township:10008040",
        )
    with pytest.raises(InsufficientFunds, match="restricted"), f.tx(session):
        disbursements.propose_disbursement(
            session,
            key="g1",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=600_000,
            funding="township:10008040",
        )
    with f.tx(session):
        disbursements.propose_disbursement(
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
        disbursements.propose_disbursement(
            session, key="g", actor=world.ndc, kind="grant", project_id=project.id, amount=100_000
        )


def test_void_restores_restricted_money_and_blocks_payment(session, world):
    with f.tx(session):
        _fund(session, world, amount=500_000, restriction="priority:agricultural")
        d = disbursements.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=200_000,
            funding="priority:agricultural",
            on=D,
        )
        disbursements.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
    assert fund_position(session).restricted == {"priority:agricultural": 300_000}
    with f.tx(session):
        voided = disbursements.void_disbursement(
            session, key="v", disbursement_id=d.id, actor=world.moea, reason="計畫取消", on=D
        )
    assert voided.status == "voided" and voided.void_reason == "計畫取消"
    assert fund_position(session).restricted == {"priority:agricultural": 500_000}
    with pytest.raises(InvalidState), f.tx(session):
        disbursements.pay_disbursement(session, key="pay", disbursement_id=d.id, actor=world.moea)


def test_a_proposal_commits_only_money_received_and_not_yet_committed(session, world):
    """Pledges are not money; pending proposals hold money; void gives it back."""
    from ledger.fund.figures import OverCommitment, source_figures

    with f.tx(session):
        pledges.record_pledge(session, key="promise", company_id=world.company.id, amount=9_000_000)
        _fund(session, world, amount=1_000_000)

    def propose(key, amount, **kw):
        return disbursements.propose_disbursement(
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
        disbursements.approve_disbursement(session, disbursement_id=pending.id, actor=world.moea)
    figures = source_figures(session, None)
    assert (figures.commitments.pending, figures.commitments.approved) == (0, 600_000)
    with f.tx(session):
        disbursements.void_disbursement(
            session, key="v", disbursement_id=pending.id, actor=world.moea, reason="取消"
        )
        propose("second", 1_000_000)
    assert source_figures(session, None).available == 0


def test_restricted_proposals_draw_on_money_received_for_that_purpose(session, world):
    from ledger.fund.figures import OverCommitment

    with f.tx(session):
        # Restricted pledge: in the bucket at once, but not received, so not available
        pledges.record_pledge(
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
        disbursements.propose_disbursement(
            session,
            key="g",
            actor=world.ndc,
            kind="grant",
            project_id=world.project.id,
            amount=300_000,
            funding="county:10008",
        )


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
        d = disbursements.propose_disbursement(
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
        disbursements.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
    session.refresh(d)
    assert (bal(grants), bal(payable), bal("net_assets:held:unrestricted")) == (300_000,) * 2 + (0,)
    assert session.get(Entry, d.commit_entry_id).kind == "disbursement_commit"
    assert fund_position(session).total == 700_000
    with f.tx(session):
        disbursements.void_disbursement(
            session, key="v", disbursement_id=d.id, actor=world.moea, reason="x"
        )
    assert (bal(grants), bal(payable), bal("net_assets:held:unrestricted")) == (0, 0, 0)
    assert fund_position(session).total == 1_000_000
    void = session.scalars(select(Entry).where(Entry.reverses_entry_id == d.commit_entry_id))
    assert void.one().kind == "disbursement_void"


def test_a_proposal_committed_before_holds_existed_is_not_committed_twice(session, world):
    from ledger.books.legs import credit, debit
    from ledger.books.posting import post_entry
    from ledger.fund.models import Disbursement, DisbursementApproval

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
        disbursements.approve_disbursement(session, disbursement_id=d.id, actor=world.moea)
    assert d.commit_entry_id is None
    assert balance(session, grants) == 200_000
    with f.tx(session):
        disbursements.pay_disbursement(session, key="pay", disbursement_id=d.id, actor=world.moea)
    assert balance(session, payable) == 0
