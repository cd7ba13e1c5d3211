"""Stripe in tests: localstripe as a separate process, and a fixture-backed gateway.

* ``localstripe`` (session fixture): starts localstripe on a free loopback port (a small
  wrapper binds 127.0.0.1 and never loads the pickle another run left behind), waits until
  it answers, and stops it at the end. The real stripe SDK talks to it.
* ``FixtureGateway``: the app's ``StripeGateway`` with the network replaced by a dict of
  real-shaped Stripe objects (tests/fixtures/stripe/scenario.json), for what localstripe
  lacks: fees, another settlement currency, refunds, disputes and payouts.
* ``sign``: a Stripe-Signature header, exactly as Stripe computes it.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ledger.payments.stripe_gateway import StripeGateway, StripeSettings, StripeUnavailable

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
WEBHOOK_SECRET = "whsec_test_placefund"

WRAPPER = """
import sys
from aiohttp import web
import localstripe.server as server
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def load_scenario() -> dict:
    return json.loads((FIXTURES / "scenario.json").read_text())


class FixtureGateway(StripeGateway):
    """StripeGateway answering from a dict of Stripe objects (mutable, to move time on)."""

    def __init__(self, objects: dict, events: list | None = None):
        super().__init__(
            StripeSettings(
                secret_key="sk_test_fixture",
                publishable_key="pk_test_fixture",
                webhook_secret=WEBHOOK_SECRET,
                js_url="https://js.stripe.com/v3/",
            )
        )
        self.objects = copy.deepcopy(objects)
        self.events = list(events or [])
        self.down = False
        self.calls: list[str] = []

    def _get(self, object_id: str) -> dict:
        self.calls.append(object_id)
        if self.down:
            raise StripeUnavailable("Stripe is unavailable (test).")
        return copy.deepcopy(self.objects[object_id])

    def retrieve_payment_intent(self, pi_id):
        return self._get(pi_id)

    def retrieve(self, kind, object_id):
        return self._get(object_id)

    def list_refunds(self, charge_id):
        return [
            copy.deepcopy(o)
            for o in self.objects.values()
            if o["object"] == "refund" and o["charge"] == charge_id
        ]

    def list_events(self, created_gte, types=None):
        return [e for e in self.events if e["created"] >= created_gte]

    def list_balance_transactions(self, *, payout=None, created_gte=None, created_lt=None):
        out = []
        for o in self.objects.values():
            if o["object"] != "balance_transaction":
                continue
            if created_gte is not None and o["created"] < created_gte:
                continue
            if created_lt is not None and o["created"] >= created_lt:
                continue
            out.append(copy.deepcopy(o))
        return out


@pytest.fixture(scope="session")
def localstripe():
    """A localstripe server on a free loopback port: its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"{base}/v1/balance", auth=("sk_test_x", ""), timeout=1)
            break
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("localstripe did not start")
            time.sleep(0.1)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def offline_gateway() -> FixtureGateway:
    """A configured gateway that creates PaymentIntents without any network (API fuzzing)."""
    gateway = FixtureGateway({})
    counter = iter(range(1, 10**9))

    def create_payment_intent(params, idempotency_key):
        pi = {
            "id": f"pi_offline{next(counter)}",
            "object": "payment_intent",
            "status": "requires_payment_method",
            **params,
        }
        pi["client_secret"] = f"{pi['id']}_secret_offline"
        gateway.objects[pi["id"]] = pi
        return copy.deepcopy(pi)

    gateway.create_payment_intent = create_payment_intent
    return gateway
