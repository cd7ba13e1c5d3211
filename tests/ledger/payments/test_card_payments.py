"""Payment services without HTTP: retries and backoff, forward-only status, instalments."""

from __future__ import annotations

import datetime as dt

import pytest
import stripe

from foundation.errors import IdempotencyConflict, InvalidAmount, InvalidState
from ledger.fund import common, donations, pledges, virtual_accounts
from ledger.payments import card_payments
from ledger.payments.models import CardPayment
from ledger.payments.stripe_gateway import (
    StripeRefused,
    StripeSettings,
    StripeUnavailable,
    make_client,
    with_retries,
)
from tests import factories
from tests.factories import tx


def test_transient_stripe_errors_are_retried_with_backoff_then_reported(caplog):
    sleeps: list[float] = []
    calls = iter([stripe.APIConnectionError("timeout"), stripe.RateLimitError("slow down"), "ok"])

    def call():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert with_retries(call, what="test", attempts=4, backoff=0.1, sleep=sleeps.append) == "ok"
    # Exponential backoff with jitter: the n-th wait is backoff * 2**n times 0.5 to 1.5
    assert len(sleeps) == 2
    for n, waited in enumerate(sleeps):
        assert 0.1 * 2**n * 0.5 <= waited <= 0.1 * 2**n * 1.5

    def down():
        raise stripe.APIError("server error", http_status=502)

    with pytest.raises(StripeUnavailable):
        with_retries(down, what="retrieve pi_x", attempts=3, backoff=0, sleep=sleeps.append)
    assert "failed after 3 attempts" in caplog.text


def test_client_errors_are_not_retried():
    attempts = []

    def refused():
        attempts.append(1)
        raise stripe.InvalidRequestError("No such payment_intent", "id", http_status=404)

    with pytest.raises(StripeRefused):
        with_retries(refused, what="retrieve", attempts=4, backoff=0, sleep=lambda _s: None)
    assert len(attempts) == 1


def test_settings_and_client_from_environment():
    settings = StripeSettings.from_env(
        {
            "STRIPE_SECRET_KEY": "sk_test_1",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_1",
            "STRIPE_WEBHOOK_SECRET": "whsec_1",
            "STRIPE_API_BASE": "http://127.0.0.1:9/",
            "STRIPE_JS_URL": "http://127.0.0.1:9/js.stripe.com/v3/",
        }
    )
    assert settings.api_base == "http://127.0.0.1:9/" and settings.js_url.endswith("/v3/")
    assert isinstance(make_client(settings), stripe.StripeClient)
    assert StripeSettings.from_env({}).js_url == "https://js.stripe.com/v3/"


def test_card_payment_amounts_follow_the_instalments(session):
    with tx(session):
        company = factories.organisation(session, "company")
        pledge = pledges.record_pledge(
            session,
            key="p",
            company_id=company.id,
            amount=300_000,
            instalments=3,
            pledged_on=dt.date(2026, 11, 1),
        )
        first = card_payments.start_card_payment(session, pledge_id=pledge.id, request_key="k1")
        assert (first.amount, first.status) == (100_000, "creating")
        assert (
            card_payments.start_card_payment(session, pledge_id=pledge.id, request_key="k1")
            is first
        )
        with pytest.raises(IdempotencyConflict):
            card_payments.start_card_payment(
                session, pledge_id=pledge.id, request_key="k1", amount=200_000
            )
        with pytest.raises(InvalidAmount):
            card_payments.start_card_payment(
                session, pledge_id=pledge.id, request_key="k2", amount=100_001
            )
        params = card_payments.payment_intent_params(first)
        assert params["amount"] == 100_000 and params["currency"] == "twd"
        assert params["metadata"] == {
            "pledge_id": str(pledge.id),
            "company_id": str(company.id),
            "card_payment_id": str(first.id),
        }
        donations.record_donation(
            session, key="bank", channel="bank_transfer", amount=150_000, pledge_id=pledge.id
        )
        # Half of the second instalment is paid: the next card payment is the other half
        second = card_payments.start_card_payment(session, pledge_id=pledge.id, request_key="k3")
        assert second.amount == 50_000
        donations.record_donation(
            session, key="bank2", channel="bank_transfer", amount=150_000, pledge_id=pledge.id
        )
        with pytest.raises(InvalidState):
            card_payments.start_card_payment(session, pledge_id=pledge.id, request_key="k4")
    assert pledge.virtual_account == virtual_accounts.generate(pledge.id, common.va_scheme())


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        (["requires_payment_method", "requires_action", "succeeded"], "succeeded"),
        (["succeeded", "processing", "failed", "canceled"], "succeeded"),
        (["failed", "processing", "succeeded"], "succeeded"),
        (["processing", "requires_action"], "processing"),
        (["canceled", "succeeded"], "canceled"),
    ],
)
def test_status_only_moves_forward(seen, expected):
    payment = CardPayment(status="creating")
    for status in seen:
        card_payments._advance(payment, status)
    assert payment.status == expected


def test_taiwan_dates():
    assert card_payments.tw_date(1795143600) == dt.date(2026, 11, 20)
    assert card_payments.tw_date(1795104000 - 1) == dt.date(2026, 11, 19)  # 23:59:59 in Taipei
    assert card_payments.tw_date(1795104000) == dt.date(2026, 11, 20)  # midnight in Taipei
