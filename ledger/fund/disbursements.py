"""Disbursements: proposed by a manager, approved by another institution's, paid or voided."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.errors import (
    ApprovalRequired,
    FieldMessage,
    InvalidState,
    ValidationError,
)
from foundation.transactions import UnitOfWork
from identity.models import User
from identity.roles import require_manager
from ledger.books import chart
from ledger.books.legs import Leg, credit, debit
from ledger.books.models import Entry
from ledger.books.posting import find_by_key, post_entry
from ledger.fund import figures
from ledger.fund.common import BANK, _charge_amount, _get, _iso, today
from ledger.fund.corrections import reverse_entry
from ledger.fund.models import (
    Disbursement,
    DisbursementApproval,
    Project,
)
from ledger.money import (
    DEFAULT_CURRENCY,
    check_currency,
    format_money,
)


def _payable(project_id: int) -> str:
    return f"liabilities:disbursements_payable:project:{project_id}"


def propose_disbursement(
    session: Session,
    *,
    key: str,
    actor: User,
    kind: str,
    project_id: int,
    amount: int,
    currency: str = DEFAULT_CURRENCY,
    funding: str | None = None,
    purpose: str = "",
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Disbursement:
    """Propose a grant or an investment in a project; the proposer's approval counts.

    The money is held, not spent: it moves from its funding source (unrestricted, or the
    restricted purpose, which must match the project) into ``net_assets:held:<source>``, so
    two proposals cannot both count on it. The commitment (grant expense or investment
    against disbursements payable) is posted when a second institution approves. The
    amount may not exceed what the source has available to commit (``figures``: received,
    less every commitment, pending ones included).
    """
    require_manager(actor)
    if kind not in ("grant", "investment"):
        raise ValidationError(f"Unknown kind {kind!r}.", fields={"kind": ["grant or investment"]})
    currency = check_currency(currency)
    amount = _charge_amount(amount, currency)
    project = _get(session, Project, project_id, "Project")
    if project.business.verified_at is None:
        raise InvalidState(
            f"{project.business.name} is not verified; "
            "only verified organisations receive disbursements.",
            reason="not_verified",
            params={"name": project.business.name},
        )
    funding = chart.parse_restriction(funding)
    if funding and not chart.restriction_allows(
        funding,
        project_id=project.id,
        county=project.county_code,
        town=project.town_code,
        priority=project.priority_type,
    ):
        raise ValidationError(
            f"Money restricted to {funding} cannot be spent on project {project.id} "
            f"({project.name}, {project.town_code}).",
            fields={
                "funding": [FieldMessage("purpose does not match the project", "purpose_mismatch")]
            },
            reason="purpose_mismatch",
            params={"id": project.id},
        )
    given_on, on = on, on or today()
    params = {
        "kind": kind,
        "project_id": project_id,
        "amount": amount,
        "currency": currency,
        "funding": funding,
        "purpose": purpose,
        "on": _iso(given_on),
        "actor": actor.id,
    }
    # Held, not spent: the money moves from its source into the held bucket (a restricted
    # bucket never below zero), and becomes an expense or investment only on approval.
    legs = [
        debit(chart.source_account(funding), amount, currency),
        credit(chart.held_account(funding), amount, currency),
    ]
    label = "補助" if kind == "grant" else "投資"
    # Never commit more than the source has received and not yet committed (pledges not
    # yet paid do not count). The source's lock comes first, so a racing retry of this same
    # request finds the original here and is not refused for the money it holds itself.
    figures.lock_source(session, funding, currency)
    if find_by_key(session, key, "disbursement_hold", params, uow) is None:
        figures.require_available(session, source=funding, amount=amount, currency=currency)
    posted = post_entry(
        session,
        operation="disbursement_hold",
        key=key,
        params=params,
        legs=legs,
        entry_date=on,
        memo=f"{label}保留（待核准） {project.name} {format_money(amount, currency)}",
        created_by=actor.id,
        uow=uow,
    )
    if not posted.fresh:
        return session.scalars(
            select(Disbursement).where(Disbursement.reserve_entry_id == posted.entry_id)
        ).one()
    disbursement = Disbursement(
        kind=kind,
        project_id=project_id,
        amount=amount,
        currency=currency,
        funding=funding,
        purpose=purpose,
        proposed_by_id=actor.id,
        reserve_entry_id=posted.entry_id,
    )
    session.add(disbursement)
    session.flush()
    session.add(
        DisbursementApproval(
            disbursement_id=disbursement.id, user_id=actor.id, institution=actor.institution
        )
    )
    session.flush()
    session.refresh(disbursement)
    return disbursement


def _lock_disbursement(session: Session, disbursement_id: int) -> Disbursement:
    _get(session, Disbursement, disbursement_id, "Disbursement")
    return session.scalars(
        select(Disbursement)
        .where(Disbursement.id == disbursement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def approve_disbursement(session: Session, *, disbursement_id: int, actor: User) -> Disbursement:
    """A second fund manager, of a different institution, approves a reserved disbursement."""
    require_manager(actor)
    d = _lock_disbursement(session, disbursement_id)
    if d.status != "reserved":
        raise InvalidState(
            f"Disbursement {d.id} is {d.status}; only a reserved one can be approved.",
            id=d.id,
            status=d.status,
            reason="approve_not_reserved",
            params={"id": d.id, "status": d.status},
        )
    if any(a.user_id == actor.id for a in d.approvals):
        raise InvalidState(
            "You have already approved this disbursement.", reason="already_approved"
        )
    if actor.institution in {a.institution for a in d.approvals}:
        raise ApprovalRequired(
            "Your institution has already approved this disbursement; "
            "the second approval must come from a manager of another institution.",
            case="same_institution",
            institution=actor.institution,
        )
    session.add(
        DisbursementApproval(disbursement_id=d.id, user_id=actor.id, institution=actor.institution)
    )
    session.flush()
    session.refresh(d)
    if approved(d) and d.commit_entry_id is None and _holds_only(session, d):
        d.commit_entry_id = _post_commitment(session, d, actor)
        session.flush()
    return d


def _holds_only(session: Session, d: Disbursement) -> bool:
    """Did the proposal only hold its money? Proposals made before holds existed posted the
    commitment itself on proposal (``disbursement_reserve``) and must not post it twice."""
    return session.get(Entry, d.reserve_entry_id).kind == "disbursement_hold"


def _post_commitment(session: Session, d: Disbursement, actor: User) -> int:
    """Approved by two institutions: the held money becomes a grant expense or an investment
    the fund owes the project. Restricted money is spent through unrestricted net assets,
    where income and expense land, as it always was."""
    target = (
        f"expense:grants:project:{d.project_id}"
        if d.kind == "grant"
        else f"assets:investments:project:{d.project_id}"
    )
    label = "補助" if d.kind == "grant" else "投資"
    return post_entry(
        session,
        # One commitment per disbursement: the key is derived from it, never reused
        operation="disbursement_commit",
        key=f"disbursement:{d.id}:commit",
        params={"disbursement_id": d.id},
        legs=[
            debit(chart.held_account(d.funding), d.amount, d.currency),
            credit("net_assets:unrestricted", d.amount, d.currency),
            debit(target, d.amount, d.currency),
            credit(_payable(d.project_id), d.amount, d.currency),
        ],
        entry_date=today(),
        memo=f"{label}承諾 {d.id} {format_money(d.amount, d.currency)}",
        related=d.reserve_entry_id,
        created_by=actor.id,
    ).entry_id


def approved(d: Disbursement) -> bool:
    """Joint management: approvals from at least two different institutions."""
    return len({a.institution for a in d.approvals}) >= 2


def pay_disbursement(
    session: Session,
    *,
    key: str,
    disbursement_id: int,
    actor: User,
    paid_on: dt.date | None = None,
    bank_account: str = BANK,
    uow: UnitOfWork | None = None,
) -> Disbursement:
    """Pay an approved disbursement from the bank account (which may not go overdrawn)."""
    require_manager(actor)
    given_paid_on, paid_on = paid_on, paid_on or today()
    params = {
        "disbursement_id": disbursement_id,
        "paid_on": _iso(given_paid_on),
        "bank_account": bank_account,
    }
    if find_by_key(session, key, "disbursement_pay", params, uow) is not None:
        return _get(session, Disbursement, disbursement_id, "Disbursement")
    d = _lock_disbursement(session, disbursement_id)
    if d.status != "reserved":
        raise InvalidState(
            f"Disbursement {d.id} is {d.status}; it cannot be paid.",
            id=d.id,
            status=d.status,
            reason="pay_not_approved",
            params={"id": d.id, "status": d.status},
        )
    if not approved(d):
        raise ApprovalRequired(
            "Payment needs approvals from two fund managers of different institutions.",
            reason="two_institutions",
        )
    posted = post_entry(
        session,
        operation="disbursement_pay",
        key=key,
        params=params,
        legs=[
            debit(_payable(d.project_id), d.amount, d.currency),
            credit(bank_account, d.amount, d.currency),
        ],
        entry_date=paid_on,
        memo=f"撥款 {d.kind} {d.id} {format_money(d.amount, d.currency)}",
        related=d.commit_entry_id or d.reserve_entry_id,
        created_by=actor.id,
        uow=uow,
    )
    d.status = "paid"
    d.pay_entry_id = posted.entry_id
    d.paid_by_id = actor.id
    d.paid_at = utcnow()
    session.flush()
    return d


def void_disbursement(
    session: Session,
    *,
    key: str,
    disbursement_id: int,
    actor: User,
    reason: str,
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Disbursement:
    """Cancel a reserved disbursement: its reservation is reversed and restricted money restored."""
    require_manager(actor)
    if not reason or not reason.strip():
        raise ValidationError(
            "A reason is required to void.",
            fields={"reason": [FieldMessage("required", "required")]},
            reason="void_reason",
        )
    d = _lock_disbursement(session, disbursement_id)
    if d.status == "voided":
        return d
    if d.status != "reserved":
        raise InvalidState(
            f"Disbursement {d.id} is {d.status}; only a reserved one can be voided.",
            id=d.id,
            status=d.status,
            reason="void_not_reserved",
            params={"id": d.id, "status": d.status},
        )
    if d.commit_entry_id is None:  # only held (or, before holds, committed on proposal)
        entry = reverse_entry(
            session,
            key=key,
            entry_id=d.reserve_entry_id,
            actor=actor,
            reason=reason,
            on=on,
            uow=uow,
        )
    else:  # approved: the commitment and the hold are undone in one entry
        entry = _reverse_commitment(session, d, key=key, actor=actor, reason=reason, on=on, uow=uow)
    d.status = "voided"
    d.void_entry_id = entry.id
    d.voided_by_id = actor.id
    d.voided_at = utcnow()
    d.void_reason = reason
    session.flush()
    return d


def _reverse_commitment(
    session: Session,
    d: Disbursement,
    *,
    key: str,
    actor: User,
    reason: str,
    on: dt.date | None,
    uow: UnitOfWork | None = None,
) -> Entry:
    """The negation of an approved disbursement's hold and commitment, as one entry that
    reverses the commitment: the money goes back to its funding source."""
    given_on, on = on, on or today()
    params = {"disbursement_id": d.id, "reason": reason, "on": _iso(given_on)}
    existing = find_by_key(session, key, "disbursement_void", params, uow)
    if existing is not None:
        return session.get(Entry, existing)
    legs = [
        Leg(p.account.code, -p.amount, p.currency)
        for entry_id in (d.reserve_entry_id, d.commit_entry_id)
        for p in session.get(Entry, entry_id).postings
    ]
    posted = post_entry(
        session,
        operation="disbursement_void",
        key=key,
        params=params,
        legs=legs,
        entry_date=on,
        memo=f"沖銷 撥款案 {d.id}: {reason}",
        reverses=d.commit_entry_id,
        related=d.reserve_entry_id,
        created_by=actor.id,
        uow=uow,
    )
    return session.get(Entry, posted.entry_id)
