"""Read-side figures for the managers' dashboard that the API does not offer.

The fund balance, the public summary and listings come from ``ledger.books.reading`` and
``ledger.listings``; this module adds the monthly flows, giving by the donor's home county,
pledges still outstanding and what return agreements have left due.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from foundation.reference import counties
from identity.models import Organisation
from ledger import listings as ledger_listings
from ledger.books.models import Entry
from ledger.fund.models import Disbursement, Donation, Pledge, ReturnAgreement, RevenueReturn
from matching import services as matching
from matching.disclosure import explanation_for
from matching.models import MatchProposal, MatchRun


@dataclass(frozen=True)
class MonthFlow:
    month: str  # "2026-11"
    inflow: int
    outflow: int


def _month_starts(end: dt.date, months: int) -> list[dt.date]:
    first = end.replace(day=1)
    out = []
    for i in range(months - 1, -1, -1):
        y, m = divmod(first.year * 12 + first.month - 1 - i, 12)
        out.append(dt.date(y, m + 1, 1))
    return out


def monthly_flows(
    session: Session, *, end: dt.date, months: int = 12, currency: str = "TWD"
) -> list[MonthFlow]:
    """Money in (donations net of refunds, revenue returned) and out (disbursements paid).

    Grouped by day in SQL (at most a year of rows), then by month here, so the query is the
    same on SQLite and PostgreSQL.
    """
    starts = _month_starts(end, months)
    start = starts[0]
    inflow: dict[str, int] = defaultdict(int)
    outflow: dict[str, int] = defaultdict(int)
    for day, amount in session.execute(
        select(Donation.received_on, func.sum(Donation.gross_amount - Donation.refunded_amount))
        .where(
            Donation.currency == currency,
            Donation.received_on >= start,
            Donation.received_on <= end,
        )
        .group_by(Donation.received_on)
    ):
        inflow[day.strftime("%Y-%m")] += int(amount)
    for day, amount in session.execute(
        select(RevenueReturn.received_on, func.sum(RevenueReturn.amount))
        .where(
            RevenueReturn.currency == currency,
            RevenueReturn.received_on >= start,
            RevenueReturn.received_on <= end,
        )
        .group_by(RevenueReturn.received_on)
    ):
        inflow[day.strftime("%Y-%m")] += int(amount)
    for day, amount in session.execute(
        select(Entry.entry_date, func.sum(Disbursement.amount))
        .join(Entry, Entry.id == Disbursement.pay_entry_id)
        .where(
            Disbursement.currency == currency,
            Entry.entry_date >= start,
            Entry.entry_date <= end,
        )
        .group_by(Entry.entry_date)
    ):
        outflow[day.strftime("%Y-%m")] += int(amount)
    labels = [s.strftime("%Y-%m") for s in starts]
    return [MonthFlow(m, inflow.get(m, 0), outflow.get(m, 0)) for m in labels]


@dataclass(frozen=True)
class CountyGiving:
    county_code: str
    county_name: str
    donors: int
    amount: int


def donations_by_donor_county(session: Session, currency: str = "TWD") -> list[CountyGiving]:
    """Donations (net of refunds) by the donor company's home county, largest first."""
    names = counties()
    # Summed per company first, then per county: the join then meets one row per donor
    # (10,000) instead of one per donation (500,000), and no DISTINCT is needed to count them
    per_company = (
        select(
            Donation.company_id,
            func.sum(Donation.gross_amount - Donation.refunded_amount).label("amount"),
        )
        .where(Donation.currency == currency, Donation.company_id.is_not(None))
        .group_by(Donation.company_id)
        .subquery()
    )
    rows = session.execute(
        select(Organisation.county_code, func.count(), func.sum(per_company.c.amount))
        .join(Organisation, Organisation.id == per_company.c.company_id)
        .group_by(Organisation.county_code)
    ).all()
    out = [
        CountyGiving(code or "", names.get(code, (code or "—",))[0], donors, int(amount))
        for code, donors, amount in rows
    ]
    return sorted(out, key=lambda c: (-c.amount, c.county_code))


@dataclass(frozen=True)
class PledgeDue:
    pledge: Pledge
    paid: int

    @property
    def outstanding(self) -> int:
        return self.pledge.amount - self.paid


def pledges_outstanding(
    session: Session, *, company_id: int | None = None, limit: int = 100
) -> tuple[list[PledgeDue], dict[str, int]]:
    """Open pledges with what is paid and still due, and the total due per currency."""
    page = ledger_listings.list_pledges(session, company_id=company_id, status="open", limit=limit)
    rows = [PledgeDue(p, int(paid)) for p, paid in page.items]
    totals: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[r.pledge.currency] += r.outstanding
    return rows, dict(totals)


