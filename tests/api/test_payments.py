"""End to end against localstripe: the real stripe SDK, signed webhooks to the app on loopback.

localstripe runs as a separate process (tests/localstripe_server.py); the app is served by
werkzeug on a free loopback port so localstripe can deliver its webhooks to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from identity.tokens import issue_token
from ledger.fund import pledges as fund_pledges
from ledger.fund.models import Donation
from ledger.payments.models import CardPayment, StripeEvent
from ledger.payments.stripe_gateway import StripeGateway, StripeSettings, make_client
from tests import factories
from tests.localstripe_server import WEBHOOK_SECRET, localstripe  # noqa: F401

SECRET_KEY = "sk_test_placefund"


@pytest.fixture
def live(app, database, localstripe):  # noqa: F811
    settings = StripeSettings(
        secret_key=SECRET_KEY,
        publishable_key="pk_test_placefund",
        webhook_secret=WEBHOOK_SECRET,
        api_base=localstripe,
        js_url=f"{localstripe}/js.stripe.com/v3/",
        max_retries=0,  # localstripe ignores idempotency keys: never retry a create against it
    )
    app.extensions["placefund.stripe"] = StripeGateway(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    requests.post(
        f"{localstripe}/_config/webhooks/placefund",
        data={"url": f"{base}/webhooks/stripe", "secret": WEBHOOK_SECRET},
        timeout=5,
    ).raise_for_status()
    with database.session() as s, s.begin():
        company = factories.organisation(s, "company")
        member = factories.user(s, "company_member", company)
        pledge = fund_pledges.record_pledge(
            s, key="e2e:pledge", company_id=company.id, amount=300000, instalments=3
        )
        token = issue_token(s, member, name="e2e")[1]
        manager_token = issue_token(s, factories.manager(s, "NDC"), name="e2e")[1]
        pledge_id = pledge.id
    yield {
        "base": base,
        "pledge_id": pledge_id,
        "auth": {"Authorization": f"Bearer {token}"},
        "manager": {"Authorization": f"Bearer {manager_token}"},
        "stripe": make_client(settings),
        "stripe_base": localstripe,
    }
    requests.delete(f"{localstripe}/_config/webhooks/placefund", timeout=5)
    server.shutdown()
    thread.join(5)


ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """`python -m placefund.cli worker` on the test's database, Stripe at localstripe; stopped
    with SIGTERM (its graceful stop) when the block ends."""

    def __init__(self, database, stripe_base: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
        env.update(
            DATABASE_URL=str(database.engine.url),
            PYTHONPATH=str(ROOT),
            STRIPE_SECRET_KEY=SECRET_KEY,
            STRIPE_PUBLISHABLE_KEY="pk_test_placefund",
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_API_BASE=stripe_base,
            STRIPE_MAX_RETRIES="0",
        )
        self.args = [sys.executable, "-m", "placefund.cli", "worker", "--threads", "1"]
        self.env = env

    def __enter__(self):
        self.log = tempfile.TemporaryFile("w+")  # a file, not a pipe nobody reads
        self.process = subprocess.Popen(
            [*self.args, "--no-seal"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            text=True,
        )
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if exc[0] is not None:  # say why, when the worker is the reason the test failed
            self.log.seek(0)
            print(self.log.read()[-4000:])
        self.log.close()


def _wait_for(database, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.session() as s:
            if predicate(s):
                return True
        time.sleep(0.1)
    return False


def test_card_payment_end_to_end_against_localstripe(live, database):
    base, auth = live["base"], live["auth"]
    url = f"{base}/api/v1/pledges/{live['pledge_id']}/card-payments"
    created = requests.post(url, json={}, headers={**auth, "Idempotency-Key": "pay-1"}, timeout=10)
    assert created.status_code == 201, created.text
    body = created.json()
    pi = body["payment_intent"]
    assert pi.startswith("pi_") and body["client_secret"].startswith(pi)
    assert body["publishable_key"] == "pk_test_placefund"
    assert body["amount"] == {"amount": 100000, "currency": "TWD", "display": "NT$1,000"}
    # A retry with the same Idempotency-Key gives the same PaymentIntent (no second one)
    again = requests.post(url, json={}, headers={**auth, "Idempotency-Key": "pay-1"}, timeout=10)
    assert again.status_code == 201 and again.json()["payment_intent"] == pi

    # The donation page loads Stripe.js from the configured URL
    page = requests.get(f"{base}{body['donation_page']}?lang=en", timeout=10)
    assert page.status_code == 200 and "js.stripe.com/v3/" in page.text
    assert "Content-Security-Policy" in page.headers

    # What Stripe.js does in the browser: attach a card and confirm
    client = live["stripe"]
    client.v1.payment_intents.update(pi, params={"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(pi)

    # localstripe's signed webhook reaches the app, which stores it and queues its job...
    def succeeded(status):
        return lambda s: s.scalar(
            select(func.count())
            .select_from(StripeEvent)
            .where(StripeEvent.type == "payment_intent.succeeded", StripeEvent.status == status)
        )

    assert _wait_for(database, succeeded("received")), "the webhook did not arrive"
    with database.session() as s:  # ...and no worker runs yet: nothing recorded
        assert s.scalar(select(func.count()).select_from(Donation)) == 0
    # A real `placefund worker` starts, finds the job waiting and records the donation
    with Worker(database, live["stripe_base"]):
        assert _wait_for(database, succeeded("applied"), timeout=60), "the job did not run"
    # ... and the page's redirect sees the same payment: still one donation
    done = requests.get(f"{base}/donate/complete?payment_intent={pi}", timeout=10)
    assert done.status_code == 200 and 'data-status="succeeded"' in done.text
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Donation)) == 1
        cp = s.scalars(select(CardPayment).where(CardPayment.payment_intent_id == pi)).one()
        assert cp.status == "succeeded" and cp.charge_id.startswith("ch_")

    donations = requests.get(f"{base}/api/v1/donations", headers=auth, timeout=10).json()
    assert [d["amount"]["amount"] for d in donations["items"]] == [100000]
    assert donations["items"][0]["channel"] == "stripe"
    stripe_ids = donations["items"][0]["stripe"]
    assert stripe_ids["payment_intent"] == pi and stripe_ids["charge"] == cp.charge_id
    listed = requests.get(url, headers=auth, timeout=10).json()["items"]
    assert listed[0]["payment_intent"] == pi and listed[0]["donation_id"]

    # Reconcile with what localstripe lists (its fees are always 0). localstripe refuses
    # Stripe's ``created`` filter, so list everything through the same gateway and SDK.
    from ledger.reconciliation import runs as reconciliation_runs

    gateway = StripeGateway(
        StripeSettings(SECRET_KEY, None, None, api_base=live["stripe_base"], max_retries=0)
    )
    with database.session() as s, s.begin():
        report = reconciliation_runs.import_stripe_transactions(
            s, gateway.list_balance_transactions(), name="localstripe"
        )
    assert report.lines_new >= 1
    run = requests.post(
        f"{base}/api/v1/reconciliation/runs",
        json={"kind": "stripe", "import_id": report.import_id},
        headers=live["manager"],
        timeout=10,
    ).json()
    assert run["summary"]["matched"] >= 1 and run["summary"]["missing_in_stripe"] == 0


def test_card_payment_without_stripe_configuration_is_a_503(world, app):
    from ledger.payments.stripe_gateway import StripeSettings

    app.extensions["placefund.stripe"] = StripeGateway(StripeSettings(None, None, None))
    response = world.call(
        "company_a", "POST", "/api/v1/pledges/{pledge_a}/card-payments", json={}, key="k1"
    )
    assert response.status_code == 503
    assert response.json["code"] == "stripe_not_configured"


def test_card_payment_rules(world, app):
    from tests.localstripe_server import FixtureGateway

    gw = FixtureGateway({})
    gw.create_payment_intent = lambda params, idempotency_key: {
        "id": "pi_fake",
        "status": "requires_payment_method",
        "client_secret": "pi_fake_secret_x",
        **params,
    }
    app.extensions["placefund.stripe"] = gw
    path = "/api/v1/pledges/{pledge_a}/card-payments"
    # Whole dollars only; not more than is outstanding; only the pledging company
    assert (
        world.call("company_a", "POST", path, json={"amount": 100050}, key="a").status_code == 422
    )
    assert (
        world.call("company_a", "POST", path, json={"amount": 600000}, key="b").status_code == 422
    )
    assert world.call("company_b", "POST", path, json={}, key="c").status_code == 404
    assert world.call("ndc", "POST", path, json={}, key="d").status_code == 403
    ok = world.call("company_a", "POST", path, json={}, key="e")
    assert ok.status_code == 201
    # The next instalment still due: 1,000,000 in two, 500,000 already paid by bank
    assert ok.json["amount"]["amount"] == 500000
    conflict = world.call("company_a", "POST", path, json={"amount": 100000}, key="e")
    assert conflict.status_code == 409
