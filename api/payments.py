"""Card payments: a company pays an instalment of its pledge by card through Stripe."""

from __future__ import annotations

import marshmallow as ma
from flask import url_for
from marshmallow import fields, validate

from api import schemas
from api.auth import requires
from api.common import (
    Blueprint,
    decode_cursor,
    errors,
    idempotency_key,
    money_moving,
    page_out,
    user,
)
from api.webhooks import gateway
from foundation.errors import NotFound
from identity.roles import MANAGERS, visible
from ledger import listings
from ledger.fund.models import Pledge
from ledger.payments import card_payments
from ledger.payments.models import EVENT_STATES, CardPayment, StripeEvent
from web.request import db_session

blp = Blueprint(
    "payments", __name__, url_prefix="/api/v1", description="Card payments through Stripe."
)


class CardPaymentIn(schemas.Strict):
    #: Minor units; default: the next instalment still due
    amount = schemas.Amount(required=False, load_default=None)


class CardPaymentSchema(ma.Schema):
    id = fields.Integer()
    pledge_id = fields.Integer()
    company_id = fields.Integer()
    amount = schemas.MoneyField("amount")
    status = fields.String()
    payment_intent = fields.String(attribute="payment_intent_id", allow_none=True)
    charge = fields.String(attribute="charge_id", allow_none=True)
    balance_transaction = fields.String(attribute="balance_transaction_id", allow_none=True)
    donation_id = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CardPaymentCreated(CardPaymentSchema):
    client_secret = fields.String(
        metadata={"description": "For Stripe.js on the payer's page only; never log it"}
    )
    publishable_key = fields.String()
    donation_page = fields.String(
        metadata={"description": "The app's payment page (append #<client_secret>)"}
    )


class CardPaymentPage(ma.Schema):
    items = fields.List(fields.Nested(CardPaymentSchema), required=True)


class StripeEventSchema(ma.Schema):
    event_id = fields.String()
    type = fields.String()
    object_id = fields.String(allow_none=True)
    status = fields.String()
    detail = fields.String()
    entry_id = fields.Integer(allow_none=True)
    via = fields.String()
    received_at = fields.DateTime()


class StripeEventListArgs(schemas.PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(EVENT_STATES))


class _Created:
    def __init__(self, payment: CardPayment, pi: dict, publishable_key: str, page: str):
        self._payment = payment
        self.client_secret = pi.get("client_secret") or ""
        self.publishable_key = publishable_key
        self.donation_page = page

    def __getattr__(self, name):
        return getattr(self._payment, name)


def _own_pledge(session, pledge_id: int) -> Pledge:
    pledge = session.get(Pledge, pledge_id)
    visible(user(), pledge.company_id if pledge else None, "Pledge", pledge_id)
    if pledge is None:
        raise NotFound(f"Pledge {pledge_id} does not exist.")
    return pledge


@blp.route("/pledges/<int:pledge_id>/card-payments", methods=["POST"])
@requires("company_member")
@errors(400, 404, 409, 413, 415, 422, 502, 503)
@money_moving
@blp.arguments(CardPaymentIn, required=False)
@blp.response(201, CardPaymentCreated)
def create_card_payment(data, pledge_id):
    """Pay an instalment of your pledge by card: creates a Stripe PaymentIntent

    Returns the PaymentIntent id, its client secret and the publishable key for Stripe.js.
    The donation is recorded once the payment succeeds (webhook or the page's redirect).
    A retry with the same Idempotency-Key returns the same PaymentIntent.
    """
    me = user()
    key = idempotency_key(me)
    gw = gateway()
    _own_pledge(db_session(), pledge_id)
    payment, pi = card_payments.open_card_payment(
        db_session(), gw, pledge_id=pledge_id, request_key=key, amount=data["amount"], actor=me
    )
    page = url_for("donate.pay", card_payment_id=payment.id)
    return _Created(payment, pi, gw.settings.publishable_key, page), 201


@blp.route("/pledges/<int:pledge_id>/card-payments", methods=["GET"])
@requires("company_member", *MANAGERS)
@errors(404)
@blp.response(200, CardPaymentPage)
def list_card_payments(pledge_id):
    """Card payment attempts on a pledge, with their Stripe ids and donations"""
    session = db_session()
    _own_pledge(session, pledge_id)
    return {"items": card_payments.card_payments_of(session, pledge_id)}


@blp.route("/stripe/events", methods=["GET"])
@requires(*MANAGERS)
@errors(400, 422)
@blp.arguments(StripeEventListArgs, location="query")
@blp.response(200, schemas.page_schema(StripeEventSchema, "StripeEventPage"))
def list_stripe_events(args):
    """Stripe events received (webhook or sync) and what was done with each"""
    from sqlalchemy import select

    stmt = select(StripeEvent)
    if args["status"]:
        stmt = stmt.where(StripeEvent.status == args["status"])
    result = listings.page(
        db_session(), stmt, StripeEvent.id, limit=args["limit"], after=decode_cursor(args["cursor"])
    )
    return page_out(result)
