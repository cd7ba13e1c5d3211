"""What each money figure means: received, available to commit, committed, pledged.

One place computes the figures that the dashboard, the public transparency page and the
public API show, and the rule a proposal must pass before it may hold money:

* **received**: money that actually came in (donations net of refunds and disputes, plus
  revenue returned), per funding source: unrestricted, or one restricted purpose.
* **committed**: disbursements drawn on a source, by stage: *pending* (proposed, awaiting
  the second institution's approval: the money is held against double spending but has not
  been spent), *approved* (a commitment the fund owes), *paid*.
* **available to commit**: received, less card processing fees (borne by unrestricted
  money), less every commitment (pending, approved and paid). A new proposal may not exceed
  it; ``lock_source`` and ``require_available`` enforce that under concurrency.
* **pledged, not yet received**: what companies promised and have not paid; a receivable,
  never money the fund can commit.

The ledger's net assets (``books.fund_position``) are accounting figures: they count a
pledge as income the day it is made. These figures answer "how much can we spend".
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.errors import FieldMessage, InsufficientFunds
from foundation.reference import counties
from ledger.books.chart import PRIORITY_TYPES, fee_account
from ledger.books.models import Account
from ledger.fund.models import (
    Disbursement,
    DisbursementApproval,
    Donation,
    Pledge,
    Project,
    RevenueReturn,
)
from ledger.fund.pledge_payments import paid_per_pledge
from ledger.money import DEFAULT_CURRENCY, format_money

#: Priority-area types as the briefing names them
PRIORITY_NAMES = {"agricultural": "農山漁村", "intermediate": "中介城鎮", "indigenous": "原鄉"}

#: The funding source of unrestricted money (restricted sources are ``kind:id`` purposes)
UNRESTRICTED = None

STAGES = ("pending", "approved", "paid")


class OverCommitment(InsufficientFunds):
    """A proposal asks for more than its funding source has available to commit."""

    code = "over_commitment"


@dataclass
class Commitments:
    """Disbursements (not voided) by stage, in minor units."""

    #: proposed, awaiting a manager of a second institution: held, not spent
    pending: int = 0
    #: approved by two institutions, not yet paid: a commitment
    approved: int = 0
    #: paid out of the bank
    paid: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.approved + self.paid

    def add(self, stage: str, amount: int) -> None:
        setattr(self, stage, getattr(self, stage) + amount)


@dataclass
class SourceFigures:
    """One funding source: unrestricted (``source`` None) or one restricted purpose."""

    source: str | None
    received: int = 0
    #: card processing fees, charged to unrestricted money
    fees: int = 0
    commitments: Commitments = field(default_factory=Commitments)

    @property
    def available(self) -> int:
        """Money this source can still commit (negative only after a refund of money that
        was already committed)."""
        return self.received - self.fees - self.commitments.total


@dataclass
class AreaFigures:
    """A county or a priority-area type: money restricted to it and commitments to it."""

    key: str
    #: the county's or the type's name in Traditional Chinese
    name: str
    #: donations received restricted to this area (its townships included for a county)
    received: int = 0
    #: what those restricted sources can still commit
    available: int = 0
    #: disbursements to projects in this area, by stage
    commitments: Commitments = field(default_factory=Commitments)


@dataclass
class FundFigures:
    currency: str
    #: when these figures were read (UTC)
    as_of: dt.datetime
    donations_received: int
    revenue_returned: int
    fees: int
    commitments: Commitments
    #: what the sources can still commit: the sum over sources of what each has left
    available: int
    pledged_not_received: int
    sources: list[SourceFigures]
    by_county: list[AreaFigures]
    by_priority_type: list[AreaFigures]

    @property
    def received(self) -> int:
        return self.donations_received + self.revenue_returned


# --- reading -------------------------------------------------------------------------------


def _stage():
    """(join target, expression): each disbursement's stage, ``pending``, ``approved`` (two
    institutions approved) or ``paid``, for grouping in SQL."""
    approvals = (
        select(
            DisbursementApproval.disbursement_id.label("id"),
            func.count(func.distinct(DisbursementApproval.institution)).label("institutions"),
        )
        .group_by(DisbursementApproval.disbursement_id)
        .subquery()
    )
    stage = case(
        (Disbursement.status == "paid", "paid"),
        (func.coalesce(approvals.c.institutions, 0) >= 2, "approved"),
        else_="pending",
    )
    return approvals, stage


def _fees(session: Session, currency: str) -> int:
    account = session.scalars(
        select(Account).where(Account.code == fee_account(currency))
    ).one_or_none()
    return account.natural_balance if account is not None else 0


def sources(session: Session, currency: str = DEFAULT_CURRENCY) -> dict[str | None, SourceFigures]:
    """Every funding source with any activity, unrestricted always included."""
    result: dict[str | None, SourceFigures] = {UNRESTRICTED: SourceFigures(UNRESTRICTED)}

    def of(source: str | None) -> SourceFigures:
        return result.setdefault(source, SourceFigures(source))

    for restriction, amount in session.execute(
        select(Donation.restriction, func.sum(Donation.gross_amount - Donation.refunded_amount))
        .where(Donation.currency == currency)
        .group_by(Donation.restriction)
    ):
        of(restriction).received += int(amount or 0)
    of(UNRESTRICTED).received += _revenue_returned(session, currency)
    of(UNRESTRICTED).fees = _fees(session, currency)
    approvals, stage = _stage()
    for funding, stage_name, amount in session.execute(
        select(Disbursement.funding, stage, func.sum(Disbursement.amount))
        .outerjoin(approvals, approvals.c.id == Disbursement.id)
        .where(Disbursement.currency == currency, Disbursement.status != "voided")
        .group_by(Disbursement.funding, stage)
    ):
        of(funding).commitments.add(stage_name, int(amount))
    return result


def source_figures(
    session: Session, source: str | None, currency: str = DEFAULT_CURRENCY
) -> SourceFigures:
    """The figures of one funding source (zero for a source nothing was given to)."""
    return sources(session, currency).get(source) or SourceFigures(source)


def pledged_not_received(session: Session, currency: str = DEFAULT_CURRENCY) -> int:
    """What companies pledged and have not paid yet (each pledge counted down to zero)."""
    paid = paid_per_pledge()
    outstanding = Pledge.amount - func.coalesce(paid.c.paid, 0)
    return int(
        session.scalar(
            select(func.coalesce(func.sum(outstanding), 0))
            .select_from(Pledge)
            .outerjoin(paid, paid.c.pledge_id == Pledge.id)
            .where(Pledge.currency == currency, outstanding > 0)
        )
    )


def fund_figures(session: Session, currency: str = DEFAULT_CURRENCY) -> FundFigures:
    """The fund's money in the figures people act on, every county and priority type listed."""
    as_of = utcnow()
    by_source = sources(session, currency)
    by_county = {code: AreaFigures(code, names[0]) for code, names in sorted(counties().items())}
    by_priority = {code: AreaFigures(code, PRIORITY_NAMES[code]) for code in PRIORITY_TYPES}
    for figures in by_source.values():
        if figures.source is None:
            continue
        kind, _, ident = figures.source.partition(":")
        area = None
        if kind == "county":
            area = by_county.get(ident)
        elif kind == "township":
            area = by_county.get(ident[:5])
        elif kind == "priority":
            area = by_priority.get(ident)
        if area is not None:
            area.received += figures.received
            area.available += max(figures.available, 0)
    total = Commitments()
    approvals, stage = _stage()
    for county_code, priority_type, stage_name, amount in session.execute(
        select(Project.county_code, Project.priority_type, stage, func.sum(Disbursement.amount))
        .join(Project, Project.id == Disbursement.project_id)
        .outerjoin(approvals, approvals.c.id == Disbursement.id)
        .where(Disbursement.currency == currency, Disbursement.status != "voided")
        .group_by(Project.county_code, Project.priority_type, stage)
    ):
        stage_name, amount = str(stage_name), int(amount)
        total.add(stage_name, amount)
        for area in (by_county.get(county_code), by_priority.get(priority_type or "")):
            if area is not None:
                area.commitments.add(stage_name, amount)
    returned = _revenue_returned(session, currency)
    return FundFigures(
        currency=currency,
        as_of=as_of,
        donations_received=sum(s.received for s in by_source.values()) - returned,
        revenue_returned=returned,
        fees=by_source[UNRESTRICTED].fees,
        commitments=total,
        available=sum(max(s.available, 0) for s in by_source.values()),
        pledged_not_received=pledged_not_received(session, currency),
        sources=sorted(by_source.values(), key=lambda s: (s.source is not None, s.source or "")),
        by_county=list(by_county.values()),
        by_priority_type=list(by_priority.values()),
    )


