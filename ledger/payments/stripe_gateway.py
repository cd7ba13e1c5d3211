"""The one door to Stripe: a StripeClient built from the settings, with retries.

Everything the payment services need from Stripe goes through ``StripeGateway``, which hands
back plain dicts (never StripeObjects), so the services can be tested against fixtures with
``FixtureGateway``-style fakes that implement the same methods.

Configuration: ``StripeSettings`` (foundation/settings.py, read once from ``STRIPE_SECRET_KEY``,
``STRIPE_PUBLISHABLE_KEY``, ``STRIPE_WEBHOOK_SECRET``, ``STRIPE_API_BASE`` (point the SDK at
localstripe or a proxy), ``STRIPE_JS_URL`` (where the donation page loads Stripe.js from),
``STRIPE_MAX_RETRIES`` and ``STRIPE_TIMEOUT`` (seconds)); the app holds its gateway in
``app.extensions["placefund.stripe"]``, a command builds one from its settings.

Retries: connection errors, timeouts, rate limits and Stripe 5xx are retried with
exponential backoff and jitter, each attempt logged; when they run out the caller gets
``StripeUnavailable`` (a 503 problem document at the API). Create calls carry our own
idempotency key, so a retried create never makes a second PaymentIntent on real Stripe.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import stripe

from foundation.errors import LedgerError
from foundation.settings import DEFAULT_JS_URL, StripeSettings  # noqa: F401  (re-exported)

log = logging.getLogger("placefund.stripe")

T = TypeVar("T")


class StripeUnavailable(LedgerError):
    """Stripe could not be reached (or kept failing) after our retries."""

    status = 503
    code = "stripe_unavailable"


class StripeNotConfigured(LedgerError):
    """The Stripe keys are not set (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET)."""

    status = 503
    code = "stripe_not_configured"


class StripeRefused(LedgerError):
    """Stripe answered with a client error (4xx) that retrying will not fix."""

    status = 502
    code = "stripe_refused"


def make_client(settings: StripeSettings) -> stripe.StripeClient:
    """A StripeClient for these settings. The SDK's own retries are off: we retry (and log)."""
    if not settings.secret_key:
        raise StripeNotConfigured("Card payments are not configured (STRIPE_SECRET_KEY).")
    kwargs: dict[str, Any] = {
        "http_client": stripe.RequestsClient(timeout=settings.timeout),
        "max_network_retries": 0,
    }
    if settings.api_base:
        kwargs["base_addresses"] = {"api": settings.api_base.rstrip("/")}
    return stripe.StripeClient(settings.secret_key, **kwargs)


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    status = getattr(exc, "http_status", None)
    return isinstance(exc, stripe.StripeError) and (status is None or status >= 500)


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    attempts: int = 4,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; retry transient Stripe failures with exponential backoff and jitter.

    A client error (4xx other than 429) is not retried: it raises ``StripeRefused``. When
    every attempt failed, raises ``StripeUnavailable``; each failure is logged.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except stripe.StripeError as exc:
            if not _retryable(exc):
                log.warning("stripe refused %s: %s", what, exc.user_message or exc)
                raise StripeRefused(
                    f"Stripe refused {what}: {exc.user_message or type(exc).__name__}."
                ) from exc
            if attempt == attempts:
                log.error("stripe %s failed after %d attempts: %s", what, attempts, exc)
                raise StripeUnavailable(
                    f"Stripe is unavailable ({what} failed {attempts} times); retry later."
                ) from exc
            delay = backoff * 2 ** (attempt - 1) * (0.5 + random.random())
            log.warning(
                "stripe %s attempt %d/%d failed (%s); retrying in %.2fs",
                what,
                attempt,
                attempts,
                type(exc).__name__,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _plain(obj) -> dict:
    return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)


class StripeGateway:
    """Stripe as the services see it: plain dicts in and out, retries built in."""

    def __init__(
        self,
        settings: StripeSettings,
        client: stripe.StripeClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        return with_retries(
            call,
            what=what,
            attempts=self.settings.max_retries + 1,
            backoff=self.settings.backoff,
            sleep=self._sleep,
        )

    # --- webhooks ------------------------------------------------------------------------

    def construct_event(self, payload: bytes, signature: str | None) -> object:
        """Verify a webhook's signature on the raw body (300 s tolerance); the body parsed.

        Raises ``stripe.SignatureVerificationError`` for a bad signature and ``ValueError``
        for a body that is not UTF-8 JSON. The result is whatever JSON was signed (an
        array, null...): the SDK's own constructor fails on anything but an object, so the
        caller checks the event's shape (api/webhooks.py).
        """
        secret = self.settings.webhook_secret
        if not secret:
            raise StripeNotConfigured("Webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
        if not signature:
            raise stripe.SignatureVerificationError("No Stripe-Signature header", signature)
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=300)
        try:
            return json.loads(payload.decode("utf-8"))
        except RecursionError as exc:  # absurd nesting: not an event either
            raise ValueError("webhook body nested too deeply") from exc

    # --- objects ---------------------------------------------------------------------------

    def create_payment_intent(self, params: dict, idempotency_key: str) -> dict:
        return _plain(
            self._call(
                "create payment intent",
                lambda: self.client.v1.payment_intents.create(
                    params=params, options={"idempotency_key": idempotency_key}
                ),
            )
        )

    def retrieve_payment_intent(self, pi_id: str) -> dict:
        return _plain(
            self._call(
                f"retrieve {pi_id}",
                lambda: self.client.v1.payment_intents.retrieve(
                    pi_id, params={"expand": ["latest_charge"]}
                ),
            )
        )

    def retrieve(self, kind: str, object_id: str) -> dict:
        """Retrieve a charge, refund, dispute, payout or balance transaction by id."""
        service = {
            "charge": self.client.v1.charges,
            "refund": self.client.v1.refunds,
            "dispute": self.client.v1.disputes,
            "payout": self.client.v1.payouts,
            "balance_transaction": self.client.v1.balance_transactions,
        }[kind]
        return _plain(self._call(f"retrieve {object_id}", lambda: service.retrieve(object_id)))

    def list_refunds(self, charge_id: str) -> list[dict]:
        page = self._call(
            f"list refunds of {charge_id}",
            lambda: self.client.v1.refunds.list(params={"charge": charge_id, "limit": 100}),
        )
        return [_plain(r) for r in page.data]

    def _paged(self, what: str, lister: Callable[[dict], Any], params: dict) -> Iterator[dict]:
        """Every item of a Stripe list, following ``has_more`` with ``starting_after``."""
        params = {**params, "limit": 100}
        while True:
            page = self._call(what, lambda p=dict(params): lister(p))
            items = list(page.data)
            yield from (_plain(item) for item in items)
            if not page.has_more or not items:
                return
            params["starting_after"] = items[-1].id

    def list_events(self, created_gte: int, types: list[str] | None = None) -> Iterator[dict]:
        params: dict[str, Any] = {"created": {"gte": created_gte}}
        if types:
            params["types"] = types
        return self._paged("list events", lambda p: self.client.v1.events.list(params=p), params)

    def list_balance_transactions(
        self,
        *,
        payout: str | None = None,
        created_gte: int | None = None,
        created_lt: int | None = None,
    ) -> Iterator[dict]:
        params: dict[str, Any] = {"expand": ["data.source"]}
        if payout:
            params["payout"] = payout
        created = {}
        if created_gte is not None:
            created["gte"] = created_gte
        if created_lt is not None:
            created["lt"] = created_lt
        if created:
            params["created"] = created
        return self._paged(
            "list balance transactions",
            lambda p: self.client.v1.balance_transactions.list(params=p),
            params,
        )
