"""Tables of reconciliation: statement imports and their lines, reconciliation runs and their
results (what was matched, confirmed or left for a person)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from foundation.db import Base, UTCDateTime, utcnow
from ledger.books.models import BigId

LINE_STATES = ("unmatched", "matched", "confirmed", "ignored")


LINE_SOURCES = ("bank", "stripe")


RUN_KINDS = ("bank", "stripe")


class StatementImport(Base):
    """One imported statement: a bank CSV file, or Stripe balance transactions."""

    __tablename__ = "statement_imports"
    __table_args__ = (CheckConstraint(f"source IN {LINE_SOURCES}", name="source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    #: File name, or the Stripe selection (``payout=po_...`` or a date range)
    name: Mapped[str] = mapped_column(String(255))
    #: The fund's bank account the statement is for (part of every line's fingerprint)
    account: Mapped[str] = mapped_column(String(160), default="")
    mapping: Mapped[str] = mapped_column(String(64), default="")
    encoding: Mapped[str] = mapped_column(String(32), default="")
    file_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    lines_read: Mapped[int] = mapped_column(Integer, default=0)
    lines_new: Mapped[int] = mapped_column(Integer, default=0)
    lines_skipped_bad: Mapped[int] = mapped_column(Integer, default=0)
    first_date: Mapped[dt.date | None] = mapped_column(Date)
    last_date: Mapped[dt.date | None] = mapped_column(Date)
    opening_balance: Mapped[int | None] = mapped_column(BigInteger)
    closing_balance: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="TWD")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatementLine(Base):
    """A bank line or a Stripe balance transaction, stored once (unique fingerprint)."""

    __tablename__ = "statement_lines"
    __table_args__ = (
        CheckConstraint(f"status IN {LINE_STATES}", name="status"),
        CheckConstraint(f"source IN {LINE_SOURCES}", name="source"),
        Index("ix_statement_lines_source_date", "source", "date"),
        # The queue (ledger/reconciliation/queue.py, migration 0010_recon): lines needing a
        # decision newest first, one status newest first
        Index(
            "ix_statement_lines_open_date",
            "date",
            "id",
            postgresql_where=text("status IN ('unmatched', 'matched')"),
            sqlite_where=text("status IN ('unmatched', 'matched')"),
        ),
        Index("ix_statement_lines_status_date", "status", "date", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("statement_imports.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the bank line, or ``stripe:txn_...``: re-imports never duplicate a line
    fingerprint: Mapped[str] = mapped_column(String(80), unique=True)
    line_no: Mapped[int] = mapped_column(Integer)
    date: Mapped[dt.date] = mapped_column(Date)
    #: Signed minor units (money in positive); Stripe: the transaction's amount
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    memo: Mapped[str] = mapped_column(Text, default="")
    counterparty: Mapped[str] = mapped_column(Text, default="")
    balance: Mapped[int | None] = mapped_column(BigInteger)
    #: Bank: the virtual accounts seen on the line (space separated)
    virtual_accounts: Mapped[str] = mapped_column(String(200), default="")
    #: Stripe: txn id, type, fee, net, source object, payout
    external_id: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(40))
    fee: Mapped[int | None] = mapped_column(BigInteger)
    net: Mapped[int | None] = mapped_column(BigInteger)
    source_object: Mapped[str | None] = mapped_column(String(255))
    payout: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_intent: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="unmatched")
    #: What the line is matched to, as ``kind:id`` items separated by spaces
    matched_to: Mapped[str] = mapped_column(Text, default="")
    match_rule: Mapped[str | None] = mapped_column(String(32))
    #: Why a person confirmed, unmatched or ignored it
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReconciliationRun(Base):
    """One reconciliation: which lines against the ledger, with what settings and outcome."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (CheckConstraint(f"kind IN {RUN_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("statement_imports.id"))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Settings as JSON (tolerances, payout, date range)
    params: Mapped[str] = mapped_column(Text, default="{}")
    #: Counts per outcome as JSON
    summary: Mapped[str] = mapped_column(Text, default="{}")
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Closing balance check (bank): stated by the statement and held by the ledger
    stated_closing: Mapped[int | None] = mapped_column(BigInteger)
    ledger_closing: Mapped[int | None] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReconciliationResult(Base):
    """One finding of a run: a match, a suggestion, something missing, or a difference."""

    __tablename__ = "reconciliation_results"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"), index=True)
    #: matched, suggested, unmatched_line, unmatched_item, missing_in_ledger,
    #: missing_in_stripe, amount_mismatch, fee_mismatch, payout_ok, payout_mismatch
    outcome: Mapped[str] = mapped_column(String(32))
    line_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("statement_lines.id"), index=True)
    rule: Mapped[str | None] = mapped_column(String(32))
    #: The ledger side, as ``kind:id`` items separated by spaces
    targets: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None] = mapped_column(Float)
    difference: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text, default="")
    detail_zh: Mapped[str] = mapped_column(Text, default="")
