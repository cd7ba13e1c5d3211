"""The donation page: a company confirms a card payment with Stripe.js (中文 / English).

``GET /donate/<card_payment_id>#<client_secret>``: the page loads Stripe.js from
``STRIPE_JS_URL``, mounts a card field and confirms the PaymentIntent. The client secret
travels in the URL fragment, which browsers never send to a server, so it stays out of
access logs. Stripe then returns the payer to ``/donate/complete?payment_intent=pi_...``,
which re-fetches the PaymentIntent from Stripe and records the donation under the same key
as the webhook: a payment seen by both is recorded once.

Self-contained (no console login, no Babel): the page only shows what the payer already
knows, and the completion step trusts Stripe, not the query string.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, abort, render_template, request

from api.webhooks import gateway
from ledger import payments
from ledger.errors import LedgerError
from ledger.money import format_money
from ledger.payment_models import CardPayment
from placefund.app import db_session

bp = Blueprint("donate", __name__, template_folder="templates")

_PI = re.compile(r"^pi_[A-Za-z0-9_]{1,200}$")

TEXT = {
    "zh-TW": {
        "title": "地方創生基金 信用卡捐款",
        "pledge": "認捐編號",
        "amount": "本期金額",
        "card": "信用卡",
        "pay": "確認付款",
        "paying": "付款處理中…",
        "no_secret": "付款連結不完整，請回到原頁面重新開始。",
        "succeeded": "付款成功，感謝您的捐款！收據將寄送給貴公司。",
        "processing": "付款處理中，完成後會通知您。",
        "failed": "付款未成功，請重試或改用其他卡片。",
        "other": "付款狀態：",
        "other_lang": "English",
    },
    "en": {
        "title": "Place-creation fund: pay by card",
        "pledge": "Pledge",
        "amount": "Amount due now",
        "card": "Card",
        "pay": "Pay",
        "paying": "Processing…",
        "no_secret": "This payment link is incomplete; please start again.",
        "succeeded": "Payment received. Thank you for your donation!",
        "processing": "Your payment is processing; we will let you know.",
        "failed": "The payment did not go through; please try again or use another card.",
        "other": "Payment status: ",
        "other_lang": "中文",
    },
}


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" else "zh-TW"


def _csp(nonce: str, js_url: str) -> str:
    js = urlsplit(js_url)
    origin = f"{js.scheme}://{js.netloc}" if js.netloc else "'self'"
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}' {origin}; "
        f"frame-src {origin} https://*.stripe.com; connect-src 'self' {origin} "
        "https://api.stripe.com; style-src 'self' 'unsafe-inline'; img-src 'self' data: "
        "https://*.stripe.com; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


@bp.get("/donate/<int:card_payment_id>")
def pay(card_payment_id: int):
    """The payment page for one card payment attempt."""
    session = db_session()
    payment = session.get(CardPayment, card_payment_id)
    if payment is None or payment.payment_intent_id is None:
        abort(404)
    settings = gateway().settings
    lang = _lang()
    nonce = secrets.token_urlsafe(16)
    html = render_template(
        "donate/pay.html",
        t=TEXT[lang],
        lang=lang,
        nonce=nonce,
        payment=payment,
        amount=format_money(payment.amount, payment.currency),
        js_url=settings.js_url,
        publishable_key=settings.publishable_key or "",
        return_url=request.url_root.rstrip("/") + "/donate/complete?lang=" + lang,
    )
    return html, 200, {"Content-Security-Policy": _csp(nonce, settings.js_url)}


@bp.get("/donate/complete")
def complete():
    """Where Stripe returns the payer: re-read the PaymentIntent and record it (once)."""
    pi_id = request.args.get("payment_intent", "")
    if not _PI.match(pi_id):
        abort(404)
    session = db_session()
    exists = session.query(CardPayment.id).filter_by(payment_intent_id=pi_id).first()
    session.commit()
    if exists is None:
        abort(404)
    lang = _lang()
    try:
        with session.begin():
            payments.sync_payment_intent(session, gateway(), pi_id)
    except LedgerError:
        pass  # the webhook or `placefund stripe sync` records it; show what we know
    payment = session.query(CardPayment).filter_by(payment_intent_id=pi_id).one()
    t = TEXT[lang]
    message = t.get(payment.status) or f"{t['other']}{payment.status}"
    nonce = secrets.token_urlsafe(16)
    html = render_template(
        "donate/complete.html",
        t=t,
        lang=lang,
        payment=payment,
        amount=format_money(payment.amount, payment.currency),
        message=message,
    )
    return html, 200, {"Content-Security-Policy": _csp(nonce, gateway().settings.js_url)}
