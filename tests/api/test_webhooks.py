"""Stripe webhooks with signed, real-shaped fixtures: fees, USD settlement, refunds, disputes,
payouts; bad signatures, duplicates, replays and out-of-order deliveries. Signed but
malformed events: each is a 400 problem and nothing is stored; a well-formed event Stripe
redelivers any number of times is stored once.

The webhook stores an event and queues a ``stripe_event`` job; ``StripeWorld.deliver_all``
runs the queued jobs after each delivery (tests.job_helpers.run_jobs, the worker's own
Runner) and reports the status the event was left in. What the job itself does (retries,
Stripe down, duplicate runs, the sync) is tested in tests/jobs/kinds/test_stripe.py."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from sqlalchemy import func, select

from identity.tokens import issue_token
from jobs.models import Job
from ledger.books import reading
from ledger.books.models import Entry
from ledger.fund import pledges as fund_pledges
from ledger.fund.models import Donation
from ledger.payments import card_payments
from ledger.payments.models import CardPayment, StripeEvent
from tests import factories
from tests.job_helpers import close_queue, run_jobs
from tests.localstripe_server import FixtureGateway, load_scenario, sign

PIS = {"pi_3QxFx1": 100000, "pi_3QxFx2": 200000, "pi_3QxFx5": 300000, "pi_3QxFx7": 100000}


class StripeWorld:
    def __init__(self, database, app, client, gateway, events, ids, token):
        self.database = database
        self.app = app
        self.client = client
        self.gateway = gateway
        self.events = {e["id"]: e for e in events}
        self.ids = ids
        self.token = token

    def deliver(self, event_id, *, timestamp=None, secret=None, body=None):
        payload = body if body is not None else json.dumps(self.events[event_id]).encode()
        kwargs = {"timestamp": timestamp}
        if secret:
            kwargs["secret"] = secret
        return self.client.post(
            "/webhooks/stripe",
            data=payload,
            headers={"Stripe-Signature": sign(payload, **kwargs)},
            content_type="application/json",
        )

    def refund_status(self, status):
        self.gateway.objects["re_3QxFx6"]["status"] = status

    def stored_status(self, event_id):
        with self.database.session() as s:
            return s.scalar(select(StripeEvent.status).where(StripeEvent.event_id == event_id))

    def settle(self, event_id):
        """Deliver one event, run the jobs it queued, and say what became of it."""
        response = self.deliver(event_id)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] in ("received", "ignored", "duplicate")
        run_jobs(self.app)
        return self.stored_status(event_id)

    def deliver_all(self, order):
        out = {}
        for eid in order:
            if eid == "evt_1QxFx10":
                self.refund_status("pending")
            if eid == "evt_1QxFx11":
                self.refund_status("failed")
            out[eid] = self.settle(eid)
        return out

    def state(self):
        with self.database.session() as s:
            keys = set(s.scalars(select(Entry.idempotency_key)))

            def bal(code):
                try:
                    return reading.balance(s, code)
                except Exception:
                    return 0

            return {
                "keys": {k for k in keys if k.startswith("stripe:")},
                "clearing_usd": bal("assets:stripe:clearing:USD"),
                "bank_usd": bal("assets:bank:main:USD"),
                "fees_usd": bal("expense:fees:processor:USD"),
                "refunded": dict(
                    s.execute(
                        select(CardPayment.payment_intent_id, Donation.refunded_amount).join(
                            Donation, Donation.id == CardPayment.donation_id
                        )
                    ).all()
                ),
                "balanced": reading.trial_balance(s).balanced,
            }


@pytest.fixture
def stripe_world(database, app, client):
    return build_stripe_world(database, app, client)


@pytest.fixture
def stripe_world_pg(pg):
    from foundation.settings import Settings
    from placefund.app import create_app

    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="t"), database=pg)
    app.config["TESTING"] = True
    yield build_stripe_world(pg, app, app.test_client())
    close_queue(app)


def build_stripe_world(database, app, client):
    scenario = load_scenario()
    gateway = FixtureGateway(scenario["objects"], scenario["events"])
    app.extensions["placefund.stripe"] = gateway
    day = dt.date(2026, 11, 19)
    with database.session() as s, s.begin():
        company = factories.organisation(s, "company")
        member = factories.user(s, "company_member", company)
        pledge = fund_pledges.record_pledge(
            s,
            key="t:pledge",
            company_id=company.id,
            amount=700000,
            instalments=[(day + dt.timedelta(days=30 * i), a) for i, a in enumerate(PIS.values())],
            pledged_on=day - dt.timedelta(days=1),
        )
        for n, (pi, amount) in enumerate(PIS.items(), start=1):
            cp = card_payments.start_card_payment(
                s, pledge_id=pledge.id, request_key=f"t:{n}", amount=amount
            )
            card_payments.attach_payment_intent(
                s, cp.id, {"id": pi, "status": "requires_confirmation"}
            )
        token = issue_token(s, member, name="t")[1]
        ids = {"pledge": pledge.id, "company": company.id}
    return StripeWorld(database, app, client, gateway, scenario["events"], ids, token)


IN_ORDER = [f"evt_1QxFx{n:02d}" for n in range(1, 15)]
FINAL = {"clearing_usd": 7647, "bank_usd": 5966, "fees_usd": 121 + 213 + 303 + 1500}


def _count(database, model):
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_bad_or_missing_signature_is_refused_and_nothing_is_stored(stripe_world):
    assert stripe_world.deliver("evt_1QxFx01", secret="whsec_wrong").status_code == 400
    payload = json.dumps(stripe_world.events["evt_1QxFx01"]).encode()
    missing = stripe_world.client.post("/webhooks/stripe", data=payload)
    assert missing.status_code == 400
    assert missing.mimetype == "application/problem+json"
    # A body changed after signing (amount doubled) fails verification
    tampered = payload.replace(b'"amount": 100000', b'"amount": 200000')
    header = sign(payload)
    response = stripe_world.client.post(
        "/webhooks/stripe", data=tampered, headers={"Stripe-Signature": header}
    )
    assert response.status_code == 400
    assert _count(stripe_world.database, StripeEvent) == 0
    assert _count(stripe_world.database, Donation) == 0


def test_a_replayed_delivery_outside_the_tolerance_is_refused(stripe_world):
    old = int(time.time()) - 301
    assert stripe_world.deliver("evt_1QxFx01", timestamp=old).status_code == 400
    assert stripe_world.deliver("evt_1QxFx01").status_code == 200


def test_the_whole_scenario_in_order_posts_fees_fx_refunds_disputes_and_payouts(stripe_world):
    statuses = stripe_world.deliver_all(IN_ORDER)
    assert statuses["evt_1QxFx14"] == "ignored"  # customer.created: not acted on, stored
    assert statuses["evt_1QxFx13"] == "ignored"  # a payout that failed before being paid
    assert statuses["evt_1QxFx07"] == "ignored"  # withdrawal already posted on dispute.created
    assert statuses["evt_1QxFx11"] == "applied"  # the failed refund is reversed
    state = stripe_world.state()
    assert {k: state[k] for k in FINAL} == FINAL
    assert state["balanced"]
    assert state["refunded"] == {"pi_3QxFx1": 100000, "pi_3QxFx2": 0, "pi_3QxFx5": 0}
    assert state["keys"] == {
        "stripe:pi:pi_3QxFx1",
        "stripe:pi:pi_3QxFx2",
        "stripe:pi:pi_3QxFx5",
        "stripe:refund:re_3QxFx3",
        "stripe:payout:po_1QxFxPayout",
        "stripe:dispute:dp_1QxFxDisp:funds_withdrawn",
        "stripe:dispute:dp_1QxFxDisp:funds_reinstated",
        "stripe:refund:re_3QxFx6",
        "stripe:refund_failed:re_3QxFx6",
    }
    with stripe_world.database.session() as s:
        donation = s.scalars(
            select(Donation)
            .join(CardPayment, CardPayment.donation_id == Donation.id)
            .where(CardPayment.payment_intent_id == "pi_3QxFx1")
        ).one()
        assert (donation.gross_amount, donation.currency) == (100000, "TWD")
        assert (donation.settlement_gross, donation.fee_amount, donation.net_amount) == (
            3150,
            121,
            3029,
        )
        assert donation.settlement_currency == "USD"
        assert donation.exchange_rate is not None
        refs = s.get(Entry, donation.entry_id).refs
        assert refs == {
            "payment_intent": "pi_3QxFx1",
            "charge": "ch_3QxFx1",
            "balance_transaction": "txn_3QxFx1",
        }
        declined = s.scalars(
            select(CardPayment).where(CardPayment.payment_intent_id == "pi_3QxFx7")
        ).one()
        assert declined.status == "failed" and "insufficient" in declined.last_error
        # Each currency balances on its own through the exchange accounts
        assert reading.balance(s, "net_assets:exchange:USD") != 0
    # The company sees its card payments with their Stripe ids, and the donations
    auth = {"Authorization": f"Bearer {stripe_world.token}"}
    listed = stripe_world.client.get(
        f"/api/v1/pledges/{stripe_world.ids['pledge']}/card-payments", headers=auth
    ).json["items"]
    paid = {p["payment_intent"]: p for p in listed if p["status"] == "succeeded"}
    assert paid["pi_3QxFx1"]["charge"] == "ch_3QxFx1"
    assert paid["pi_3QxFx1"]["balance_transaction"] == "txn_3QxFx1"
    donations = stripe_world.client.get("/api/v1/donations?channel=stripe", headers=auth).json
    assert len(donations["items"]) == 3
    assert {d["id"] for d in donations["items"]} == {p["donation_id"] for p in paid.values()}


def test_duplicate_deliveries_answer_at_once_and_change_nothing(stripe_world):
    stripe_world.deliver_all(IN_ORDER)
    before = stripe_world.state()
    entries = _count(stripe_world.database, Entry)
    for eid in IN_ORDER:
        response = stripe_world.deliver(eid)
        assert response.status_code == 200
        assert response.get_json()["status"] == "duplicate"
    assert stripe_world.state() == before
    assert _count(stripe_world.database, Entry) == entries
    assert _count(stripe_world.database, StripeEvent) == len(IN_ORDER)
    # One job per event acted on (customer.created needs none), none for the duplicates
    assert _count(stripe_world.database, Job) == len(IN_ORDER) - 1


def test_out_of_order_delivery_reaches_the_same_books(stripe_world):
    order = [
        "evt_1QxFx12",
        "evt_1QxFx05",
        "evt_1QxFx02",
        "evt_1QxFx09",  # dispute closed (won) before its withdrawal and reinstatement
        "evt_1QxFx08",
        "evt_1QxFx07",
        "evt_1QxFx06",
        "evt_1QxFx01",
        "evt_1QxFx03",
        "evt_1QxFx04",
        "evt_1QxFx13",
        "evt_1QxFx14",
    ]
    statuses = stripe_world.deliver_all(order)
    assert statuses["evt_1QxFx09"] == "applied"
    assert statuses["evt_1QxFx08"] == statuses["evt_1QxFx07"] == statuses["evt_1QxFx06"]
    assert statuses["evt_1QxFx06"] == "ignored"
    # The refund that failed is seen failed on first sight: never posted, nothing to reverse
    stripe_world.refund_status("failed")
    assert stripe_world.settle("evt_1QxFx11") == "ignored"
    assert stripe_world.settle("evt_1QxFx10") == "ignored"
    state = stripe_world.state()
    assert {k: state[k] for k in FINAL} == FINAL
    assert state["balanced"]


def test_a_late_payment_failed_never_undoes_a_success(stripe_world):
    # Stripe's late payment_failed for a PaymentIntent that has since succeeded
    stripe_world.events["evt_late"] = {
        **stripe_world.events["evt_1QxFx12"],
        "id": "evt_late",
        "data": {"object": {**stripe_world.events["evt_1QxFx01"]["data"]["object"]}},
    }
    stripe_world.settle("evt_1QxFx01")
    assert stripe_world.settle("evt_late") == "ignored"
    with stripe_world.database.session() as s:
        cp = s.scalars(
            select(CardPayment).where(CardPayment.payment_intent_id == "pi_3QxFx1")
        ).one()
        assert cp.status == "succeeded"
        assert card_payments._advance(cp, "requires_payment_method") is False


def test_an_event_that_cannot_apply_yet_is_kept_and_retried(stripe_world):
    # The payout arrives before the charges it settles: the clearing account cannot go
    # negative, so it waits (stored as needs_attention) and applies on redelivery or sync.
    assert stripe_world.settle("evt_1QxFx04") == "needs_attention"
    stripe_world.deliver_all(["evt_1QxFx01", "evt_1QxFx02", "evt_1QxFx03"])
    # The redelivery queues it again (answered "received", not "duplicate")
    assert stripe_world.deliver("evt_1QxFx04").get_json()["status"] == "received"
    run_jobs(stripe_world.app)
    assert stripe_world.stored_status("evt_1QxFx04") == "applied"
    assert stripe_world.state()["bank_usd"] == 5966


def test_redirect_and_webhook_record_the_payment_once(stripe_world):
    page = stripe_world.client.get("/donate/complete?payment_intent=pi_3QxFx1&lang=en")
    assert page.status_code == 200
    assert b'data-status="succeeded"' in page.data
    assert stripe_world.settle("evt_1QxFx01") == "ignored"
    page = stripe_world.client.get("/donate/complete?payment_intent=pi_3QxFx1")
    assert "付款成功".encode() in page.data
    assert _count(stripe_world.database, Donation) == 1
    assert stripe_world.client.get("/donate/complete?payment_intent=pi_unknown").status_code == 404


def test_stripe_down_does_not_matter_to_the_webhook(stripe_world):
    # The webhook never calls Stripe: it stores the event and queues its job
    stripe_world.gateway.down = True
    response = stripe_world.deliver("evt_1QxFx01")
    assert response.status_code == 200
    assert response.get_json()["status"] == "received"
    assert stripe_world.gateway.calls == []
    assert stripe_world.stored_status("evt_1QxFx01") == "received"


def test_sync_applies_what_the_webhooks_missed_idempotently(stripe_world):
    stripe_world.deliver_all(["evt_1QxFx01", "evt_1QxFx02"])  # only two webhooks arrived
    stripe_world.refund_status("failed")
    sessions = stripe_world.database.session
    report = card_payments.sync(sessions, stripe_world.gateway, dt.date(2026, 11, 1))
    assert report.duplicates == 2
    assert report.needs_attention == 0, report.problems
    state = stripe_world.state()
    assert {k: state[k] for k in FINAL} == FINAL
    again = card_payments.sync(sessions, stripe_world.gateway, dt.date(2026, 11, 1))
    assert again.duplicates == len(IN_ORDER) and again.objects_applied == 0
    assert stripe_world.state() == state


@pytest.mark.postgres
def test_scenario_and_concurrent_duplicates_on_postgresql(stripe_world_pg):
    from concurrent.futures import ThreadPoolExecutor

    world = stripe_world_pg
    world.deliver_all(IN_ORDER[:3])
    # The same event delivered four times at once: one stores it, the others are duplicates
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _i: world.deliver("evt_1QxFx04"), range(4)))
    statuses = sorted(a.get_json()["status"] for a in answers)
    assert statuses == ["duplicate", "duplicate", "duplicate", "received"]
    with world.database.session() as s:
        jobs = select(func.count()).select_from(Job).where(Job.kind == "stripe_event")
        assert s.scalar(jobs) == 4
    run_jobs(world.app)
    assert world.stored_status("evt_1QxFx04") == "applied"
    world.deliver_all(IN_ORDER[4:])
    state = world.state()
    assert {k: state[k] for k in FINAL} == FINAL
    assert state["balanced"]


def _event(**over) -> dict:
    event = {
        "id": "evt_1Malformed",
        "object": "event",
        "type": "customer.created",
        "created": 1763600000,
        "livemode": False,
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    event.update(over)
    return event


def _body(value) -> bytes:
    return json.dumps(value).encode()


MALFORMED = {
    "array": _body([_event()]),
    "null": b"null",
    "string": _body("evt_1"),
    "empty object": b"{}",
    "no id": _body({k: v for k, v in _event().items() if k != "id"}),
    "no type": _body({k: v for k, v in _event().items() if k != "type"}),
    "numeric id": _body(_event(id=12345)),
    "id too long": _body(_event(id="evt_" + "x" * 252)),
    "id with a space": _body(_event(id="evt 1")),
    "id with NUL": _body(_event(id="evt_\u0000")),
    "type too long": _body(_event(type="a" * 101)),
    "type an object": _body(_event(type={"a": 1})),
    "type with a surrogate": _body(_event(type="customer.\ud800")),
    "created a string": _body(_event(created="yesterday")),
    "created a float": _body(_event(created=1.5)),
    "created true": _body(_event(created=True)),
    "created beyond 64 bits": _body(_event(created=2**63)),
    "created negative": _body(_event(created=-1)),
    "livemode a string": _body(_event(livemode="yes")),
    "no data": _body({k: v for k, v in _event().items() if k != "data"}),
    "data a list": _body(_event(data=[1])),
    "data.object a string": _body(_event(data={"object": "pi_1"})),
    "data.object null": _body(_event(data={"object": None})),
    "handled type without object id": _body(
        _event(type="payment_intent.succeeded", data={"object": {"object": "payment_intent"}})
    ),
    "object id a number": _body(_event(data={"object": {"id": 7}})),
    "object id too long": _body(_event(data={"object": {"id": "x" * 256}})),
    "not UTF-8": b'{"id": "evt_\xff"}',
    "not JSON": b"{'id': 'evt_1'}",
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    "number beyond the digit limit": b'{"id": "evt_1", "created": ' + b"9" * 5000 + b"}",
}


@pytest.fixture
def world(database, app, client):
    return build_stripe_world(database, app, client)


def _deliver(world, payload: bytes):
    return world.client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": sign(payload)},
        content_type="application/json",
    )


def _stored(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(StripeEvent))


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_signed_malformed_event_is_refused_and_nothing_is_stored(world, database, name):
    payload = MALFORMED[name]
    for _ in range(2):  # Stripe's retry gets the same answer, and stores nothing either
        r = _deliver(world, payload)
        assert r.status_code == 400, (name, r.status_code, r.get_data(as_text=True)[:200])
        assert r.mimetype == "application/problem+json"
        assert r.json["code"] == "malformed_event"
    assert _stored(database) == 0


def test_malformed_fields_are_named(world):
    r = _deliver(world, _body(_event(id=1, created="x", data={"object": 3})))
    assert set(r.json["errors"]) == {"id", "created", "data.object"}


def test_a_well_formed_event_redelivered_is_stored_once(world, database):
    payload = _body(_event(id="evt_1Storm", created=None))
    answers = [_deliver(world, payload).json["status"] for _ in range(20)]
    assert answers[0] == "ignored" and set(answers[1:]) == {"duplicate"}
    assert _stored(database) == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "name", ["numeric id", "id too long", "id with NUL", "type too long", "created a string"]
)
def test_malformed_events_on_postgres(pg, name):
    from foundation.settings import Settings
    from placefund.app import create_app

    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="t"), database=pg)
    app.config["TESTING"] = True
    world = build_stripe_world(pg, app, app.test_client())
    for _ in range(2):
        r = _deliver(world, MALFORMED[name])
        assert r.status_code == 400 and r.json["code"] == "malformed_event"
    assert _stored(pg) == 0


def test_the_webhook_lag_of_each_event_is_counted_once_received_and_once_settled(stripe_world):
    from tests.web.test_metrics import scrape, value

    lag = "placefund_stripe_event_lag_seconds_count"
    before = scrape(stripe_world.client)
    stripe_world.deliver_all(IN_ORDER)
    for eid in IN_ORDER[:3]:  # duplicates: nothing stored, nothing counted
        assert stripe_world.deliver(eid).get_json()["status"] == "duplicate"
    after = scrape(stripe_world.client)

    def added(step):
        return value(after, lag, step=step, via="webhook") - value(
            before, lag, step=step, via="webhook"
        )

    with stripe_world.database.session() as s:
        settled = s.scalar(
            select(func.count())
            .select_from(StripeEvent)
            .where(StripeEvent.status.in_(("applied", "ignored")))
        )
    assert added("received") == len(IN_ORDER)
    assert added("settled") == settled > 0
    # Seconds from Stripe's creation of each event (November's fixtures) to now: days
    total = "placefund_stripe_event_lag_seconds_sum"
    received_seconds = value(after, total, step="received", via="webhook") - value(
        before, total, step="received", via="webhook"
    )
    expected = sum(time.time() - stripe_world.events[eid]["created"] for eid in IN_ORDER)
    assert expected > len(IN_ORDER) * 86400
    assert expected - 60 * len(IN_ORDER) <= received_seconds <= expected
