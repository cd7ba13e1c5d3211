"""The donation page: a company confirms a card payment with Stripe.js (中文 / English).

``GET /donate/<card_payment_id>#<client_secret>``: the page loads Stripe.js from
``STRIPE_JS_URL``, mounts a card field and confirms the PaymentIntent. The client secret
travels in the URL fragment, which browsers never send to a server, so it stays out of
access logs. Stripe then returns the payer to ``/donate/complete?payment_intent=pi_...``,
which re-fetches the PaymentIntent from Stripe and records the donation under the same key
as the webhook: a payment seen by both is recorded once.

When Stripe.js cannot load (a blocked script, no network, a bad key) the page says so and
offers the pledge's bank transfer instead, with a link back to the company page; it never
shows an empty card box nor submits itself. ``/donate/complete`` says in a sentence, in the
payer's language, where the payment stands: never a raw Stripe status.

Self-contained (no console login, no Babel): the page only shows what the payer already
knows, and the completion step trusts Stripe, not the query string.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, render_template, request, url_for

from foundation.errors import LedgerError
from ledger.money import format_money
from ledger.payments import card_payments
from ledger.payments.models import PAYMENT_RANK, CardPayment
from ledger.payments.stripe_gateway import StripeGateway
from web.request import db_session

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
        "loading": "正在載入信用卡付款欄位…",
        "no_secret": "付款連結不完整，請回到企業頁面重新開始。",
        "no_script": "信用卡付款需要啟用瀏覽器的 JavaScript。您也可以改用銀行轉帳付款。",
        "unavailable": "無法載入信用卡付款元件（Stripe），可能是網路連線或瀏覽器的擋廣告"
        "功能擋住了它，因此現在無法以信用卡付款，也沒有向您收取任何費用。"
        "您可以改用銀行轉帳，或稍後再試一次。",
        "bank_transfer": "改用銀行轉帳付款",
        "back": "回到企業頁面",
        "succeeded": "付款成功，感謝您的捐款！收據會出現在企業頁面。",
        "processing": "付款處理中，完成後收據會出現在企業頁面。",
        "requires_capture": "付款已經授權，正在請款，完成後收據會出現在企業頁面。",
        "failed": "付款未成功，沒有向您收費。請重試、改用其他卡片，或改用銀行轉帳。",
        "requires_payment_method": "付款尚未完成：還沒有收到可用的卡片，沒有向您收費。"
        "請重試，或改用銀行轉帳。",
        "requires_confirmation": "付款尚未確認，沒有向您收費。請重試，或改用銀行轉帳。",
        "requires_action": "付款尚未完成：發卡銀行需要您再驗證一次（例如簡訊驗證碼）。"
        "請重試，或改用銀行轉帳。",
        "canceled": "這筆付款已經取消，沒有向您收費。",
        "creating": "付款尚未開始，沒有向您收費。請回到企業頁面重新開始。",
        "unknown": "目前無法確認這筆付款的狀態。請稍後到企業頁面查看，如已扣款，收據會出現在那裡。",
        "other_lang": "English",
    },
    "en": {
        "title": "Place-creation fund: pay by card",
        "pledge": "Pledge",
        "amount": "Amount due now",
        "card": "Card",
        "pay": "Pay",
        "paying": "Processing…",
        "loading": "Loading the card form…",
        "no_secret": "This payment link is incomplete; please start again from your company page.",
        "no_script": "Paying by card needs JavaScript in your browser. You can pay by bank "
        "transfer instead.",
        "unavailable": "The card form (Stripe) could not be loaded: the network or an ad "
        "blocker in your browser may have stopped it. You cannot pay by card right now, and "
        "nothing has been charged. You can pay by bank transfer instead, or try again later.",
        "bank_transfer": "Pay by bank transfer instead",
        "back": "Back to your company page",
        "succeeded": "Payment received. Thank you for your donation! The receipt will appear "
        "on your company page.",
        "processing": "Your payment is processing; its receipt will appear on your company "
        "page once it is through.",
        "requires_capture": "Your payment is authorised and being collected; its receipt will "
        "appear on your company page.",
        "failed": "The payment did not go through and nothing was charged. Please try again, "
        "use another card, or pay by bank transfer.",
        "requires_payment_method": "The payment is not finished: no usable card was given and "
        "nothing was charged. Please try again, or pay by bank transfer.",
        "requires_confirmation": "The payment was not confirmed and nothing was charged. "
        "Please try again, or pay by bank transfer.",
        "requires_action": "The payment is not finished: your card's bank asks you to verify "
        "it again (for example with a code by text message). Please try again, or pay by "
        "bank transfer.",
        "canceled": "This payment was cancelled; nothing was charged.",
        "creating": "This payment has not started and nothing was charged. Please start again "
        "from your company page.",
        "unknown": "We cannot tell this payment's state right now. Please check your company "
        "page later: if you were charged, the receipt appears there.",
        "other_lang": "中文",
    },
}

#: States in which the payer has nothing more to do; any other is offered the other ways to pay
SETTLED = ("succeeded", "processing", "requires_capture")


def gateway() -> StripeGateway:
    """The app's Stripe gateway, made from its settings by the app factory (the one the
    API's payments and webhook use)."""
    return current_app.extensions["placefund.stripe"]


def status_message(status: str, lang: str) -> str:
    """A sentence for the payer in their language; never the raw Stripe status."""
    t = TEXT[lang]
    return t.get(status) if status in PAYMENT_RANK else t["unknown"]


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


def _alternatives(payment: CardPayment) -> dict[str, str]:
    """Links for a payer whose card payment cannot go on: the pledge's bank transfer page
    and the company page (both in the console, behind its sign-in)."""
    return {
        "bank_transfer_url": url_for("console.bank_transfer", pledge_id=payment.pledge_id),
        "back_url": url_for("console.my_company"),
    }


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
        **_alternatives(payment),
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
        # Read from Stripe first, then record in a short transaction (no lock held meanwhile)
        fetched = card_payments.fetch_payment_intent(gateway(), pi_id)
        with session.begin():
            card_payments.sync_payment_intent(session, fetched, pi_id)
    except LedgerError:
        pass  # the webhook or `placefund stripe sync` records it; show what we know
    payment = session.query(CardPayment).filter_by(payment_intent_id=pi_id).one()
    nonce = secrets.token_urlsafe(16)
    html = render_template(
        "donate/complete.html",
        t=TEXT[lang],
        lang=lang,
        payment=payment,
        amount=format_money(payment.amount, payment.currency),
        message=status_message(payment.status, lang),
        settled=payment.status in SETTLED,
        **_alternatives(payment),
    )
    return html, 200, {"Content-Security-Policy": _csp(nonce, gateway().settings.js_url)}
