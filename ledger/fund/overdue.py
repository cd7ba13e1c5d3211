"""Pledge instalments that are overdue: due before today and not yet covered by payments.

Payments on a pledge settle its instalments oldest first (the company pays what fell due
first), so an instalment is overdue when its due date has passed and what was paid on the
pledge does not reach the end of it. Only the unpaid part of an instalment is overdue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from identity.models import Organisation, User
from ledger.fund.models import Pledge, PledgeInstalment
from ledger.fund.pledge_payments import paid_per_pledge


@dataclass(frozen=True)
class OverdueInstalment:
    pledge: Pledge
    company: Organisation
    seq: int
    due_date: dt.date
    #: the instalment as scheduled
    amount: int
    #: what of it is still unpaid (minor units)
    unpaid: int
    days_overdue: int

    @property
    def currency(self) -> str:
        return self.pledge.currency


def overdue_instalments(
    session: Session, today: dt.date, *, company_id: int | None = None
) -> list[OverdueInstalment]:
    """Every overdue instalment, oldest due date first (``company_id`` narrows to one)."""
    paid = paid_per_pledge()
    late = (
        select(PledgeInstalment.pledge_id)
        .where(PledgeInstalment.due_date < today)
        .distinct()
        .subquery()
    )
    query = (
        select(Pledge, func.coalesce(paid.c.paid, 0))
        .join(late, late.c.pledge_id == Pledge.id)
        .outerjoin(paid, paid.c.pledge_id == Pledge.id)
        .where(Pledge.amount > func.coalesce(paid.c.paid, 0))
        .options(selectinload(Pledge.instalments), selectinload(Pledge.company))
    )
    if company_id is not None:
        query = query.where(Pledge.company_id == company_id)
    result = []
    for pledge, paid_amount in session.execute(query):
        covered = int(paid_amount)
        scheduled = 0
        for inst in sorted(pledge.instalments, key=lambda i: i.seq):
            scheduled += inst.amount
            if inst.due_date >= today:
                break
            unpaid = min(inst.amount, scheduled - covered)
            if unpaid > 0:
                result.append(
                    OverdueInstalment(
                        pledge=pledge,
                        company=pledge.company,
                        seq=inst.seq,
                        due_date=inst.due_date,
                        amount=inst.amount,
                        unpaid=unpaid,
                        days_overdue=(today - inst.due_date).days,
                    )
                )
    result.sort(key=lambda o: (o.due_date, o.pledge.id, o.seq))
    return result


@dataclass(frozen=True)
class OverdueSummary:
    instalments: int
    #: unpaid amount overdue per currency
    amounts: dict[str, int]


def overdue_summary(items: list[OverdueInstalment]) -> OverdueSummary:
    """How many instalments are overdue and how much, per currency (for the dashboard)."""
    amounts: dict[str, int] = {}
    for o in items:
        amounts[o.currency] = amounts.get(o.currency, 0) + o.unpaid
    return OverdueSummary(len(items), dict(sorted(amounts.items())))


def reminder_list(session: Session, today: dt.date) -> dict:
    """The day's reminders: every overdue instalment with whom at the company to remind,
    as JSON-able data (the overdue-reminders job keeps it as its result)."""
    items = overdue_instalments(session, today)
    contacts: dict[int, list[dict]] = {}
    companies = {o.company.id for o in items}
    if companies:
        for user in session.scalars(
            select(User).where(User.organisation_id.in_(companies)).order_by(User.id)
        ):
            contacts.setdefault(user.organisation_id, []).append(
                {"name": user.name, "email": user.email}
            )
    summary = overdue_summary(items)
    return {
        "date": today.isoformat(),
        "count": summary.instalments,
        "amounts": summary.amounts,
        "reminders": [
            {
                "company_id": o.company.id,
                "company": o.company.name,
                "company_en": o.company.name_en,
                "pledge_id": o.pledge.id,
                "pledge_amount": o.pledge.amount,
                "instalment": o.seq,
                "instalments": len(o.pledge.instalments),
                "due_date": o.due_date.isoformat(),
                "days_overdue": o.days_overdue,
                "unpaid": o.unpaid,
                "currency": o.currency,
                "contacts": contacts.get(o.company.id, []),
            }
            for o in items
        ],
    }
