"""Tables of the fund's money records: projects, pledges and their instalments, donations,
payouts, disbursements and their approvals, return agreements, revenue reports and returns.

Each money record points at the ledger entry that moved its money (``ledger.books.models``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from foundation.db import Base, UTCDateTime, created, intpk
from identity.models import Organisation
from ledger.books.models import BigId, Entry, currency3, minor
from ledger.money import format_rate


class Project(Base):
    """A place-creation project run by a local business; the fund grants or invests in it."""

    __tablename__ = "projects"

    id: Mapped[intpk]
    business_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    county_code: Mapped[str] = mapped_column(String(5))
    town_code: Mapped[str] = mapped_column(String(8))
    #: Priority-area type of the township where designated (agricultural, intermediate, indigenous)
    priority_type: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[created]

    business: Mapped[Organisation] = relationship()


class Pledge(Base):
    __tablename__ = "pledges"
    __table_args__ = (CheckConstraint("amount > 0", name="positive"),)

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    amount: Mapped[minor]
    currency: Mapped[currency3]
    #: None (unrestricted) or a purpose such as ``county:10013``, ``project:4``
    restriction: Mapped[str | None] = mapped_column(String(64))
    public_name: Mapped[bool] = mapped_column(Boolean, default=False)
    pledged_on: Mapped[dt.date] = mapped_column(Date)
    #: Unique bank virtual-account reference with check digit (虛擬帳號)
    virtual_account: Mapped[str | None] = mapped_column(String(20), unique=True)
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[created]
    version: Mapped[int] = mapped_column(Integer, default=1)

    company: Mapped[Organisation] = relationship()
    instalments: Mapped[list[PledgeInstalment]] = relationship(
        order_by="PledgeInstalment.seq", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}


class PledgeInstalment(Base):
    __tablename__ = "pledge_instalments"
    __table_args__ = (
        UniqueConstraint("pledge_id", "seq", name="uq_pledge_instalments_pledge_seq"),
        CheckConstraint("amount > 0", name="positive"),
    )

    id: Mapped[intpk]
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"))
    seq: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[minor]


DONATION_CHANNELS = ("stripe", "bank_transfer", "other")


class Donation(Base):
    """Money received from a donor, with gross, fee and net in the settlement currency."""

    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint(f"channel IN {DONATION_CHANNELS}", name="channel"),
        CheckConstraint("gross_amount > 0", name="positive"),
        # Covering indexes for the sums the dashboard, the transparency page and the
        # propose-a-grant form read on every request (received per funding source; inflows
        # per day for the last year): an index-only scan reads a third of the pages a scan
        # of the table does (migration 0021)
        Index(
            "ix_donations_sums_restriction",
            "currency",
            "restriction",
            "gross_amount",
            "refunded_amount",
        ),
        Index(
            "ix_donations_sums_received_on",
            "currency",
            "received_on",
            "gross_amount",
            "refunded_amount",
        ),
    )

    id: Mapped[intpk]
    company_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: Charged amount and currency (what the donor gave)
    gross_amount: Mapped[minor]
    currency: Mapped[currency3]
    #: What landed, in the settlement currency: gross, fee and net (gross - fee)
    settlement_currency: Mapped[currency3]
    settlement_gross: Mapped[minor]
    fee_amount: Mapped[minor] = mapped_column(default=0)
    net_amount: Mapped[minor]
    restriction: Mapped[str | None] = mapped_column(String(64))
    received_on: Mapped[dt.date] = mapped_column(Date)
    refunded_amount: Mapped[minor] = mapped_column(default=0)
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[created]

    #: The entry carries the external ids (pi_, ch_, txn_ or the bank line)
    entry: Mapped[Entry] = relationship(lazy="selectin", viewonly=True)

    #: Stripe ids shown to donors and managers, in the order Stripe creates them
    STRIPE_REFS = ("payment_intent", "charge", "balance_transaction")

    @property
    def stripe_ids(self) -> dict[str, str] | None:
        """The payment's Stripe ids (pi_, ch_, txn_), or None for a bank transfer."""
        if self.channel != "stripe":
            return None
        refs = self.entry.refs
        return {k: refs[k] for k in self.STRIPE_REFS if k in refs}

    @property
    def exchange_rate(self) -> str | None:

        if self.settlement_currency == self.currency:
            return None
        return format_rate(
            self.settlement_gross, self.settlement_currency, self.gross_amount, self.currency
        )


