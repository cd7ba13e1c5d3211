"""Receipt numbers: each donation's number, given once, and the last number of each year.

A receipt number is ``PF-<year>-<serial>``: the year the money was received and a serial
that counts from 1 within that year. Once given it never changes (the company files it with
its taxes), and the database refuses a second number for a donation or a serial used twice
in a year, whatever the code above it does.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from foundation.db import Base, UTCDateTime, intpk, utcnow


class ReceiptNumber(Base):
    """The number on one donation's receipt."""

    __tablename__ = "receipt_numbers"
    __table_args__ = (
        UniqueConstraint("year", "serial", name="uq_receipt_numbers_year_serial"),
        CheckConstraint("serial > 0", name="serial_positive"),
    )

    #: One number per donation, for good
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), primary_key=True)
    #: The year the donation was received (the tax year it is filed under)
    year: Mapped[int] = mapped_column(Integer)
    #: 1, 2, 3 ... within the year
    serial: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def number(self) -> str:
        return format_receipt_number(self.year, self.serial)


class ReceiptCounter(Base):
    """The last serial given in a year. Writers bump it with one UPDATE, which PostgreSQL
    serialises on the row: two receipts issued at once never get the same serial."""

    __tablename__ = "receipt_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class YearlyStatement(Base):
    """A company's yearly statement as made by the yearly-statements job, kept so a download
    serves it without rendering again. One per company and year: a new rendering replaces
    it. ``inputs`` fingerprints what the document says (``ledger.statements.prepare``): a
    stored statement is served only while the fingerprint of today's data is the same."""

    __tablename__ = "yearly_statements"
    __table_args__ = (
        UniqueConstraint("organisation_id", "year", name="uq_yearly_statements_org_year"),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int] = mapped_column(Integer)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: SHA-256 of the PDF (hex), for whoever archives it
    sha256: Mapped[str] = mapped_column(String(64))
    #: SHA-256 (hex) of the statement's contents: donations, numbers, totals, issuer
    inputs: Mapped[str] = mapped_column(String(64))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The job that made it (none when made otherwise); no foreign key: jobs sit above
    job_id: Mapped[int | None] = mapped_column(BigInteger)


def format_receipt_number(year: int, serial: int) -> str:
    """PF-2026-000001."""
    return f"PF-{year}-{serial:06d}"
