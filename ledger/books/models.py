"""Tables of the books: accounts, entries, postings, seals, the unsealed queue and periods.

Entries, postings and seals are insert-only: triggers in the migrations refuse UPDATE and
DELETE on both SQLite and PostgreSQL, and the ORM refuses them too (see ``_immutable``).
Account balances are the one mutable number, kept current in the same transaction as the
postings and re-derived from the postings by ``placefund ledger verify``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from foundation.db import Base, UTCDateTime, created, intpk

# Entries and postings grow without bound: 64-bit ids on PostgreSQL (SQLite rowids are 64-bit).
BigId = BigInteger().with_variant(Integer, "sqlite")


bigpk = Annotated[int, mapped_column(BigId, primary_key=True)]


# Minor units. BigInteger on PostgreSQL; SQLite integers are 64-bit anyway.
minor = Annotated[int, mapped_column(BigInteger)]


currency3 = Annotated[str, mapped_column(String(3))]


ACCOUNT_TYPES = ("asset", "liability", "net_assets", "income", "expense")


class Account(Base):
    """A ledger account. ``balance`` is the signed sum of its postings (debits positive).

    The hierarchy is the code itself (``assets:bank:main`` sits under ``assets:bank``), as in
    beancount: reports roll balances up by code prefix, and only leaf accounts hold postings.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(f"type IN {ACCOUNT_TYPES}", name="type"),
        CheckConstraint("normal_sign IN (1, -1)", name="normal_sign"),
        # The database refuses an overdraft even if a code path forgot to check.
        CheckConstraint("allow_negative OR balance * normal_sign >= 0", name="no_overdraft"),
    )

    id: Mapped[intpk]
    #: Hierarchical code, e.g. ``assets:bank:main`` or ``net_assets:restricted:county:10013``
    code: Mapped[str] = mapped_column(String(160), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    currency: Mapped[currency3]
    #: +1 for debit-normal accounts (asset, expense), -1 for credit-normal ones
    normal_sign: Mapped[int] = mapped_column(SmallInteger)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[minor] = mapped_column(default=0)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[created]

    @property
    def natural_balance(self) -> int:
        """The balance as an accountant reads it: positive for a normal asset or liability."""
        return self.balance * self.normal_sign


class Entry(Base):
    """A journal entry. Insert-only; corrections are new entries that reverse it."""

    __tablename__ = "ledger_entries"

    id: Mapped[bigpk]
    #: What produced it: pledge, donation, payout, disbursement_reserve, refund, adjustment...
    kind: Mapped[str] = mapped_column(String(40))
    entry_date: Mapped[dt.date] = mapped_column(Date)
    memo: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    #: SHA-256 of the canonical request; the same key with another request is refused
    request_hash: Mapped[str] = mapped_column(String(64))
    #: Set on a reversing entry; unique, so an entry is reversed at most once
    reverses_entry_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), unique=True
    )
    #: A refund, dispute or payment links to the entry it follows from
    related_entry_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: External ids as "key=value" lines (pi_..., ch_..., txn_..., bank line fingerprints)
    source_refs: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created]

    postings: Mapped[list[Posting]] = relationship(
        back_populates="entry", order_by="Posting.id", lazy="selectin"
    )

    @property
    def refs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.source_refs.splitlines() if "=" in line)


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="nonzero"),
        # Covers "balance as of a date" and statements: an index-only scan on PostgreSQL.
        Index(
            "ix_ledger_postings_account_date",
            "account_id",
            "entry_date",
            "entry_id",
            postgresql_include=["amount"],
        ),
    )

    id: Mapped[bigpk]
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    #: Signed minor units: debit positive, credit negative
    amount: Mapped[minor]
    currency: Mapped[currency3]
    #: Copied from the entry so "balance as of a date" is one index range scan
    entry_date: Mapped[dt.date] = mapped_column(Date)

    entry: Mapped[Entry] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship(lazy="joined")


class Seal(Base):
    """A link of the SHA-256 hash chain: entry ``entry_id`` sealed at position ``seq``."""

    __tablename__ = "ledger_seals"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[created]


class Unsealed(Base):
    """Queue of committed entries not yet sealed (filled by trigger, drained by the sealer)."""

    __tablename__ = "ledger_unsealed"

    entry_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("ledger_entries.id"), primary_key=True, autoincrement=False
    )


class Period(Base):
    """A closed accounting period: no posting may be dated on or before ``end_date``."""

    __tablename__ = "ledger_periods"

    id: Mapped[intpk]
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date, unique=True)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[created]
    #: The balance assertions that held at close, as "code=amount" lines
    assertions: Mapped[str] = mapped_column(Text, default="")


def _immutable(mapper, connection, target):
    raise PermissionError(
        f"{type(target).__name__} rows are immutable; post a reversing entry instead"
    )


for _cls in (Entry, Posting, Seal):
    event.listen(_cls, "before_update", _immutable)
    event.listen(_cls, "before_delete", _immutable)
