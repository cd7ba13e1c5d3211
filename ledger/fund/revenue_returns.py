"""Return agreements, revenue reports and revenue returns (收益回流)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.errors import (
    FieldMessage,
    InsufficientFunds,
    InvalidAmount,
    InvalidState,
    NotFound,
    ValidationError,
)
from foundation.transactions import UnitOfWork
from identity.models import Organisation, User
from identity.roles import require_manager
from ledger.books.legs import Leg, credit, debit
from ledger.books.models import Entry
from ledger.books.posting import find_by_key, lock_accounts, post_entry
from ledger.fund.common import BANK, _charge_amount, _get, _iso, today
from ledger.fund.models import (
    Disbursement,
    Project,
    ReturnAgreement,
    RevenueReport,
    RevenueReturn,
)
from ledger.money import (
    DEFAULT_CURRENCY,
    check_currency,
    check_minor,
    check_whole_units,
    format_money,
)


def create_return_agreement(
    session: Session,
    *,
    actor: User,
    business_id: int,
    share_bp: int,
    start_date: dt.date,
    end_date: dt.date,
    cap_amount: int | None = None,
    currency: str = DEFAULT_CURRENCY,
    project_id: int | None = None,
    disbursement_id: int | None = None,
) -> ReturnAgreement:
    """Fix the share of revenue (basis points) a business returns, for a period, up to a cap."""
    require_manager(actor)
    business = _get(session, Organisation, business_id, "Business")
    if business.kind != "business":
        raise ValidationError(
            "Return agreements are made with local businesses.",
            fields={"business_id": [FieldMessage("not a business", "not_a_business")]},
        )
    if isinstance(share_bp, bool) or not isinstance(share_bp, int) or not 0 < share_bp <= 10000:
        raise ValidationError(
            "The share is in basis points, 1 to 10000.", fields={"share_bp": ["1 to 10000"]}
        )
    if end_date < start_date:
        raise ValidationError(
            "The agreement ends before it starts.",
            fields={"end_date": [FieldMessage("before start_date", "before_start")]},
        )
    if cap_amount is not None:
        cap_amount = _charge_amount(cap_amount, currency, "cap_amount")
    if project_id is not None:
        project = _get(session, Project, project_id, "Project")
        if project.business_id != business_id:
            raise ValidationError(
                f"Project {project_id} belongs to another business.",
                fields={"project_id": ["not this business's project"]},
            )
    if disbursement_id is not None:
        disbursement = _get(session, Disbursement, disbursement_id, "Disbursement")
        if disbursement.project.business_id != business_id or (
            project_id is not None and disbursement.project_id != project_id
        ):
            raise ValidationError(
                f"Disbursement {disbursement_id} was not made to this business's project.",
                fields={"disbursement_id": ["not for this business or project"]},
            )
    agreement = ReturnAgreement(
        business_id=business_id,
        project_id=project_id,
        disbursement_id=disbursement_id,
        share_bp=share_bp,
        start_date=start_date,
        end_date=end_date,
        cap_amount=cap_amount,
        currency=check_currency(currency),
    )
    session.add(agreement)
    session.flush()
    return agreement


def _receivable_for(agreement_id: int) -> str:
    return f"assets:returns_receivable:agreement:{agreement_id}"


def amount_due_total(session: Session, agreement_id: int) -> int:
    """What the reports in force (not reversed by a correction) made due on an agreement."""
    return session.scalar(
        select(func.coalesce(func.sum(RevenueReport.due_amount), 0)).where(
            RevenueReport.agreement_id == agreement_id, RevenueReport.reversed_at.is_(None)
        )
    )


def compute_due(revenue: int, share_bp: int, cap_left: int | None, currency: str) -> int:
    """The share of revenue due, rounded down to whole currency units, never above the cap."""
    due = revenue * share_bp // 10000
    if currency == "TWD":
        due -= due % 100
    if cap_left is not None:
        due = min(due, max(cap_left, 0))
    return due


def _check_report(
    agreement: ReturnAgreement, period_start: dt.date, period_end: dt.date, revenue: object
) -> int:
    """The reported revenue in minor units (whole NT$ for TWD) for a period the agreement
    covers; each way of being wrong has its own message."""
    revenue = check_minor(revenue, positive=False, field="revenue")
    if revenue < 0:
        raise InvalidAmount(
            "Revenue cannot be negative.",
            fields={"revenue": [FieldMessage("negative", "negative")]},
            reason="negative_revenue",
        )
    if agreement.currency == "TWD":
        check_whole_units(revenue, agreement.currency, field="revenue")
    if period_end < period_start:
        raise ValidationError(
            "The period ends before it starts.",
            fields={"period_end": [FieldMessage("before period_start", "before_start")]},
            case="period_reversed",
        )
    if period_start < agreement.start_date or period_end > agreement.end_date:
        raise ValidationError(
            "The period must fall within the agreement "
            f"({agreement.start_date} to {agreement.end_date}).",
            fields={"period_start": [FieldMessage("outside the agreement", "outside_agreement")]},
            reason="outside_agreement",
            params={
                "start": agreement.start_date.isoformat(),
                "end": agreement.end_date.isoformat(),
            },
        )
    return revenue


def _refuse_overlap(
    session: Session,
    agreement_id: int,
    period_start: dt.date,
    period_end: dt.date,
    *,
    besides: int | None = None,
) -> None:
    """One report per period: refuse a period that overlaps a report in force. Call with the
    agreement's receivable locked, so two reports cannot both pass."""
    query = select(RevenueReport).where(
        RevenueReport.agreement_id == agreement_id,
        RevenueReport.reversed_at.is_(None),
        RevenueReport.period_start <= period_end,
        RevenueReport.period_end >= period_start,
    )
    if besides is not None:
        query = query.where(RevenueReport.id != besides)
    other = session.scalars(query.order_by(RevenueReport.period_start).limit(1)).first()
    if other is not None:
        raise ValidationError(
            f"Revenue for {other.period_start} to {other.period_end} was already reported "
            f"(report {other.id}); periods may not overlap. Correct that report instead.",
            fields={
                "period_start": [FieldMessage("overlaps a report already made", "overlaps_report")]
            },
            case="period_overlap",
            id=other.id,
            start=other.period_start.isoformat(),
            end=other.period_end.isoformat(),
            params={
                "id": other.id,
                "start": other.period_start.isoformat(),
                "end": other.period_end.isoformat(),
            },
        )


