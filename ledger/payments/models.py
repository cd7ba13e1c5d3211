"""Tables of card payments and Stripe webhook events.

The money itself lives in the ledger (``ledger.books``, ``ledger.fund``); these rows say where
it came from. Stripe events are stored once under their unique id, so a replayed delivery
changes nothing; the webhook stores an event as ``received`` and a background job applies
its effect (ledger/payments/card_payments.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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

#: PaymentIntent states as we track them, with how far along each is. A webhook or a
#: re-fetch never moves a payment to a lower rank (out-of-order deliveries are harmless).
PAYMENT_RANK = {
    "creating": 0,
    "requires_payment_method": 1,
    "requires_confirmation": 2,
    "requires_action": 3,
    "failed": 4,
    "processing": 5,
    "requires_capture": 6,
    "succeeded": 10,
    "canceled": 10,
}


PAYMENT_STATES = tuple(PAYMENT_RANK)


#: received: stored, its effect not yet applied (a ``stripe_event`` job's); applied, ignored:
#: settled; needs_attention: the effect was refused, a person looks (or a redelivery retries)
EVENT_STATES = ("received", "applied", "ignored", "needs_attention")


class CardPayment(Base):
    """One attempt to pay (part of) a pledge by card: our row for one Stripe PaymentIntent."""

    __tablename__ = "card_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive"),
        CheckConstraint(f"status IN {PAYMENT_STATES}", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32), default="creating")
    #: The caller's Idempotency-Key, namespaced per organisation (one attempt per key)
    request_key: Mapped[str] = mapped_column(String(255), unique=True)
    #: Our own idempotency key for the Stripe create call (stable across retries)
    stripe_idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    charge_id: Mapped[str | None] = mapped_column(String(255))
    balance_transaction_id: Mapped[str | None] = mapped_column(String(255))
    donation_id: Mapped[int | None] = mapped_column(ForeignKey("donations.id"), unique=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StripeEvent(Base):
    """A Stripe event we received (webhook or sync), stored once with what we did about it."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        CheckConstraint(f"status IN {EVENT_STATES}", name="status"),
        # The events a person must look at (counted on every /metrics scrape; migration 0015)
        Index(
            "ix_stripe_events_needs_attention",
            "id",
            postgresql_where=text("status = 'needs_attention'"),
            sqlite_where=text("status = 'needs_attention'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Stripe's ``evt_...``: unique, the guard against duplicate and replayed deliveries
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: Stripe's ``created`` (seconds since the epoch)
    stripe_created: Mapped[int] = mapped_column(BigInteger)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))
    #: What happened: the ledger entry posted, or why nothing was done
    detail: Mapped[str] = mapped_column(Text, default="")
    entry_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_entries.id"))
    #: webhook, sync or job (a job that found it needing attention)
    via: Mapped[str] = mapped_column(String(16), default="webhook")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
