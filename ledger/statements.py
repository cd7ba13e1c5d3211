"""Yearly donor statements: what one says, whether the stored one still says it, storing one.

Statements are rendered only by jobs (``jobs.kinds.statements``): the yearly-statements job
renders every donor company's at once, the company-statement job one company's when its
download finds none current, and both keep them (``YearlyStatement``), so a download serves
the stored PDF and never renders in the request. A stored statement is served
only while it is *current*: ``inputs`` fingerprints everything the document says (the
company, each payment with its receipt number, purpose and amounts, the totals, the issuer),
and a refund or a late payment changes the fingerprint. The issue date is left out: a
statement made in January is still right in March.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.settings import Settings
from identity.models import Organisation
from ledger.fund import documents
from ledger.fund.models import Donation
from ledger.fund.receipt_models import ReceiptNumber, YearlyStatement
from ledger.fund.receipts import issued_numbers, receipt_numbers
from ledger.listings import DonorStatement, donor_statement

#: Donations numbered per transaction when a year is numbered ahead of its statements
NUMBER_BATCH = 500


@dataclass(frozen=True)
class Prepared:
    """A statement ready to render, with the fingerprint of what it says."""

    statement: DonorStatement
    numbers: dict[int, str]
    purposes: dict[str | None, str]
    inputs: str


def period(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def donor_companies(
    session: Session, year: int, *, after: int | None = None, through: int | None = None
) -> list[int]:
    """The companies that gave in ``year`` (money received then), by id; only those with
    ``after < id <= through`` when given (a part of the yearly job)."""
    start, end = period(year)
    stmt = (
        select(Donation.company_id)
        .join(Organisation, Organisation.id == Donation.company_id)
        .where(
            Organisation.kind == "company",
            Donation.received_on >= start,
            Donation.received_on <= end,
        )
        .distinct()
        .order_by(Donation.company_id)
    )
    if after is not None:
        stmt = stmt.where(Donation.company_id > after)
    if through is not None:
        stmt = stmt.where(Donation.company_id <= through)
    return list(session.scalars(stmt))


def donation_years(session: Session, company_id: int) -> list[int]:
    """The years ``company_id`` gave in (money received then), newest first: the yearly
    statements it can download, however many of its payments a page lists."""
    year = func.extract("year", Donation.received_on)
    rows = session.scalars(
        select(year).where(Donation.company_id == company_id).distinct().order_by(year.desc())
    )
    return [int(y) for y in rows]


def unnumbered(session: Session, year: int, *, limit: int = NUMBER_BATCH) -> list[int]:
    """Up to ``limit`` donations of companies received in ``year`` without a receipt number."""
    start, end = period(year)
    return list(
        session.scalars(
            select(Donation.id)
            .outerjoin(ReceiptNumber, ReceiptNumber.donation_id == Donation.id)
            .where(
                ReceiptNumber.donation_id.is_(None),
                Donation.company_id.is_not(None),
                Donation.received_on >= start,
                Donation.received_on <= end,
            )
            .order_by(Donation.received_on, Donation.id)
            .limit(limit)
        )
    )


def number(session: Session, donation_ids: list[int]) -> dict[int, str]:
    """Give receipt numbers (flush only; see ``ledger.fund.receipts``)."""
    return receipt_numbers(session, donation_ids)


def issuer_facts(settings: Settings) -> dict:
    issuer = settings.receipt_issuer
    seal = issuer.seal_path.read_bytes() if issuer.seal_path else b""
    return {
        "fund": settings.fund_name,
        "name": issuer.name,
        "ubn": issuer.ubn,
        "address": issuer.address,
        "legal": issuer.legal_basis,
        "seal": hashlib.sha256(seal).hexdigest(),
    }


def prepare(
    session: Session,
    company: Organisation,
    year: int,
    settings: Settings,
    *,
    numbers: dict[int, str] | None = None,
    issuer: dict | None = None,
    give_numbers: bool = True,
) -> Prepared | None:
    """Read ``company``'s statement for ``year`` with its payments' receipt ``numbers``
    (when not given: read, and given to a payment that has none yet, such as one received
    after the job numbered the year; flush only, the caller commits).

    ``give_numbers=False`` (the download's read-only check): None when a payment has no
    number yet, since no kept statement can then be current and numbering a large year
    (a write) is the job's work."""
    start, end = period(year)
    st = donor_statement(session, company, start, end, entries=False)
    if numbers is None:
        ids = [d.id for d in st.donations]
        numbers = issued_numbers(session, ids)
        if len(numbers) < len(ids):
            if not give_numbers:
                return None
            numbers = receipt_numbers(session, ids)
    purposes = documents.purpose_names(session, [d.restriction for d in st.donations])
    said = {
        "year": year,
        "company": [company.id, company.name, company.ubn],
        "donations": [
            [
                d.id,
                numbers[d.id],
                d.received_on.isoformat(),
                purposes[d.restriction],
                d.gross_amount,
                d.refunded_amount,
                d.currency,
            ]
            for d in st.donations
        ],
        "received": st.received,
        "refunded": st.refunded,
        "pledged": {k: int(v) for k, v in st.pledged.items()},
        "issuer": issuer if issuer is not None else issuer_facts(settings),
    }
    inputs = hashlib.sha256(
        json.dumps(said, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()
    return Prepared(st, numbers, purposes, inputs)


def render(prepared: Prepared, settings: Settings, issued_on: dt.date) -> bytes:
    return documents.statement_pdf(
        statement=prepared.statement,
        numbers=prepared.numbers,
        purposes=prepared.purposes,
        issuer=settings.receipt_issuer,
        fund_name=settings.fund_name,
        issued_on=issued_on,
    )


def stored_inputs(
    session: Session, year: int, *, after: int | None = None, through: int | None = None
) -> dict[int, str]:
    """Each company's stored statement for ``year``: its fingerprint, by company id (only
    ``after < id <= through`` when given)."""
    stmt = select(YearlyStatement.organisation_id, YearlyStatement.inputs).where(
        YearlyStatement.year == year
    )
    if after is not None:
        stmt = stmt.where(YearlyStatement.organisation_id > after)
    if through is not None:
        stmt = stmt.where(YearlyStatement.organisation_id <= through)
    return dict(session.execute(stmt).all())


def current(session: Session, company_id: int, year: int, inputs: str) -> bytes | None:
    """The stored PDF of the company's statement, when it still says what ``inputs`` says."""
    return session.scalar(
        select(YearlyStatement.pdf).where(
            YearlyStatement.organisation_id == company_id,
            YearlyStatement.year == year,
            YearlyStatement.inputs == inputs,
        )
    )


def store(
    session: Session,
    company_id: int,
    year: int,
    pdf: bytes,
    inputs: str,
    *,
    job_id: int | None = None,
) -> None:
    """Keep the company's statement for ``year``, replacing an older one (flush only)."""
    values = {
        "pdf": pdf,
        "sha256": hashlib.sha256(pdf).hexdigest(),
        "inputs": inputs,
        "generated_at": utcnow(),
        "job_id": job_id,
    }
    replaced = session.execute(
        update(YearlyStatement)
        .where(YearlyStatement.organisation_id == company_id, YearlyStatement.year == year)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if replaced.rowcount:
        return
    try:
        with session.begin_nested():
            session.add(YearlyStatement(organisation_id=company_id, year=year, **values))
            session.flush()
    except IntegrityError:  # made meanwhile by someone else: this one is as new
        session.execute(
            update(YearlyStatement)
            .where(YearlyStatement.organisation_id == company_id, YearlyStatement.year == year)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def stored_counts(session: Session) -> dict[int, int]:
    """How many statements are kept, per year (newest year first)."""
    return dict(
        session.execute(
            select(YearlyStatement.year, func.count())
            .group_by(YearlyStatement.year)
            .order_by(YearlyStatement.year.desc())
        ).all()
    )
