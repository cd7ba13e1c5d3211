"""Signed but malformed Stripe events: each is a 400 problem and nothing is stored; a
well-formed event Stripe redelivers any number of times is stored once."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from ledger.payment_models import StripeEvent
from tests.api.test_webhooks import build_stripe_world
from tests.localstripe_server import sign


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
    from placefund.app import create_app
    from placefund.config import Settings

    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="t"), database=pg)
    app.config["TESTING"] = True
    world = build_stripe_world(pg, app, app.test_client())
    for _ in range(2):
        r = _deliver(world, MALFORMED[name])
        assert r.status_code == 400 and r.json["code"] == "malformed_event"
    assert _stored(pg) == 0
