"""Read-side queries for the API and reports: listings with keyset pagination, totals.

Listings are newest first and paginated by id (keyset: ``id < after``), so a page is one
index range scan however deep the client pages. Every listing takes the organisation scope
as a plain filter; the caller decides the scope from who is asking.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Select, and_, func, or_, select
from sqlalchemy.orm import Session, lazyload

from foundation.reference import counties
from identity.models import Organisation
from ledger.books.models import Account, Entry, Period, Posting
from ledger.books.reading import fund_position
from ledger.fund.models import (
    Disbursement,
    Donation,
    Pledge,
    Project,
    ReturnAgreement,
    RevenueReport,
    RevenueReturn,
)
from ledger.fund.pledge_payments import paid_per_pledge


@dataclass(frozen=True)
class Page:
    items: list
    #: Pass as ``after`` for the next page; None on the last page
    next_after: int | None


def _column_max(key) -> int:
    """The largest value the key's column holds: BIGINT or INTEGER."""
    return 2**63 - 1 if isinstance(key.type, BigInteger) else 2**31 - 1


def page(session: Session, stmt: Select, key, *, limit: int, after: int | None) -> Page:
    """Run ``stmt`` newest first, ``limit`` rows after the keyset position ``after``."""
    if after is not None and after <= _column_max(key):
        stmt = stmt.where(key < after)
    # A position beyond what the key's column can hold is before every row: no filter (the
    # database would refuse to compare an INTEGER column with it).
    rows = session.execute(stmt.order_by(key.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [row[0] if len(row) == 1 else tuple(row) for row in rows]
    return Page(items, rows[-1][0].id if more else None)


def list_pledges(
    session: Session,
    *,
    company_id: int | None = None,
    status: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int = 20,
    after: int | None = None,
) -> Page:
    """Pledges with what has been paid on each: items are ``(Pledge, paid)``.

    ``status``: ``open`` (something still due) or ``paid`` (fully paid).
    """
    paid = paid_per_pledge()
    paid_col = func.coalesce(paid.c.paid, 0)
    stmt = select(Pledge, paid_col).outerjoin(paid, paid.c.pledge_id == Pledge.id)
    if company_id is not None:
        stmt = stmt.where(Pledge.company_id == company_id)
    if status == "open":
        stmt = stmt.where(paid_col < Pledge.amount)
    elif status == "paid":
        stmt = stmt.where(paid_col >= Pledge.amount)
    if start is not None:
        stmt = stmt.where(Pledge.pledged_on >= start)
    if end is not None:
        stmt = stmt.where(Pledge.pledged_on <= end)
    return page(session, stmt, Pledge.id, limit=limit, after=after)


def list_donations(
    session: Session,
    *,
    company_id: int | None = None,
    pledge_id: int | None = None,
    channel: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int = 20,
    after: int | None = None,
    entries: bool = True,
) -> Page:
    """Donations, newest first. ``entries=False`` leaves each one's ledger entry unread
    (a page that shows no Stripe ids need not load 50 entries with their postings)."""
    stmt = select(Donation)
    if not entries:
        stmt = stmt.options(lazyload(Donation.entry))
    if company_id is not None:
        stmt = stmt.where(Donation.company_id == company_id)
    if pledge_id is not None:
        stmt = stmt.where(Donation.pledge_id == pledge_id)
    if channel is not None:
        stmt = stmt.where(Donation.channel == channel)
    if start is not None:
        stmt = stmt.where(Donation.received_on >= start)
    if end is not None:
        stmt = stmt.where(Donation.received_on <= end)
    return page(session, stmt, Donation.id, limit=limit, after=after)


def list_disbursements(
    session: Session,
    *,
    business_id: int | None = None,
    project_id: int | None = None,
    status: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int = 20,
    after: int | None = None,
) -> Page:
    stmt = select(Disbursement)
    if business_id is not None:
        stmt = stmt.join(Project, Project.id == Disbursement.project_id).where(
            Project.business_id == business_id
        )
    if project_id is not None:
        stmt = stmt.where(Disbursement.project_id == project_id)
    if status is not None:
        stmt = stmt.where(Disbursement.status == status)
    if start is not None:
        stmt = stmt.where(func.date(Disbursement.proposed_at) >= start)
    if end is not None:
        stmt = stmt.where(func.date(Disbursement.proposed_at) <= end)
    return page(session, stmt, Disbursement.id, limit=limit, after=after)


def list_projects(
    session: Session,
    *,
    business_id: int | None = None,
    county_code: str | None = None,
    limit: int = 20,
    after: int | None = None,
) -> Page:
    stmt = select(Project)
    if business_id is not None:
        stmt = stmt.where(Project.business_id == business_id)
    if county_code is not None:
        stmt = stmt.where(Project.county_code == county_code)
    return page(session, stmt, Project.id, limit=limit, after=after)


def list_organisations(
    session: Session,
    *,
    only_id: int | None = None,
    kind: str | None = None,
    verified: bool | None = None,
    limit: int = 20,
    after: int | None = None,
) -> Page:
    stmt = select(Organisation)
    if only_id is not None:
        stmt = stmt.where(Organisation.id == only_id)
    if kind is not None:
        stmt = stmt.where(Organisation.kind == kind)
    if verified is True:
        stmt = stmt.where(Organisation.verified_at.is_not(None))
    elif verified is False:
        stmt = stmt.where(Organisation.verified_at.is_(None))
    return page(session, stmt, Organisation.id, limit=limit, after=after)


@dataclass(frozen=True)
class AgreementTotals:
    due: int
    returned: int

    @property
    def outstanding(self) -> int:
        return self.due - self.returned


def agreement_totals(session: Session, agreement_id: int) -> AgreementTotals:
    """What revenue reports in force made due on an agreement and what has come back."""
    due = session.scalar(
        select(func.coalesce(func.sum(RevenueReport.due_amount), 0)).where(
            RevenueReport.agreement_id == agreement_id, RevenueReport.reversed_at.is_(None)
        )
    )
    returned = session.scalar(
        select(func.coalesce(func.sum(RevenueReturn.amount), 0)).where(
            RevenueReturn.agreement_id == agreement_id
        )
    )
    return AgreementTotals(due, returned)


def list_agreements(
    session: Session,
    *,
    business_id: int | None = None,
    limit: int = 20,
    after: int | None = None,
) -> Page:
    stmt = select(ReturnAgreement)
    if business_id is not None:
        stmt = stmt.where(ReturnAgreement.business_id == business_id)
    return page(session, stmt, ReturnAgreement.id, limit=limit, after=after)


def list_revenue_reports(
    session: Session, agreement_id: int, *, limit: int = 20, after: int | None = None
) -> Page:
    stmt = select(RevenueReport).where(RevenueReport.agreement_id == agreement_id)
    return page(session, stmt, RevenueReport.id, limit=limit, after=after)


def list_revenue_returns(
    session: Session, agreement_id: int, *, limit: int = 20, after: int | None = None
) -> Page:
    stmt = select(RevenueReturn).where(RevenueReturn.agreement_id == agreement_id)
    return page(session, stmt, RevenueReturn.id, limit=limit, after=after)


def list_entries(
    session: Session,
    *,
    kind: str | None = None,
    account: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int = 20,
    after: int | None = None,
) -> Page:
    stmt = select(Entry)
    if kind is not None:
        stmt = stmt.where(Entry.kind == kind)
    if account is not None:
        stmt = stmt.where(
            Entry.id.in_(
                select(Posting.entry_id)
                .join(Account, Account.id == Posting.account_id)
                .where(Account.code == account)
            )
        )
    if start is not None:
        stmt = stmt.where(Entry.entry_date >= start)
    if end is not None:
        stmt = stmt.where(Entry.entry_date <= end)
    return page(session, stmt, Entry.id, limit=limit, after=after)


def list_accounts(
    session: Session,
    *,
    prefix: str | None = None,
    type_: str | None = None,
    limit: int = 50,
    after: int | None = None,
) -> Page:
    stmt = select(Account)
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Account.code.like(escaped + "%", escape="\\"))
    if type_ is not None:
        stmt = stmt.where(Account.type == type_)
    return page(session, stmt, Account.id, limit=limit, after=after)


def list_periods(session: Session) -> list[Period]:
    return list(session.scalars(select(Period).order_by(Period.end_date)))


# --- statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DonorStatement:
    """A company's giving in a period: for its tax filing and ESG report."""

    company: Organisation
    start: dt.date
    end: dt.date
    donations: list[Donation]
    #: per currency: received (gross) and refunded within the period's donations
    received: dict[str, int]
    refunded: dict[str, int]
    #: per currency: pledged in the period
    pledged: dict[str, int]


def donor_statement(
    session: Session,
    company: Organisation,
    start: dt.date,
    end: dt.date,
    *,
    entries: bool = True,
) -> DonorStatement:
    """The whole statement with every donation, for the PDF that lists them all.

    The API reads ``donor_totals`` and ``donor_donations`` a page at a time instead.
    ``entries=False``: the donations without their ledger entries (the Stripe ids), which
    the statement PDF does not show; loading them (entry, postings, accounts) was most of
    the time of reading a large company's year.
    """
    query = _donor_donations(company, start, end)
    if not entries:
        query = query.options(lazyload(Donation.entry))
    donations = list(session.scalars(query))
    # The rows are loaded anyway: summing them here saves the grouped query
    received: dict[str, int] = defaultdict(int)
    refunded: dict[str, int] = defaultdict(int)
    for d in donations:
        received[d.currency] += d.gross_amount
        refunded[d.currency] += d.refunded_amount
    pledged = _donor_pledged(session, company, start, end)
    return DonorStatement(company, start, end, donations, dict(received), dict(refunded), pledged)


@dataclass(frozen=True)
class DonorTotals:
    """A company's totals in a period, per currency, as in ``DonorStatement``."""

    received: dict[str, int]
    refunded: dict[str, int]
    pledged: dict[str, int]


@dataclass(frozen=True)
class DonorPage:
    items: list[Donation]
    #: ``(received_on, id)`` of the last donation, to pass as ``after``; None on the last page
    next_after: tuple[dt.date, int] | None


def _donor_donations(company: Organisation, start: dt.date, end: dt.date) -> Select:
    """The period's donations in date order (the order a statement lists them)."""
    return (
        select(Donation)
        .where(
            Donation.company_id == company.id,
            Donation.received_on >= start,
            Donation.received_on <= end,
        )
        .order_by(Donation.received_on, Donation.id)
    )


def _donor_pledged(
    session: Session, company: Organisation, start: dt.date, end: dt.date
) -> dict[str, int]:
    rows = session.execute(
        select(Pledge.currency, func.sum(Pledge.amount))
        .where(
            Pledge.company_id == company.id,
            Pledge.pledged_on >= start,
            Pledge.pledged_on <= end,
        )
        .group_by(Pledge.currency)
    ).all()
    return {currency: int(total) for currency, total in rows}


def donor_totals(
    session: Session, company: Organisation, start: dt.date, end: dt.date
) -> DonorTotals:
    """Received, refunded and pledged per currency, summed by the database (the same
    figures as ``donor_statement``: a currency with donations but no refund has 0 refunded)."""
    rows = session.execute(
        select(
            Donation.currency, func.sum(Donation.gross_amount), func.sum(Donation.refunded_amount)
        )
        .where(
            Donation.company_id == company.id,
            Donation.received_on >= start,
            Donation.received_on <= end,
        )
        .group_by(Donation.currency)
    ).all()
    return DonorTotals(
        received={currency: int(gross) for currency, gross, _ in rows},
        refunded={currency: int(back) for currency, _, back in rows},
        pledged=_donor_pledged(session, company, start, end),
    )


def donor_donations(
    session: Session,
    company: Organisation,
    start: dt.date,
    end: dt.date,
    *,
    limit: int,
    after: tuple[dt.date, int] | None = None,
) -> DonorPage:
    """One page of the period's donations in date order, after the keyset ``after``
    (a donation's ``(received_on, id)``): the dates are not in id order, since a bank
    transfer is recorded after it arrived, so the position is both."""
    stmt = _donor_donations(company, start, end)
    if after is not None:
        day, last_id = after
        later = Donation.received_on > day
        if last_id <= _column_max(Donation.id):
            later = or_(later, and_(Donation.received_on == day, Donation.id > last_id))
        # (an id beyond what the column holds is after every donation of that day)
        stmt = stmt.where(later)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return DonorPage(rows, (rows[-1].received_on, rows[-1].id) if more else None)


# --- the public summary ------------------------------------------------------------------------


@dataclass
class AreaTotals:
    key: str
    name: str
    #: donations restricted to this area (county or priority type), net of refunds
    restricted_in: int = 0
    #: disbursements paid to projects in this area
    paid_out: int = 0
    #: disbursements reserved (approved or awaiting approval) for projects in this area
    committed: int = 0


@dataclass
class PublicSummary:
    currency: str
    #: donations received, net of refunds, plus revenue returned
    donations_in: int
    revenue_returned: int
    pledged: int
    paid_out: int
    committed: int
    #: net assets available (unrestricted and restricted), as in ``fund_position``
    balance: int
    unrestricted: int
    restricted: int
    donors: int
    by_county: list[AreaTotals] = field(default_factory=list)
    by_priority_type: list[AreaTotals] = field(default_factory=list)
    #: names of donors who opted in to being shown, with what they pledged
    public_donors: list[tuple[str, str | None, int]] = field(default_factory=list)

    @property
    def total_in(self) -> int:
        return self.donations_in + self.revenue_returned


PRIORITY_NAMES = {
    "agricultural": "農山漁村",
    "intermediate": "中介城鎮",
    "indigenous": "原鄉",
}


def public_summary(session: Session, currency: str = "TWD") -> PublicSummary:
    """What the public may see: totals in and out, the balance, by county and priority type.

    Donor names appear only for companies that opted in on a pledge (``public_name``).
    """
    donations_in = session.scalar(
        select(func.coalesce(func.sum(Donation.gross_amount - Donation.refunded_amount), 0)).where(
            Donation.currency == currency
        )
    )
    donors = session.scalar(
        select(func.count(func.distinct(Donation.company_id))).where(
            Donation.company_id.is_not(None)
        )
    )
    revenue_returned = session.scalar(
        select(func.coalesce(func.sum(RevenueReturn.amount), 0)).where(
            RevenueReturn.currency == currency
        )
    )
    pledged = session.scalar(
        select(func.coalesce(func.sum(Pledge.amount), 0)).where(Pledge.currency == currency)
    )
    position = fund_position(session, currency)

    county_names = counties()
    by_county: dict[str, AreaTotals] = {}
    by_priority: dict[str, AreaTotals] = {}

    def county(code: str) -> AreaTotals:
        if code not in by_county:
            by_county[code] = AreaTotals(code, county_names.get(code, (code,))[0])
        return by_county[code]

    def priority(code: str) -> AreaTotals:
        if code not in by_priority:
            by_priority[code] = AreaTotals(code, PRIORITY_NAMES.get(code, code))
        return by_priority[code]

    rows = session.execute(
        select(
            Project.county_code,
            Project.priority_type,
            Disbursement.status,
            func.sum(Disbursement.amount),
        )
        .join(Project, Project.id == Disbursement.project_id)
        .where(Disbursement.currency == currency, Disbursement.status != "voided")
        .group_by(Project.county_code, Project.priority_type, Disbursement.status)
    ).all()
    paid_out = committed = 0
    for county_code, priority_type, status, amount in rows:
        targets = [county(county_code)]
        if priority_type:
            targets.append(priority(priority_type))
        for t in targets:
            if status == "paid":
                t.paid_out += amount
            else:
                t.committed += amount
        if status == "paid":
            paid_out += amount
        else:
            committed += amount
    restricted_rows = session.execute(
        select(Donation.restriction, func.sum(Donation.gross_amount - Donation.refunded_amount))
        .where(Donation.currency == currency, Donation.restriction.is_not(None))
        .group_by(Donation.restriction)
    ).all()
    for restriction, amount in restricted_rows:
        kind, _, ident = restriction.partition(":")
        if kind == "county":
            county(ident).restricted_in += amount
        elif kind == "township":
            county(ident[:5]).restricted_in += amount
        elif kind == "priority":
            priority(ident).restricted_in += amount

    public = session.execute(
        select(Organisation.name, Organisation.name_en, func.sum(Pledge.amount))
        .join(Pledge, Pledge.company_id == Organisation.id)
        .where(Pledge.public_name.is_(True), Pledge.currency == currency)
        .group_by(Organisation.id, Organisation.name, Organisation.name_en)
        .order_by(func.sum(Pledge.amount).desc(), Organisation.name)
    ).all()
    return PublicSummary(
        currency=currency,
        donations_in=donations_in,
        revenue_returned=revenue_returned,
        pledged=pledged,
        paid_out=paid_out,
        committed=committed,
        balance=position.total,
        unrestricted=position.unrestricted,
        restricted=sum(position.restricted.values()),
        donors=donors,
        by_county=sorted(by_county.values(), key=lambda a: a.key),
        by_priority_type=sorted(by_priority.values(), key=lambda a: a.key),
        public_donors=[(n, en, int(a)) for n, en, a in public],
    )


def organisation_of_agreement(session: Session, agreement_id: int) -> int | None:
    return session.scalar(
        select(ReturnAgreement.business_id).where(ReturnAgreement.id == agreement_id)
    )
