"""Card payments through Stripe: create PaymentIntents, apply Stripe events, catch up by sync.

One rule makes the redirect, the webhook and ``placefund stripe sync`` agree: whatever told
us something happened, we re-fetch the object from Stripe and post its effect through the
ledger under a key derived from Stripe's id (``stripe:pi:<pi>``, ``stripe:refund:<re>``,
``stripe:dispute:<dp>:<stage>``, ``stripe:payout:<po>``) with parameters read from that
object. Whichever path comes first posts; the others find the same key with the same request
and change nothing. Re-fetching also makes out-of-order delivery harmless: a late
``payment_failed`` after ``succeeded`` reads a succeeded PaymentIntent, and a payment's
status only ever moves forward (``PAYMENT_RANK``).

Two steps, so no database transaction waits on the network: a *fetch* step reads from Stripe
everything an effect needs (``fetch_for_event``, ``fetch_payment_intent``..., into a
``Fetched``), outside any transaction; the *apply* step (``apply_event_effect``,
``sync_payment_intent``, ``apply_refund``...) posts in a short transaction, reading Stripe
only through the ``Fetched`` it is given (which offers the gateway's read methods).

Events: the webhook stores a verified event as ``received`` (``receive_event``) and leaves
its effect to a ``stripe_event`` job (jobs/kinds/stripe.py), which runs ``process_event``:
fetch, then apply under the event row's lock. Applying twice changes nothing: a settled
event is skipped, and every posting is keyed by Stripe's id.

Every function that takes a session only flushes; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.errors import (
    FieldMessage,
    IdempotencyConflict,
    InvalidAmount,
    InvalidState,
    LedgerError,
    NotFound,
)
from foundation.metrics import STRIPE_EVENT_LAG, observe_after_commit
from foundation.transactions import atomic
from identity.models import User
from ledger.books.models import Entry
from ledger.fund import common, corrections, donations
from ledger.fund import pledges as fund_pledges
from ledger.fund.models import Donation, Pledge
from ledger.money import check_whole_units
from ledger.payments.models import PAYMENT_RANK, CardPayment, StripeEvent
from ledger.payments.stripe_gateway import StripeNotConfigured, StripeUnavailable

log = logging.getLogger("placefund.payments")

TAIWAN = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")

#: Event types we act on; anything else is stored as ignored.
PAYMENT_INTENT_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "payment_intent.requires_action",
)
REFUND_EVENTS = (
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
)
DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "charge.dispute.closed",
    "charge.dispute.updated",
)
PAYOUT_EVENTS = ("payout.paid", "payout.failed", "payout.canceled")
HANDLED_EVENTS = PAYMENT_INTENT_EVENTS + REFUND_EVENTS + DISPUTE_EVENTS + PAYOUT_EVENTS


class _System:
    """The actor behind automatic reversals (a refund or payout Stripe reports as failed)."""

    id = None
    is_manager = True
    role = "admin"


SYSTEM = _System()


def tw_date(timestamp: int | None) -> dt.date:
    """A Stripe timestamp as the date in Taiwan (the date on the fund's voucher)."""
    if timestamp is None:
        return common.today()
    return dt.datetime.fromtimestamp(int(timestamp), TAIWAN).date()


def _id(value) -> str | None:
    """Stripe gives related objects as an id or, expanded, as the object: take the id."""
    if value is None:
        return None
    return value if isinstance(value, str) else value.get("id")


# --- creating a card payment -------------------------------------------------------------


def amount_due_next(session: Session, pledge: Pledge) -> int:
    """The next instalment still unpaid (in part or whole), capped at what is outstanding."""
    paid = int(fund_pledges.pledge_paid(session, pledge.id))  # numeric on PostgreSQL
    outstanding = pledge.amount - paid
    cumulative = 0
    for inst in pledge.instalments:
        cumulative += inst.amount
        if cumulative > paid:
            return min(cumulative - paid, outstanding)
    return outstanding


def start_card_payment(
    session: Session,
    *,
    pledge_id: int,
    request_key: str,
    amount: int | None = None,
    actor: User | None = None,
) -> CardPayment:
    """Open a card payment attempt for one instalment of a pledge (no Stripe call yet).

    The same ``request_key`` with the same request returns the same attempt; with another
    request it is an ``IdempotencyConflict``.
    """
    pledge = session.get(Pledge, pledge_id)
    if pledge is None:
        raise NotFound(f"Pledge {pledge_id} does not exist.")
    existing = session.scalars(
        select(CardPayment).where(CardPayment.request_key == request_key)
    ).one_or_none()
    if existing is not None:
        if existing.pledge_id != pledge_id or (amount is not None and amount != existing.amount):
            raise IdempotencyConflict(
                "This Idempotency-Key was already used for a different card payment.",
                fields={
                    "idempotency_key": [
                        FieldMessage("already used with different content", "key_reused")
                    ]
                },
            )
        return existing
    outstanding = pledge.amount - int(fund_pledges.pledge_paid(session, pledge.id))
    if outstanding <= 0:
        raise InvalidState(
            f"Pledge {pledge_id} is fully paid.", reason="pledge_paid", params={"id": pledge_id}
        )
    if amount is None:
        amount = amount_due_next(session, pledge)
    amount = check_whole_units(amount, pledge.currency)
    if amount > outstanding:
        raise InvalidAmount(
            "The payment exceeds what is still due on the pledge.",
            fields={
                "amount": [FieldMessage("exceeds the amount outstanding", "exceeds_outstanding")]
            },
            reason="exceeds_pledge_due",
            params={"amount": outstanding, "currency": pledge.currency},
        )
    payment = CardPayment(
        pledge_id=pledge.id,
        company_id=pledge.company_id,
        amount=amount,
        currency=pledge.currency,
        status="creating",
        request_key=request_key,
        stripe_idempotency_key=f"placefund-card-{uuid.uuid4().hex}",
        created_by_id=actor.id if actor else None,
    )
    session.add(payment)
    session.flush()
    return payment


def payment_intent_params(payment: CardPayment) -> dict:
    """What we ask Stripe for: the amount in minor units, card only, ids in metadata."""
    return {
        "amount": payment.amount,
        "currency": payment.currency.lower(),
        "payment_method_types": ["card"],
        "metadata": {
            "pledge_id": str(payment.pledge_id),
            "company_id": str(payment.company_id),
            "card_payment_id": str(payment.id),
        },
    }


def submit_card_payment(gateway, payment: CardPayment) -> dict:
    """Create (or, on a retry, re-read) the PaymentIntent. Network only: no database."""
    if payment.payment_intent_id:
        return gateway.retrieve_payment_intent(payment.payment_intent_id)
    return gateway.create_payment_intent(
        payment_intent_params(payment), idempotency_key=payment.stripe_idempotency_key
    )


def attach_payment_intent(session: Session, payment_id: int, pi: dict) -> CardPayment:
    """Remember the PaymentIntent of an attempt and move its status forward."""
    payment = session.get(CardPayment, payment_id, with_for_update=True)
    if payment.payment_intent_id is None:
        payment.payment_intent_id = pi["id"]
    _advance(payment, _status_of(pi))
    session.flush()
    return payment


def open_card_payment(
    session: Session,
    gateway,
    *,
    pledge_id: int,
    request_key: str,
    actor: User,
    amount: int | None = None,
) -> tuple[CardPayment, dict]:
    """Open a card payment on a pledge: the attempt, its PaymentIntent, the two linked.

    What the API (``POST /api/v1/pledges/{id}/card-payments``) and the console's pay button
    both run; each checks first that the caller may see the pledge. Two short transactions
    on ``session`` (each committed at once), and the Stripe call between them, outside any:
    ``request_key`` makes a retry of the request reuse the attempt, and the attempt's own
    Stripe idempotency key the same PaymentIntent. Returns
    the attempt and the PaymentIntent (its client secret is for the payer's page only).
    """
    settings = gateway.settings
    if not settings.secret_key or not settings.publishable_key:
        raise StripeNotConfigured(
            "Card payments are not configured (STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY)."
        )
    with atomic(session):
        payment = start_card_payment(
            session, pledge_id=pledge_id, request_key=request_key, amount=amount, actor=actor
        )
    pi = submit_card_payment(gateway, payment)
    with atomic(session):
        payment = attach_payment_intent(session, payment.id, pi)
    return payment, pi


# --- payment intents ---------------------------------------------------------------------


def _status_of(pi: dict) -> str:
    status = pi.get("status") or "requires_payment_method"
    if status == "requires_payment_method" and pi.get("last_payment_error"):
        return "failed"
    return status if status in PAYMENT_RANK else "processing"


def _advance(payment: CardPayment, status: str) -> bool:
    """Move forward only: a lower-ranked status seen later is ignored (out of order)."""
    if status == payment.status:
        return False
    # A failed attempt may be retried on the same PaymentIntent (3-D Secure, processing).
    retried = payment.status == "failed" and status in ("requires_action", "processing")
    if PAYMENT_RANK[status] <= PAYMENT_RANK[payment.status] and not retried:
        return False
    payment.status = status
    payment.updated_at = utcnow()
    return True


def _payment_for(session: Session, pi: dict) -> CardPayment | None:
    payment = session.scalars(
        select(CardPayment).where(CardPayment.payment_intent_id == pi["id"]).with_for_update()
    ).one_or_none()
    if payment is not None:
        return payment
    # The webhook may beat our own attach step (create answered, our commit not yet done).
    ref = (pi.get("metadata") or {}).get("card_payment_id")
    if ref and str(ref).isdigit():
        payment = session.get(CardPayment, int(ref), with_for_update=True)
        if payment is not None and payment.payment_intent_id in (None, pi["id"]):
            payment.payment_intent_id = pi["id"]
            return payment
    return None


def _balance_transaction(gateway, value) -> dict | None:
    if value is None:
        return None
    return value if isinstance(value, dict) else gateway.retrieve("balance_transaction", value)


@dataclass
class Outcome:
    """What applying one Stripe object did."""

    status: str  # applied, ignored
    detail: str = ""
    entry_id: int | None = None


def sync_payment_intent(session: Session, gateway, pi_id: str) -> Outcome:
    """Bring our card payment in line with the PaymentIntent as Stripe has it now.

    Succeeded: record the donation once (gross, fee, net and rate from the charge's
    balance transaction). Used by the webhook, the page's redirect and sync alike.
    """
    pi = gateway.retrieve_payment_intent(pi_id)
    payment = _payment_for(session, pi)
    if payment is None:
        return Outcome("ignored", f"{pi_id} is not one of our card payments")
    status = _status_of(pi)
    moved = _advance(payment, status)
    if status == "failed":
        error = pi.get("last_payment_error") or {}
        payment.last_error = error.get("message") or error.get("code") or "payment failed"
    if payment.status != "succeeded" or payment.donation_id is not None:
        session.flush()
        return Outcome("applied" if moved else "ignored", f"{pi_id} is {payment.status}")
    donation = record_card_donation(session, gateway, payment, pi)
    return Outcome("applied", f"{pi_id} recorded as donation {donation.id}", donation.entry_id)


def record_card_donation(session: Session, gateway, payment: CardPayment, pi: dict) -> Donation:
    """Post the donation of a succeeded PaymentIntent (idempotent on ``stripe:pi:<id>``)."""
    charge = pi.get("latest_charge")
    if isinstance(charge, str):
        charge = gateway.retrieve("charge", charge)
    if not charge:
        raise InvalidState(f"{pi['id']} succeeded without a charge.")
    bt = _balance_transaction(gateway, charge.get("balance_transaction"))
    currency = str(pi["currency"]).upper()
    amount = int(pi.get("amount_received") or pi["amount"])
    if bt is not None:
        settlement_currency = str(bt["currency"]).upper()
        settlement_amount = int(bt["amount"])
        fee = int(bt.get("fee") or 0)
    else:
        settlement_currency, settlement_amount, fee = currency, amount, 0
    refs = {"payment_intent": pi["id"], "charge": charge["id"]}
    if bt is not None:
        refs["balance_transaction"] = bt["id"]
    donation = donations.record_donation(
        session,
        key=f"stripe:pi:{pi['id']}",
        channel="stripe",
        amount=amount,
        currency=currency,
        fee=fee,
        settlement_currency=settlement_currency,
        settlement_amount=settlement_amount,
        pledge_id=payment.pledge_id,
        received_on=tw_date(charge.get("created") or pi.get("created")),
        refs=refs,
    )
    payment.donation_id = donation.id
    payment.charge_id = charge["id"]
    payment.balance_transaction_id = bt["id"] if bt else None
    payment.updated_at = utcnow()
    session.flush()
    return donation


# --- refunds, disputes, payouts ------------------------------------------------------------


def donation_for_charge(session: Session, charge_id: str) -> Donation | None:
    """The card donation a charge paid (via our card payment, else the entry's refs)."""
    donation_id = session.scalar(
        select(CardPayment.donation_id).where(CardPayment.charge_id == charge_id)
    )
    if donation_id is None:
        donation_id = session.scalar(
            select(Donation.id)
            .join(Entry, Entry.id == Donation.entry_id)
            .where(Donation.channel == "stripe", Entry.source_refs.contains(f"charge={charge_id}"))
        )
    return session.get(Donation, donation_id) if donation_id else None


def _settled(donation: Donation, bt: dict | None) -> int | None:
    """The settled amount of a reversal when the donation settled in another currency."""
    if bt is None or donation.settlement_currency == donation.currency:
        return None
    return abs(int(bt["amount"]))


def _entry_under(session: Session, key: str) -> int | None:
    return session.scalar(select(Entry.id).where(Entry.idempotency_key == key))


def apply_refund(session: Session, gateway, refund_id: str) -> Outcome:
    """A refund as Stripe has it now: post it once; reverse it if Stripe says it failed."""
    refund = gateway.retrieve("refund", refund_id)
    charge_id = _id(refund.get("charge"))
    donation = donation_for_charge(session, charge_id) if charge_id else None
    if donation is None:
        return Outcome("ignored", f"{refund_id}: charge {charge_id} is not a recorded donation")
    key = f"stripe:refund:{refund_id}"
    status = refund.get("status")
    if status in ("failed", "canceled"):
        entry_id = _entry_under(session, key)
        if entry_id is None:
            return Outcome("ignored", f"{refund_id} {status} before it was recorded")
        reversal_key = f"stripe:refund_failed:{refund_id}"
        if _entry_under(session, reversal_key) is not None:
            return Outcome("ignored", f"{refund_id} failure already recorded")
        reversal = corrections.reverse_entry(
            session,
            key=reversal_key,
            entry_id=entry_id,
            actor=SYSTEM,
            reason=f"Stripe refund {refund_id} {status}",
            on=tw_date(refund.get("created")),
        )
        session.refresh(donation, with_for_update=True)
        donation.refunded_amount -= int(refund["amount"])
        session.flush()
        return Outcome("applied", f"{refund_id} {status}: refund reversed", reversal.id)
    if _entry_under(session, key) is not None:
        return Outcome("ignored", f"{refund_id} already recorded")
    bt = _balance_transaction(gateway, refund.get("balance_transaction"))
    refs = {"refund": refund_id, "charge": charge_id}
    if refund.get("payment_intent"):
        refs["payment_intent"] = _id(refund["payment_intent"])
    if bt is not None:
        refs["balance_transaction"] = bt["id"]
    entry = donations.record_refund(
        session,
        key=key,
        donation_id=donation.id,
        amount=int(refund["amount"]),
        settlement_amount=_settled(donation, bt),
        refunded_on=tw_date(refund.get("created")),
        refs=refs,
    )
    return Outcome("applied", f"{refund_id} recorded", entry.id)


def apply_charge_refunds(session: Session, gateway, charge_id: str) -> Outcome:
    """``charge.refunded``: every refund of the charge, each once."""
    outcomes = [apply_refund(session, gateway, r["id"]) for r in gateway.list_refunds(charge_id)]
    applied = [o for o in outcomes if o.status == "applied"]
    if not applied:
        return Outcome("ignored", f"no new refunds on {charge_id}")
    return Outcome("applied", "; ".join(o.detail for o in applied), applied[-1].entry_id)


def apply_dispute(session: Session, gateway, dispute_id: str) -> Outcome:
    """A dispute as Stripe has it now: each funds movement (withdrawn, reinstated) once.

    Stripe lists a dispute's balance transactions in order: the withdrawal (negative, with
    the dispute fee) and, if the fund won, the reinstatement (positive). Whichever dispute
    event arrives, in whatever order, we post what is missing of that sequence.
    """
    dispute = gateway.retrieve("dispute", dispute_id)
    charge_id = _id(dispute.get("charge"))
    donation = donation_for_charge(session, charge_id) if charge_id else None
    if donation is None:
        return Outcome("ignored", f"{dispute_id}: charge {charge_id} is not a recorded donation")
    posted: list[tuple[str, int]] = []
    for bt in dispute.get("balance_transactions") or []:
        bt = _balance_transaction(gateway, bt)
        stage = "funds_withdrawn" if int(bt["amount"]) < 0 else "funds_reinstated"
        key = f"stripe:dispute:{dispute_id}:{stage}"
        if _entry_under(session, key) is not None:
            continue
        entry = donations.record_dispute(
            session,
            key=key,
            donation_id=donation.id,
            stage=stage,
            amount=int(dispute["amount"]),
            fee=int(bt.get("fee") or 0),
            settlement_amount=_settled(donation, bt),
            on=tw_date(bt.get("created")),
            refs={"dispute": dispute_id, "charge": charge_id, "balance_transaction": bt["id"]},
        )
        posted.append((stage, entry.id))
    if not posted:
        return Outcome("ignored", f"{dispute_id} is {dispute.get('status')}; nothing new to post")
    return Outcome("applied", f"{dispute_id}: " + ", ".join(s for s, _ in posted), posted[-1][1])


def payout_bank_account(currency: str) -> str:
    return common.BANK if currency == "TWD" else f"{common.BANK}:{currency}"


def apply_payout(session: Session, gateway, payout_id: str) -> Outcome:
    """A payout as Stripe has it now: record it when paid, reverse it if it then failed."""
    payout = gateway.retrieve("payout", payout_id)
    status = payout.get("status")
    key = f"stripe:payout:{payout_id}"
    currency = str(payout["currency"]).upper()
    if status == "paid":
        if _entry_under(session, key) is not None:
            return Outcome("ignored", f"{payout_id} already recorded")
        refs = {"payout": payout_id}
        bt = _id(payout.get("balance_transaction"))
        if bt:
            refs["balance_transaction"] = bt
        record = donations.record_payout(
            session,
            key=key,
            amount=int(payout["amount"]),
            currency=currency,
            paid_on=tw_date(payout.get("arrival_date")),
            bank_account=payout_bank_account(currency),
            stripe_payout_id=payout_id,
            refs=refs,
        )
        return Outcome("applied", f"{payout_id} paid", record.entry_id)
    if status in ("failed", "canceled"):
        entry_id = _entry_under(session, key)
        if entry_id is None:
            return Outcome("ignored", f"{payout_id} {status}; it was never recorded as paid")
        reversal_key = f"stripe:payout_failed:{payout_id}"
        if _entry_under(session, reversal_key) is not None:
            return Outcome("ignored", f"{payout_id} failure already recorded")
        reversal = corrections.reverse_entry(
            session,
            key=reversal_key,
            entry_id=entry_id,
            actor=SYSTEM,
            reason=f"Stripe payout {payout_id} {status}",
        )
        return Outcome("applied", f"{payout_id} {status}: payout reversed", reversal.id)
    return Outcome("ignored", f"{payout_id} is {status}")


# --- fetching: what an effect reads from Stripe, read before its transaction -------------


class NotFetched(RuntimeError):
    """The apply step asked for an object its fetch step did not read: a bug here, never
    bad input (an unexpected error, so the job tries again and the log says which)."""


class Fetched:
    """Stripe objects read ahead of a transaction, handed to the apply step in place of
    the gateway: it offers the gateway's read methods, from memory, so the transaction that
    posts makes no network call (and holds no lock while Stripe answers)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self.refunds: dict[str, list[dict]] = {}

    def add(self, obj: dict) -> dict:
        self.objects[obj["id"]] = obj
        return obj

    def _get(self, object_id: str) -> dict:
        try:
            return self.objects[object_id]
        except KeyError:
            raise NotFetched(f"{object_id} was not fetched before the transaction") from None

    def retrieve_payment_intent(self, pi_id: str) -> dict:
        return self._get(pi_id)

    def retrieve(self, kind: str, object_id: str) -> dict:
        return self._get(object_id)

    def list_refunds(self, charge_id: str) -> list[dict]:
        if charge_id not in self.refunds:
            raise NotFetched(f"the refunds of {charge_id} were not fetched")
        return self.refunds[charge_id]


def _fetch_balance_transaction(gateway, fetched: Fetched, holder: dict) -> None:
    """The balance transaction ``holder`` names by id (an expanded one is already there)."""
    bt = holder.get("balance_transaction")
    if isinstance(bt, str) and bt not in fetched.objects:
        fetched.add(gateway.retrieve("balance_transaction", bt))


def fetch_payment_intent(gateway, pi_id: str, fetched: Fetched | None = None) -> Fetched:
    """The PaymentIntent and, once it succeeded, its charge and balance transaction (what
    ``sync_payment_intent`` and ``record_card_donation`` read)."""
    fetched = fetched or Fetched()
    pi = fetched.add(gateway.retrieve_payment_intent(pi_id))
    charge = pi.get("latest_charge")
    if pi.get("status") == "succeeded" and charge:
        if isinstance(charge, str):
            charge = fetched.add(gateway.retrieve("charge", charge))
        _fetch_balance_transaction(gateway, fetched, charge)
    return fetched


def _fetch_refund_parts(gateway, fetched: Fetched, refund: dict) -> None:
    fetched.add(refund)
    if refund.get("status") not in ("failed", "canceled"):
        _fetch_balance_transaction(gateway, fetched, refund)


def fetch_refund(gateway, refund_id: str, fetched: Fetched | None = None) -> Fetched:
    fetched = fetched or Fetched()
    _fetch_refund_parts(gateway, fetched, gateway.retrieve("refund", refund_id))
    return fetched


def fetch_charge_refunds(gateway, charge_id: str, fetched: Fetched | None = None) -> Fetched:
    fetched = fetched or Fetched()
    refunds = gateway.list_refunds(charge_id)
    fetched.refunds[charge_id] = refunds
    for refund in refunds:
        _fetch_refund_parts(gateway, fetched, refund)
    return fetched


def fetch_dispute(gateway, dispute_id: str, fetched: Fetched | None = None) -> Fetched:
    fetched = fetched or Fetched()
    dispute = fetched.add(gateway.retrieve("dispute", dispute_id))
    for bt in dispute.get("balance_transactions") or []:
        if isinstance(bt, str) and bt not in fetched.objects:
            fetched.add(gateway.retrieve("balance_transaction", bt))
    return fetched


def fetch_payout(gateway, payout_id: str, fetched: Fetched | None = None) -> Fetched:
    fetched = fetched or Fetched()
    fetched.add(gateway.retrieve("payout", payout_id))
    return fetched


def fetch_for_event(gateway, event_type: str, object_id: str | None) -> Fetched:
    """Everything the effect of an event of ``event_type`` on ``object_id`` reads from
    Stripe (nothing for a type we do not act on). Network only: no database."""
    if event_type not in HANDLED_EVENTS or not object_id:
        return Fetched()
    if event_type in PAYMENT_INTENT_EVENTS:
        return fetch_payment_intent(gateway, object_id)
    if event_type == "charge.refunded":
        return fetch_charge_refunds(gateway, object_id)
    if event_type in REFUND_EVENTS:
        return fetch_refund(gateway, object_id)
    if event_type in DISPUTE_EVENTS:
        return fetch_dispute(gateway, object_id)
    return fetch_payout(gateway, object_id)


# --- events --------------------------------------------------------------------------------

#: An event in one of these states still has its effect to apply
PENDING_EVENT_STATES = ("received", "needs_attention")


def apply_event_effect(session: Session, fetched, event: dict) -> Outcome:
    """Route one event to the handler of its object, which reads the object as fetched
    (``fetch_for_event``) just before this transaction."""
    etype = event["type"]
    obj = event["data"]["object"]
    if etype in PAYMENT_INTENT_EVENTS:
        return sync_payment_intent(session, fetched, obj["id"])
    if etype == "charge.refunded":
        return apply_charge_refunds(session, fetched, obj["id"])
    if etype in REFUND_EVENTS:
        return apply_refund(session, fetched, obj["id"])
    if etype in DISPUTE_EVENTS:
        return apply_dispute(session, fetched, obj["id"])
    if etype in PAYOUT_EVENTS:
        return apply_payout(session, fetched, obj["id"])
    return Outcome("ignored", f"{etype} is not acted on")


def _insert_event(
    session: Session, event: dict, via: str, status: str = "ignored", detail: str = ""
) -> StripeEvent | None:
    """Claim the event id (unique); None when it was already stored (a duplicate)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    obj = (event.get("data") or {}).get("object") or {}
    row = session.execute(
        insert(StripeEvent)
        .values(
            event_id=event["id"],
            type=event["type"],
            object_id=obj.get("id"),
            stripe_created=int(event.get("created") or 0),
            livemode=bool(event.get("livemode")),
            status=status,
            detail=detail,
            via=via,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(StripeEvent.id)
    ).first()
    return None if row is None else session.get(StripeEvent, row[0])


def receive_event(session: Session, event: dict, *, via: str = "webhook") -> StripeEvent | None:
    """Store a verified event once, its effect still to apply (``received``). No Stripe
    call: the effect is a ``stripe_event`` job's (``process_event``).

    Returns the row, or None for a duplicate (nothing changed). A type we do not act on is
    stored as ``ignored`` at once (no job needed). An event stored before that needed
    attention (a payout that arrived before its charges, say) is received again: Stripe's
    redelivery is the cue to try it once more; anything else stored is a duplicate.
    """
    if event["type"] not in HANDLED_EVENTS:
        row = _insert_event(session, event, via, "ignored", f"{event['type']} is not acted on")
        _observe_lag(session, row, "received")
        _observe_lag(session, row, "settled")
        return row
    row = _insert_event(session, event, via, "received")
    _observe_lag(session, row, "received")
    if row is None:
        row = session.scalars(
            select(StripeEvent)
            .where(StripeEvent.event_id == event["id"], StripeEvent.status == "needs_attention")
            .with_for_update()
        ).one_or_none()
        if row is None:
            return None
        row.status, row.via = "received", via
    session.flush()
    return row


def as_event(row: StripeEvent) -> dict:
    """What the apply step reads of an event: its id, type and object id (the rest of the
    body is never trusted: the object is re-read from Stripe)."""
    return {
        "id": row.event_id,
        "type": row.type,
        "created": row.stripe_created,
        "livemode": row.livemode,
        "data": {"object": {"id": row.object_id}},
    }


def apply_stored_event(session: Session, event_id: str, fetched) -> StripeEvent | None:
    """Apply a stored event's effect, in the caller's (short) transaction, under the row's
    lock. None when there is nothing to do: unknown, or already settled by another path (a
    duplicate job, a sync, a second worker) — applying twice changes nothing."""
    row = session.scalars(
        select(StripeEvent).where(StripeEvent.event_id == event_id).with_for_update()
    ).one_or_none()
    if row is None or row.status not in PENDING_EVENT_STATES:
        return None
    outcome = apply_event_effect(session, fetched, as_event(row))
    row.status = outcome.status
    row.detail = outcome.detail[:2000]
    row.entry_id = outcome.entry_id
    session.flush()
    _observe_lag(session, row, "settled")
    return row


def _observe_lag(session: Session, row: StripeEvent | None, step: str) -> None:
    """The webhook lag (``placefund_stripe_event_lag_seconds``): from Stripe's creation of
    the event to ``step`` here, counted once the transaction commits, so a duplicate or a
    rolled-back apply is not counted. An event with no creation time (0) is not counted."""
    if row is None or not row.stripe_created:
        return
    lag = utcnow().timestamp() - row.stripe_created
    # Stripe's clock and ours differ by up to a second or so: never a negative lag
    observe_after_commit(session, STRIPE_EVENT_LAG.labels(step=step, via=row.via), max(0.0, lag))


def process_event(sessions: Callable[[], Session], gateway, event_id: str) -> str | None:
    """Carry a stored event to its outcome: read it, fetch its object from Stripe with no
    transaction open, then apply in a short one. Returns the event's new status, or None
    when it had nothing left to do.

    ``StripeUnavailable`` propagates and changes nothing (try again later). Any other
    ``LedgerError`` (Stripe refused the read, the ledger refused the posting) marks the event
    ``needs_attention`` with the reason, in its own transaction, and propagates.
    """
    with sessions() as session:
        row = session.scalars(select(StripeEvent).where(StripeEvent.event_id == event_id)).first()
        if row is None or row.status not in PENDING_EVENT_STATES:
            return None
        event = as_event(row)
    try:
        fetched = fetch_for_event(gateway, event["type"], event["data"]["object"]["id"])
        with sessions() as session, session.begin():
            applied = apply_stored_event(session, event_id, fetched)
            return applied.status if applied is not None else None
    except StripeUnavailable:
        raise
    except LedgerError as exc:
        with sessions() as session, session.begin():
            record_failed_event(session, event, exc)
        raise


def record_failed_event(session: Session, event: dict, error: LedgerError, *, via: str = "job"):
    """After a rollback: mark the event as needing a person, with the reason (stored now if
    it was not). An event another path settled meanwhile is left as it is."""
    detail = f"{type(error).__name__}: {error.detail}"[:2000]
    row = _insert_event(session, event, via, "needs_attention", detail)
    if row is not None:
        return row
    row = session.scalars(
        select(StripeEvent).where(StripeEvent.event_id == event["id"]).with_for_update()
    ).one()
    if row.status in PENDING_EVENT_STATES:
        row.status, row.detail = "needs_attention", detail
        session.flush()
    return row


# --- sync: catch up with what webhooks missed -----------------------------------------------


@dataclass
class SyncReport:
    events_seen: int = 0
    events_applied: int = 0
    events_ignored: int = 0
    duplicates: int = 0
    needs_attention: int = 0
    transactions_seen: int = 0
    objects_applied: int = 0
    #: Each refused event or object in English (the API's ``problems``)...
    problems: list[str] = field(default_factory=list)
    #: ...and the same as data: Stripe's id of it and the refusal's ``message_code`` and
    #: ``params`` (a domain error's: the console says them in the reader's language)
    refusals: list[dict] = field(default_factory=list)


def _refusal(stripe_id: str, exc: LedgerError) -> dict:
    return {"stripe_id": stripe_id, "message_code": exc.message_code, "params": exc.params}


def taiwan_midnight(day: dt.date) -> int:
    """The first second of ``day`` in Taiwan, as a Stripe timestamp."""
    return int(dt.datetime.combine(day, dt.time(), TAIWAN).timestamp())


def sync(
    sessions: Callable[[], Session],
    gateway,
    since: dt.date | int,
    *,
    progress: Callable[[int], None] | None = None,
) -> SyncReport:
    """Read events and balance transactions since ``since`` (a day in Taiwan, or a Stripe
    timestamp) and apply what is missing, through the webhook's own path: store the event
    (``receive_event``), then fetch and apply it (``process_event``).

    Each event and each object is its own short transaction, its Stripe reads before it,
    so one bad object never blocks the rest and nothing is half-posted. Settled events are
    skipped; stored ones still waiting (``received``, ``needs_attention``) are applied. The
    objects behind balance transactions are applied under their usual keys, so whatever
    the webhooks already did is not done twice. ``StripeUnavailable`` stops the sync (what
    was applied stays applied; a later sync carries on).
    """
    start = since if isinstance(since, int) else taiwan_midnight(since)
    report = SyncReport()
    events = list(gateway.list_events(start))
    events.sort(key=lambda e: (e.get("created") or 0, e["id"]))
    for event in events:
        report.events_seen += 1
        with sessions() as session, session.begin():
            stored_now = receive_event(session, event, via="sync") is not None
        try:
            status = process_event(sessions, gateway, event["id"])
        except StripeUnavailable:
            raise
        except LedgerError as exc:
            report.needs_attention += 1
            report.problems.append(f"{event['id']} ({event['type']}): {exc.detail}")
            report.refusals.append(_refusal(event["id"], exc))
            continue
        if status == "applied":
            report.events_applied += 1
        elif status is not None or stored_now:
            report.events_ignored += 1
        else:
            report.duplicates += 1
        if progress:
            progress(1)
    for txn in gateway.list_balance_transactions(created_gte=start):
        report.transactions_seen += 1
        try:
            work = _work_for_transaction(gateway, txn)
            if work is None:
                continue
            with sessions() as session, session.begin():
                outcome = work(session)
        except StripeUnavailable:
            raise
        except LedgerError as exc:
            report.problems.append(f"{txn['id']}: {exc.detail}")
            report.refusals.append(_refusal(txn["id"], exc))
            continue
        if outcome.status == "applied":
            report.objects_applied += 1
        if progress:
            progress(1)
    return report


def _work_for_transaction(gateway, txn: dict):
    """The apply step for the object behind a balance transaction (its Stripe reads done
    now, before the caller's transaction), or None."""
    source = txn.get("source")
    source_id = _id(source)
    if not source_id:
        return None
    ttype = txn.get("type")
    if ttype in ("charge", "payment"):
        pi = source.get("payment_intent") if isinstance(source, dict) else None
        if pi is None:
            pi = gateway.retrieve("charge", source_id).get("payment_intent")
        pi = _id(pi)
        if not pi:
            return None
        fetched = fetch_payment_intent(gateway, pi)
        return lambda s: sync_payment_intent(s, fetched, pi)
    if source_id.startswith(("re_", "pyr_")):
        fetched = fetch_refund(gateway, source_id)
        return lambda s: apply_refund(s, fetched, source_id)
    if source_id.startswith(("dp_", "du_")):
        fetched = fetch_dispute(gateway, source_id)
        return lambda s: apply_dispute(s, fetched, source_id)
    if source_id.startswith("po_"):
        fetched = fetch_payout(gateway, source_id)
        return lambda s: apply_payout(s, fetched, source_id)
    return None


def card_payments_of(session: Session, pledge_id: int) -> Iterable[CardPayment]:
    return session.scalars(
        select(CardPayment).where(CardPayment.pledge_id == pledge_id).order_by(CardPayment.id)
    ).all()