def report_revenue(
    session: Session,
    *,
    key: str,
    agreement_id: int,
    period_start: dt.date,
    period_end: dt.date,
    revenue: int,
    actor: User | None = None,
    uow: UnitOfWork | None = None,
) -> RevenueReport:
    """A business reports revenue for a period; the amount due is posted as a receivable.

    One report per period: a period that overlaps a report in force is refused (a mistake
    is put right with ``correct_revenue_report``). Revenue in TWD is whole dollars.
    """
    agreement = _get(session, ReturnAgreement, agreement_id, "Return agreement")
    revenue = _check_report(agreement, period_start, period_end, revenue)
    params = {
        "agreement_id": agreement_id,
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "revenue": revenue,
    }
    receivable = _receivable_for(agreement_id)
    # Serialise reports on one agreement: the cap and "one report per period" both hold.
    # The idempotency check comes after the lock, so a racing retry finds its original.
    lock_accounts(session, [receivable])
    existing = find_by_key(session, key, "revenue_report", params, uow)
    if existing is not None:
        return session.scalars(
            select(RevenueReport).where(RevenueReport.entry_id == existing)
        ).one()
    _refuse_overlap(session, agreement_id, period_start, period_end)
    cap_left = (
        None
        if agreement.cap_amount is None
        else agreement.cap_amount - amount_due_total(session, agreement_id)
    )
    due = compute_due(revenue, agreement.share_bp, cap_left, agreement.currency)
    report = RevenueReport(
        agreement_id=agreement_id,
        period_start=period_start,
        period_end=period_end,
        revenue_amount=revenue,
        due_amount=due,
    )
    if due:
        posted = post_entry(
            session,
            operation="revenue_report",
            key=key,
            params=params,
            legs=[
                debit(receivable, due, agreement.currency),
                credit("income:revenue_returns", due, agreement.currency),
            ],
            entry_date=period_end,
            memo=f"收益回流應收 協議 {agreement_id} {format_money(due, agreement.currency)}",
            created_by=actor.id if actor else None,
            uow=uow,
        )
        report.entry_id = posted.entry_id
    session.add(report)
    session.flush()
    return report


