"""Stripe webhooks: ``POST /webhooks/stripe``, outside the JSON API.

The signature is checked on the raw body (never a parsed and re-serialised one), with
Stripe's 300 s tolerance. A bad or missing signature is a 400 and nothing is stored. A
verified event is stored under its unique id (status ``received``) together with a
``stripe_event`` job that applies its effect (jobs/kinds/stripe.py), and the answer is 200
without calling Stripe. A duplicate or replayed delivery answers 200 at once and changes
nothing; an event that needed attention is queued again by its redelivery.
"""

from __future__ import annotations

import logging
import re

import stripe
from flask import Blueprint, current_app, jsonify, request

from jobs import records
from jobs.kinds import stripe as stripe_jobs
from ledger.payments import card_payments
from ledger.payments.stripe_gateway import StripeGateway, StripeNotConfigured
from web.problems import problem
from web.request import db_session, job_queue

log = logging.getLogger("placefund.webhooks")

bp = Blueprint("stripe_webhooks", __name__)

#: Stripe's events can exceed the API's 64 KiB body limit (a charge with its refunds).
MAX_EVENT_BYTES = 1024 * 1024

#: Stripe's ids (``evt_...``, ``pi_...``): printable ASCII, as long as our columns hold
_STRIPE_ID = re.compile(r"^[\x21-\x7e]{1,255}$")
#: Event types: ``payment_intent.succeeded``, ``v2.core.event_destination.ping``...
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
#: ``created`` is seconds since the epoch and is stored in a BIGINT column
_MAX_CREATED = 2**63 - 1


def event_problems(event: object) -> dict[str, list[str]]:
    """What makes a signed body unusable as an event, by field; empty when it is usable.

    Only what is stored or followed is checked: the id (the duplicate guard), the type, the
    time, and the object's id, which the effect re-fetches from Stripe (never trusting the
    rest of the body). Anything else in the event is not read.
    """
    if not isinstance(event, dict):
        return {"_schema": ["an event is a JSON object"]}
    found: dict[str, list[str]] = {}
    event_id = event.get("id")
    if not isinstance(event_id, str) or not _STRIPE_ID.match(event_id):
        found["id"] = ["a string of 1 to 255 printable ASCII characters"]
    event_type = event.get("type")
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        found["type"] = ["a string of 1 to 100 letters, digits, dots, dashes or underscores"]
    created = event.get("created")
    if created is not None and (
        isinstance(created, bool)
        or not isinstance(created, int)
        or not 0 <= created <= _MAX_CREATED
    ):
        found["created"] = ["seconds since the epoch (a non-negative integer)"]
    if not isinstance(event.get("livemode", False), bool):
        found["livemode"] = ["true or false"]
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        found["data.object"] = ["an object"]
    else:
        object_id = obj.get("id")
        needed = event_type in card_payments.HANDLED_EVENTS
        if (object_id is not None or needed) and (
            not isinstance(object_id, str) or not _STRIPE_ID.match(object_id)
        ):
            found["data.object.id"] = ["a string of 1 to 255 printable ASCII characters"]
    return found


def gateway() -> StripeGateway:
    """The app's Stripe gateway (made from its settings by the app factory)."""
    return current_app.extensions["placefund.stripe"]


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
    except stripe.SignatureVerificationError:
        log.warning("stripe webhook refused: bad or missing signature")
        return problem(400, "invalid_signature", "The Stripe signature is missing or wrong.")
    except ValueError:
        log.warning("stripe webhook refused: the signed body is not JSON")
        return problem(400, "malformed_event", "The signed body is not UTF-8 JSON.")
    malformed = event_problems(event)
    if malformed:
        # Refused, not stored: an event without a usable id cannot be told from its retries,
        # so storing it would let redeliveries grow the table without bound. Stripe retries
        # a 4xx for a few days at most, and the refusals are in the log.
        log.warning("stripe webhook refused: malformed event (%s)", ", ".join(sorted(malformed)))
        return problem(
            400,
            "malformed_event",
            "The signed body is not a Stripe event we can store; nothing was stored.",
            fields=malformed,
        )
    session = db_session()
    if session.in_transaction():
        session.commit()
    # Stored and its job submitted in one transaction (neither without the other); the
    # message to the workers goes after the commit. No Stripe call here: the job fetches
    # the object, so a slow or unreachable Stripe never holds the answer Stripe waits for.
    with session.begin():
        row = card_payments.receive_event(session, event)
        job = None
        if row is not None and row.status == "received":
            job, _created = records.submit(
                session,
                "stripe_event",
                params={"event_id": event["id"]},
                dedupe_key=stripe_jobs.event_key(event["id"]),
            )
        job_id = job.id if job is not None else None
        answer = "duplicate" if row is None else row.status
    if job_id is not None:
        job_queue().enqueue_quietly(job_id)
    return jsonify(received=True, status=answer), 200