def pledge_status(session: Session, *, company_id: int, limit: int = 100) -> list[PledgeDue]:
    """Every pledge of a company with what has been paid on it."""
    page = ledger_listings.list_pledges(session, company_id=company_id, limit=limit)
    return [PledgeDue(p, int(paid)) for p, paid in page.items]


@dataclass(frozen=True)
class AgreementDue:
    agreement: ReturnAgreement
    business_name: str
    totals: ledger_listings.AgreementTotals


def agreements_due(
    session: Session, *, business_id: int | None = None, only_outstanding: bool = False
) -> list[AgreementDue]:
    """Return agreements with what revenue reports made due, what came back, what is left."""
    page = ledger_listings.list_agreements(session, business_id=business_id, limit=200)
    # The names of these agreements' businesses only (not all 60,000 organisations')
    names = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_({a.business_id for a in page.items})
            )
        ).all()
    )
    out = []
    for a in page.items:
        totals = ledger_listings.agreement_totals(session, a.id)
        if only_outstanding and totals.outstanding <= 0:
            continue
        out.append(AgreementDue(a, names.get(a.business_id, ""), totals))
    return out


# --- matching and reconciliation (read queries the services do not offer) ------------------------


def match_runs(session: Session, limit: int = 50) -> list[tuple]:
    """Matching runs, newest first, each with its number of proposals: ``(run, count)``.

    The count is one grouped query over the run_id index, not the run's proposals loaded."""
    runs = session.scalars(select(MatchRun).order_by(MatchRun.id.desc()).limit(limit)).all()
    counts = dict(
        session.execute(
            select(MatchProposal.run_id, func.count())
            .where(MatchProposal.run_id.in_([r.id for r in runs]))
            .group_by(MatchProposal.run_id)
        ).all()
    )
    return [(r, counts.get(r.id, 0)) for r in runs]


@dataclass(frozen=True)
class Explanation:
    """A proposal's stored breakdown, in the reader's language."""

    components: list[dict]
    alternatives: list[dict]


def explain(proposal, lang: str, viewer) -> Explanation:
    """The components (points, max, reason) and the best alternatives of a proposal, as
    ``viewer`` may see them (matching/disclosure.py: alternatives for managers only)."""

    key = "en" if lang == "en" else "zh"
    data = explanation_for(proposal, viewer)

    def text(reason) -> str:
        if isinstance(reason, dict):
            return reason.get(key) or reason.get("zh") or reason.get("en") or ""
        return str(reason or "")

    components = [
        {
            "name": c.get("name", ""),
            "points": c.get("points"),
            "max": c.get("max"),
            "reason": text(c.get("reason")),
        }
        for c in data.get("components") or []
    ]
    alternatives = []
    for side in ("alternative_offer", "alternative_request"):
        alt = data.get(side)
        if alt:
            alternatives.append(
                {
                    "side": side,
                    "offer": alt.get("offer"),
                    "request": alt.get("request"),
                    "score": alt.get("score"),
                    "reason": text(alt.get("reason")),
                }
            )
    alternatives.sort(key=lambda a: -(a["score"] or 0))
    return Explanation(components, alternatives)


@dataclass(frozen=True)
class PartnershipRow:
    partnership: object  # matching.models.Partnership
    #: The other side: the business for a company's page, the company for a business's
    partner: Organisation | None
    #: The partner's people to contact (name, email), shown once both sides accepted
    contacts: list = field(default_factory=list)


def org_partnerships(session: Session, actor, org: Organisation) -> list[PartnershipRow]:
    """The organisation's partnerships as ``actor`` may see them (``matching.services``'
    rules: members only their own organisation's, managers all), with the partner."""

    own = [
        p for p in matching.partnerships(session, actor) if org.id in (p.company_id, p.business_id)
    ]
    partner_ids = {p.business_id if p.company_id == org.id else p.company_id for p in own}
    partners = (
        {
            o.id: o
            for o in session.scalars(select(Organisation).where(Organisation.id.in_(partner_ids)))
        }
        if partner_ids
        else {}
    )
    return [
        PartnershipRow(
            p,
            partners.get(p.business_id if p.company_id == org.id else p.company_id),
            list(matching.partner_contacts(session, actor, p, org.id)),
        )
        for p in own
    ]