def correct_revenue_report(
    session: Session,
    *,
    key: str,
    report_id: int,
    revenue: int,
    reason: str,
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
    on: dt.date | None = None,
    actor: User | None = None,
    uow: UnitOfWork | None = None,
) -> RevenueReport:
    """Correct a revenue report: reverse it and report again, with the reason; both are kept.

    The new report's due amount is posted first and the old one's reversed after, so a
    business that already returned money against the old report can still correct it as
    long as the corrected reports make at least that much due. Returns the new report.
    """
    if not reason or not reason.strip():
        raise ValidationError(
            "A correction needs a reason.",
            fields={"reason": [FieldMessage("required", "required")]},
            reason="correction_reason",
        )
    old = _get(session, RevenueReport, report_id, "Revenue report")
    agreement = _get(session, ReturnAgreement, old.agreement_id, "Return agreement")
    period_start = period_start or old.period_start
    period_end = period_end or old.period_end
    revenue = _check_report(agreement, period_start, period_end, revenue)
    given_on, on = on, on or today()
    params = {
        "report_id": report_id,
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "revenue": revenue,
        "reason": reason,
        "on": _iso(given_on),
    }
    receivable = _receivable_for(agreement.id)
    lock_accounts(session, [receivable])
    session.refresh(old)
    if old.reversed_at is not None:
        newer = session.scalars(
            select(RevenueReport).where(RevenueReport.corrects_report_id == old.id)
        ).one()
        same = (newer.period_start, newer.period_end, newer.revenue_amount, newer.reason)
        if same == (period_start, period_end, revenue, reason):
            return newer  # a retry of this very correction
        raise InvalidState(
            f"Revenue report {old.id} was already corrected by report {newer.id}; "
            "correct that one instead.",
            case="already_corrected",
            id=old.id,
            newer=newer.id,
            params={"id": old.id, "newer": newer.id},
        )
    _refuse_overlap(session, agreement.id, period_start, period_end, besides=old.id)
    cap_left = (
        None
        if agreement.cap_amount is None
        else agreement.cap_amount - (amount_due_total(session, agreement.id) - old.due_amount)
    )
    due = compute_due(revenue, agreement.share_bp, cap_left, agreement.currency)
    cur = agreement.currency
    new = RevenueReport(
        agreement_id=agreement.id,
        period_start=period_start,
        period_end=period_end,
        revenue_amount=revenue,
        due_amount=due,
        corrects_report_id=old.id,
        reason=reason.strip(),
    )
    created_by = actor.id if actor else None
    if due:
        new.entry_id = post_entry(
            session,
            operation="revenue_report_correction",
            key=key,
            params=params,
            legs=[debit(receivable, due, cur), credit("income:revenue_returns", due, cur)],
            entry_date=on,
            memo=f"收益回流應收 更正 報告 {old.id} {format_money(due, cur)}: {reason}",
            created_by=created_by,
            uow=uow,
        ).entry_id
    if old.entry_id is not None:
        original = session.get(Entry, old.entry_id)
        try:
            old.reversal_entry_id = post_entry(
                session,
                operation="reversal",
                key=f"{key}:reversal",
                params={**params, "entry_id": old.entry_id},
                legs=[Leg(p.account.code, -p.amount, p.currency) for p in original.postings],
                entry_date=on,
                memo=f"沖銷 分錄 {old.entry_id}: 收益報告更正 {reason}",
                reverses=old.entry_id,
                created_by=created_by,
                uow=uow,
            ).entry_id
        except InsufficientFunds as exc:
            returned = old.due_amount - exc.extra.get("available", 0)
            raise InvalidAmount(
                "More has already been returned on this agreement than the corrected "
                f"reports make due (the correction is short by {format_money(returned, cur)}).",
                fields={
                    "revenue": [
                        FieldMessage("less than what was already returned", "less_than_returned")
                    ]
                },
                reason="returned_exceeds_due",
                params={"short": returned, "currency": cur},
            ) from exc
    # The old report leaves force before the new one is stored: one report per period
    old.reversed_at = utcnow()
    session.flush()
    session.add(new)
    session.flush()
    return new