def _revenue_returned(session: Session, currency: str) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(RevenueReturn.amount), 0)).where(
                RevenueReturn.currency == currency
            )
        )
    )


# --- the rule ------------------------------------------------------------------------------

#: First key of the advisory locks that serialise proposals per funding source ("pf")
_LOCK_SPACE = 0x7066


def lock_source(session: Session, source: str | None, currency: str) -> None:
    """Serialise proposals on one funding source until the transaction ends.

    On PostgreSQL a transaction-scoped advisory lock per source: taken before any account
    row, so it cannot deadlock with the posting's own row locks, and held to commit, so the
    next proposal on the same source reads the commitments this one makes (READ COMMITTED
    takes a fresh snapshot per statement). On SQLite every write transaction begins
    IMMEDIATE, which already serialises writers.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    name = f"funding:{currency}:{source or 'unrestricted'}"
    key = zlib.crc32(name.encode()) - 2**31  # a stable int4, the same in every process
    session.execute(
        text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _LOCK_SPACE, "key": key}
    )


def require_available(
    session: Session, *, source: str | None, amount: int, currency: str
) -> SourceFigures:
    """Refuse a proposal of ``amount`` that ``source`` cannot commit (``OverCommitment``,
    saying how much is available). Call ``lock_source`` first, in the same transaction, and
    post the proposal before it ends: that makes a racing proposal wait and count this one.
    """
    figures = source_figures(session, source, currency)
    available = max(figures.available, 0)
    if amount > available:
        where = "unrestricted money" if source is None else f"money restricted to {source}"
        raise OverCommitment(
            f"Not enough available to commit from {where}: "
            f"{format_money(available, currency)} is available and this proposal needs "
            f"{format_money(amount, currency)}.",
            fields={
                "amount": [
                    FieldMessage(
                        f"more than the {format_money(available, currency)} available",
                        "more_than_available",
                        amount=available,
                        currency=currency,
                    )
                ]
            },
            params={
                "source": source or "",
                "available": available,
                "needed": amount,
                "currency": currency,
            },
            source=source or "",
            available=format_money(available, currency),
            needed=format_money(amount, currency),
            available_amount=available,
        )
    return figures


def stage_of(disbursement: Disbursement) -> str:
    """``pending``, ``approved``, ``paid`` or ``voided``: where a disbursement stands."""
    if disbursement.status in ("paid", "voided"):
        return disbursement.status
    institutions = {a.institution for a in disbursement.approvals}
    return "approved" if len(institutions) >= 2 else "pending"
