"""The card donation page when things go wrong: Stripe.js missing, a payment not through."""

from __future__ import annotations

import re

import pytest

from ledger.payments.models import PAYMENT_STATES, CardPayment
from tests.localstripe_server import offline_gateway


def _card_payment(console, status: str, n: int) -> tuple[int, str]:
    """A card payment of company A's pledge in ``status``: (id, payment intent id)."""
    pi = f"pi_state{n}"
    with console.database.session() as s, s.begin():
        payment = CardPayment(
            pledge_id=console.ids["pledge_a"],
            company_id=console.ids["company_a"],
            amount=500_000,
            currency="TWD",
            status=status,
            request_key=f"test:{pi}",
            stripe_idempotency_key=f"test-{pi}",
            payment_intent_id=pi,
        )
        s.add(payment)
        s.flush()
        return payment.id, pi


def _status_text(html: str) -> str:
    match = re.search(r'<p id="status"[^>]*>([^<]*)</p>', html)
    assert match, "no status sentence on the page"
    return match.group(1)


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_the_completion_page_says_a_sentence_never_a_raw_status(console, lang):
    gateway = offline_gateway()
    gateway.down = True  # Stripe unreachable: the page shows what we know
    console.app.extensions["placefund.stripe"] = gateway
    client = console.app.test_client()
    seen = set()
    for n, status in enumerate(PAYMENT_STATES):
        _id, pi = _card_payment(console, status, n)
        page = client.get(f"/donate/complete?payment_intent={pi}&lang={lang}")
        assert page.status_code == 200, status
        sentence = _status_text(page.text)
        # No Stripe word such as requires_payment_method, nor "Payment status: failed"
        assert "_" not in sentence and "status" not in sentence.lower(), (status, sentence)
        assert "狀態：" not in sentence, (status, sentence)
        assert len(sentence) > 10
        if lang == "en":
            assert not re.search(r"[\u4e00-\u9fff]", sentence), sentence
        else:
            assert re.search(r"[\u4e00-\u9fff]", sentence), sentence
        seen.add(sentence)
        settled = status in ("succeeded", "processing", "requires_capture")
        # A payment that did not go through offers the bank transfer; every page links back
        assert ('id="bank-transfer"' in page.text) is not settled, status
        assert 'href="/console/company"' in page.text
    assert len(seen) >= 8  # a sentence of its own for each state, not one catch-all
    rpm = "requires_payment_method"
    _id, pi = _card_payment(console, rpm, 99)
    zh = _status_text(client.get(f"/donate/complete?payment_intent={pi}").text)
    assert zh.startswith("付款尚未完成") and "銀行轉帳" in zh


def test_the_payment_page_is_ready_to_say_stripe_did_not_load(console):
    gateway = offline_gateway()
    console.app.extensions["placefund.stripe"] = gateway
    payment_id, _pi = _card_payment(console, "requires_payment_method", 1)
    page = console.app.test_client().get(f"/donate/{payment_id}")
    assert page.status_code == 200
    html = page.text
    # The card form stays hidden until Stripe.js has mounted its field: never an empty box
    assert re.search(r'<form id="payment-form" hidden>', html)
    assert re.search(r'<div id="unavailable"[^>]*hidden>', html)
    assert "無法載入信用卡付款元件" in html
    bank = f'href="/console/pledges/{console.ids["pledge_a"]}/bank-transfer"'
    assert bank in html and 'href="/console/company"' in html
    assert "typeof window.Stripe" in html
    english = console.app.test_client().get(f"/donate/{payment_id}?lang=en").text
    assert "The card form (Stripe) could not be loaded" in english