def record_revenue_return(
    session: Session,
    *,
    key: str,
    agreement_id: int,
    amount: int,
    received_on: dt.date | None = None,
    deposit_account: str = BANK,
    refs: dict[str, str] | None = None,
    actor: User | None = None,
    uow: UnitOfWork | None = None,
) -> RevenueReturn:
    """Money a business returns against its agreement; it cannot exceed what is due."""
    agreement = _get(session, ReturnAgreement, agreement_id, "Return agreement")
    amount = _charge_amount(amount, agreement.currency)
    given_received_on, received_on = received_on, received_on or today()
    params = {
        "agreement_id": agreement_id,
        "amount": amount,
        "received_on": _iso(given_received_on),
        "deposit_account": deposit_account,
        "refs": refs or {},
    }
    try:
        posted = post_entry(
            session,
            operation="revenue_return",
            key=key,
            params=params,
            legs=[
                debit(deposit_account, amount, agreement.currency),
                credit(_receivable_for(agreement_id), amount, agreement.currency),
            ],
            entry_date=received_on,
            memo=f"收益回流 協議 {agreement_id} {format_money(amount, agreement.currency)}",
            created_by=actor.id if actor else None,
            refs=refs,
            uow=uow,
        )
    except InsufficientFunds as exc:
        raise InvalidAmount(
            f"The return exceeds what is due on agreement {agreement_id} "
            f"({format_money(exc.extra.get('available', 0), agreement.currency)}).",
            fields={"amount": [FieldMessage("exceeds the amount due", "exceeds_due")]},
            reason="exceeds_agreement_due",
            params={"amount": exc.extra.get("available", 0), "currency": agreement.currency},
        ) from exc
    if not posted.fresh:
        return session.scalars(
            select(RevenueReturn).where(RevenueReturn.entry_id == posted.entry_id)
        ).one()
    ret = RevenueReturn(
        agreement_id=agreement_id,
        amount=amount,
        currency=agreement.currency,
        received_on=received_on,
        entry_id=posted.entry_id,
    )
    session.add(ret)
    session.flush()
    return ret


def check_agreement_links(
    session: Session, *, business_id: int, project_id: int | None, disbursement_id: int | None
) -> None:
    """A return agreement's project and disbursement must exist and belong to its business."""
    if project_id is not None:
        project = session.get(Project, project_id)
        if project is None or project.business_id != business_id:
            raise NotFound(
                f"Project {project_id} of business {business_id} does not exist.",
                fields={"project_id": ["no such project of this business"]},
            )
    if disbursement_id is not None:
        d = session.get(Disbursement, disbursement_id)
        if d is None or d.project.business_id != business_id:
            raise NotFound(
                f"Disbursement {disbursement_id} to business {business_id} does not exist.",
                fields={"disbursement_id": ["no such disbursement to this business"]},
            )
        if project_id is not None and d.project_id != project_id:
            raise ValidationError(
                "The disbursement went to another project.",
                fields={"disbursement_id": ["not for this project"]},
            )