class Payout(Base):
    __tablename__ = "payouts"

    id: Mapped[intpk]
    amount: Mapped[minor]
    currency: Mapped[currency3]
    bank_account_code: Mapped[str] = mapped_column(String(160))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    stripe_payout_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[created]


DISBURSEMENT_KINDS = ("grant", "investment")


DISBURSEMENT_STATES = ("reserved", "paid", "voided")


class Disbursement(Base):
    """A grant or investment: money held on proposal, committed when a manager of a second
    institution approves, then paid. ``status`` stays ``reserved`` until paid or voided;
    ``ledger.fund.figures.stage_of`` tells pending from approved."""

    __tablename__ = "disbursements"
    __table_args__ = (
        CheckConstraint(f"kind IN {DISBURSEMENT_KINDS}", name="kind"),
        CheckConstraint(f"status IN {DISBURSEMENT_STATES}", name="status"),
        CheckConstraint("amount > 0", name="positive"),
    )

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    amount: Mapped[minor]
    currency: Mapped[currency3]
    #: The restricted purpose it draws on, or None for unrestricted money
    funding: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="reserved")
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[created]
    #: The proposal's entry: money held from its funding source (``disbursement_hold``), or
    #: for proposals made before holds existed the commitment itself
    #: (``disbursement_reserve``)
    reserve_entry_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), unique=True
    )
    #: Posted when a second institution approves: the grant expense or investment owed
    commit_entry_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), unique=True
    )
    pay_entry_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), unique=True
    )
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    void_entry_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), unique=True
    )
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    project: Mapped[Project] = relationship()
    approvals: Mapped[list[DisbursementApproval]] = relationship(
        order_by="DisbursementApproval.id", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}


class DisbursementApproval(Base):
    __tablename__ = "disbursement_approvals"
    __table_args__ = (
        UniqueConstraint("disbursement_id", "user_id", name="uq_disbursement_approvals_user"),
    )

    id: Mapped[intpk]
    disbursement_id: Mapped[int] = mapped_column(ForeignKey("disbursements.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The approver's institution at the time of approval
    institution: Mapped[str] = mapped_column(String(32))
    approved_at: Mapped[created]


class ReturnAgreement(Base):
    """The share of a project's revenue that flows back to the fund, for a period, up to a cap."""

    __tablename__ = "return_agreements"
    __table_args__ = (
        CheckConstraint("share_bp > 0 AND share_bp <= 10000", name="share"),
        CheckConstraint("end_date >= start_date", name="period"),
    )

    id: Mapped[intpk]
    business_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    disbursement_id: Mapped[int | None] = mapped_column(ForeignKey("disbursements.id"))
    #: Share of revenue in basis points (500 = 5%)
    share_bp: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    cap_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[currency3]
    created_at: Mapped[created]


class RevenueReport(Base):
    """Revenue a business reports for a period; the amount due follows from the agreement.

    One report counts per agreement period: periods of reports in force never overlap (the
    service checks under the agreement's lock; the partial unique index backs the same
    start date). A mistake is corrected, never edited: the report is reversed (``reversed_at``,
    its due amount taken back) and a new one, naming it and the reason, takes its place.
    """

    __tablename__ = "revenue_reports"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period"),
        Index(
            "uq_revenue_reports_period_in_force",
            "agreement_id",
            "period_start",
            unique=True,
            sqlite_where=text("reversed_at IS NULL"),
            postgresql_where=text("reversed_at IS NULL"),
        ),
    )

    id: Mapped[intpk]
    agreement_id: Mapped[int] = mapped_column(ForeignKey("return_agreements.id"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    revenue_amount: Mapped[minor]
    due_amount: Mapped[minor]
    entry_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), unique=True
    )
    created_at: Mapped[created]
    #: The report this one corrects (it was reversed when this one was made)
    corrects_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("revenue_reports.id"), unique=True
    )
    #: Why the report it corrects was wrong
    reason: Mapped[str | None] = mapped_column(Text)
    #: Set when a correction reversed this report; it no longer counts
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The entry that took its due amount back (None when nothing was due)
    reversal_entry_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), unique=True
    )


class RevenueReturn(Base):
    """Money a business returned to the fund against its agreement."""

    __tablename__ = "revenue_returns"

    id: Mapped[intpk]
    agreement_id: Mapped[int] = mapped_column(ForeignKey("return_agreements.id"), index=True)
    amount: Mapped[minor]
    currency: Mapped[currency3]
    received_on: Mapped[dt.date] = mapped_column(Date)
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[created]
