"""Stripe webhooks: ``POST /webhooks/stripe``, outside the JSON API.

The signature is checked on the raw body (never a parsed and re-serialised one), with
Stripe's 300 s tolerance. A bad or missing signature is a 400 and nothing is stored. A
verified event is stored under its unique id in the same transaction as its effect, so a
duplicate or replayed delivery answers 200 at once and changes nothing.
"""

from __future__ import annotations

import logging

import stripe
from flask import Blueprint, current_app, jsonify, request

from api.errors import problem
from ledger import payments
from ledger.errors import LedgerError
from ledger.stripe_gateway import StripeGateway, StripeNotConfigured, StripeUnavailable
from placefund.app import db_session

log = logging.getLogger("placefund.webhooks")

bp = Blueprint("stripe_webhooks", __name__)

#: Stripe's events can exceed the API's 64 KiB body limit (a charge with its refunds).
MAX_EVENT_BYTES = 1024 * 1024


def gateway() -> StripeGateway:
    """The app's Stripe gateway (configured from the environment on first use)."""
    gw = current_app.extensions.get("placefund.stripe")
    if gw is None:
        gw = current_app.extensions["placefund.stripe"] = StripeGateway.from_env()
    return gw


@bp.post("/webhooks/stripe")
def stripe_webhook():
    """Receive one Stripe event."""
    request.max_content_length = MAX_EVENT_BYTES
    payload = request.get_data(cache=False)
    gw = gateway()
    try:
        event = gw.construct_event(payload, request.headers.get("Stripe-Signature"))
    except StripeNotConfigured as exc:
        return problem(503, exc.code, exc.detail)
    except (ValueError, stripe.SignatureVerificationError):
        log.warning("stripe webhook refused: bad or missing signature")
        return problem(400, "invalid_signature", "The Stripe signature is missing or wrong.")
    session = db_session()
    if session.in_transaction():
        session.commit()
    try:
        with session.begin():
            row = payments.handle_event(session, gw, event)
    except StripeUnavailable as exc:
        # Nothing stored: Stripe delivers again later, and by then we can re-fetch.
        return problem(503, exc.code, exc.detail)
    except LedgerError as exc:
        log.error("stripe event %s (%s) needs attention: %s", event["id"], event["type"], exc)
        with session.begin():
            payments.record_failed_event(session, event, exc, via="webhook")
        return jsonify(received=True, status="needs_attention"), 200
    if row is None:
        return jsonify(received=True, status="duplicate"), 200
    return jsonify(received=True, status=row.status), 200
