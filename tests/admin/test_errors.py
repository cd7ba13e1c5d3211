"""Errors as people see them: HTML error pages in their language (never the API's JSON) on
the console and the company and business pages, problem documents kept for /api and
/webhooks; ledger and matcher errors translated next to the right field."""

from __future__ import annotations

import inspect

import pytest
from flask_babel import force_locale

import foundation.errors
import ledger.reconciliation.bank_files
import matching.errors
from admin import error_messages, messages, reports
from api import organisations as api_organisations
from foundation.errors import FieldMessage, InsufficientFunds, LedgerError, PeriodClosed
from jobs.kinds.bank_import import FILE_ERRORS
from ledger import listings
from tests.admin.conftest import csrf_token, post_form


def english(c) -> None:
    page = c.get("/console/sign-in")
    c.post("/language", data={"csrf_token": csrf_token(page.text), "lang": "en"})


def html_error(response, status: int):
    assert response.status_code == status, response.text
    assert response.mimetype == "text/html"
    assert '<header class="top">' in response.text  # the console's layout
    request_id = response.headers["X-Request-ID"]
    assert f'<code id="request-id">{request_id}</code>' in response.text
    return response.text


# --- error pages ------------------------------------------------------------------------------


def test_a_missing_console_page_is_an_html_404_in_the_readers_language(console):
    c = console.client("ndc")
    text = html_error(c.get("/console/no-such-page"), 404)
    assert "此頁面不存在。" in text and '<html lang="zh-Hant-TW"' in text
    text = html_error(c.get("/console/disbursements/999999"), 404)
    assert "此頁面不存在。" in text
    english(c)
    text = html_error(c.get("/console/no-such-page"), 404)
    assert "This page does not exist." in text and '<html lang="en"' in text
    # Outside the console too (a mistyped address in a browser)
    html_error(console.client().get("/no-such-page"), 404)


def test_the_wrong_role_gets_an_html_403(console):
    company = console.client("company_a")
    text = html_error(company.get("/console/dashboard"), 403)
    assert "您的角色無法開啟此頁面。" in text
    # The company and business pages the same way
    text = html_error(console.client("ndc").get("/console/company"), 403)
    assert "您的角色無法開啟此頁面。" in text
    html_error(company.get("/console/business"), 403)


def test_a_csrf_failure_is_an_html_400(console):
    c = console.client("ndc")
    text = html_error(c.post(f"/console/organisations/{console.ids['company_a']}/verify"), 400)
    assert "表單已過期" in text
    html_error(console.client().post("/language", data={"lang": "en"}), 400)


def test_an_unexpected_error_is_an_html_500_with_the_request_id(console, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(reports, "monthly_flows", broken)
    c = console.client("ndc")
    response = c.get("/console/dashboard", headers={"X-Request-ID": "req-500-test"})
    text = html_error(response, 500)
    assert "系統發生錯誤，請稍後再試。" in text and "req-500-test" in text
    assert "boom" not in text and "Traceback" not in text
    english(c)
    assert "Something went wrong on our side" in html_error(c.get("/console/dashboard"), 500)
    # The pages keep working afterwards (the session was rolled back)
    monkeypatch.undo()
    assert c.get("/console/dashboard").status_code == 200


def test_a_company_page_error_is_html_too(console, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(reports, "pledge_status", broken)
    html_error(console.client("company_a").get("/console/company"), 500)


def test_a_method_not_allowed_is_html_with_its_allow_header(console):
    response = console.client("ndc").get("/console/sign-out")
    html_error(response, 405)
    assert "POST" in response.headers["Allow"]


def test_the_api_and_the_webhooks_keep_problem_documents(console, monkeypatch):
    c = console.client("ndc")  # a console session changes nothing there
    for response, status in (
        (c.get("/api/v1/no-such-resource"), 404),
        (c.get("/api/v1/disbursements"), 401),
        (c.get("/webhooks/stripe"), 405),
    ):
        assert response.status_code == status
        assert response.mimetype == "application/problem+json"
        assert response.json["request_id"] == response.headers["X-Request-ID"]

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(listings, "public_summary", broken)
    response = c.get("/api/v1/public/summary")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "internal_error"
    # A ledger error in the API stays English and machine-readable
    missing = c.get(
        "/api/v1/organisations/999999",
        headers={"Authorization": f"Bearer {console.tokens['ndc']}"},
    )
    assert missing.status_code == 404 and missing.json["code"] == "not_found"
    assert api_organisations  # the API module is the one serving it


# --- ledger errors in the reader's language -------------------------------------------------


def _codes(module, base) -> set[str]:
    return {
        cls.code
        for _name, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, base) and cls is not base
    }


def test_every_domain_error_code_has_a_translation():
    codes = _codes(foundation.errors, LedgerError) | _codes(
        ledger.reconciliation.bank_files, LedgerError
    )
    codes |= _codes(matching.errors, matching.errors.MatchingError)
    assert codes - set(error_messages.MESSAGES) == set()
    assert set(error_messages.MESSAGES) >= FILE_ERRORS


@pytest.mark.parametrize(
    ("error", "zh", "en"),
    [
        (
            InsufficientFunds(
                "Not enough in assets:bank:main: it holds NT$100 and this needs NT$1,200.",
                account="assets:bank:main",
                available=10000,
                reason="not_enough",
                params={"account": "assets:bank:main", "held": 10000, "needed": 120000},
            ),
            "銀行存款（主帳戶） 餘額不足：現有 NT$100，本筆需要 NT$1,200。",
            "Not enough money in Main bank account: it holds NT$100 and this needs NT$1,200.",
        ),
        (
            PeriodClosed(
                "The books are closed through 2026-01-31; an entry dated 2026-01-15 cannot be "
                "posted.",
                reason="closed_through",
                params={"through": "2026-01-31", "date": "2026-01-15"},
            ),
            "帳簿已結帳至 2026-01-31，日期為 2026-01-15 的分錄無法入帳。",
            "The books are closed through 2026-01-31: nothing dated 2026-01-15 can be posted.",
        ),
        (
            foundation.errors.ApprovalRequired("anything", case="same_institution"),
            "您的機關已核准此撥款案：第二個核准須由其他機關的基金管理人提出。",
            "Your institution has already approved this disbursement",
        ),
        (
            foundation.errors.IdempotencyConflict("Idempotency key 'x' was already used."),
            "此表單先前已以不同內容送出",
            "This form was already sent with other content",
        ),
        (
            foundation.errors.InvalidAmount(
                "Not an amount: 'abc'.", reason="not_an_amount", params={"text": "abc"}
            ),
            "「abc」不是金額。",
            "“abc” is not an amount.",
        ),
        (
            foundation.errors.InvalidState(
                "Disbursement 7 is paid; it cannot be paid.",
                reason="pay_not_approved",
                params={"id": 7, "status": "paid"},
            ),
            "撥款案 7 目前為「已撥款」，無法撥款。",
            "Disbursement 7 is Paid: it cannot be paid.",
        ),
        (
            foundation.errors.NotFound("Project 12 does not exist."),
            "此項目不存在，或您無權檢視。",
            "This item does not exist, or you may not see it.",
        ),
        (
            matching.errors.Infeasible("no way", constraint="min_priority_share"),
            "「優先推動地區最低比例」",
            "the constraint “Minimum share in priority areas”",
        ),
        (
            # No message code of its own: the generic message, never the English detail
            foundation.errors.LedgerError("Something only English knows."),
            "無法完成此要求。",
            "The request could not be carried out.",
        ),
    ],
)
def test_errors_are_translated_with_their_parameters(app, error, zh, en):
    with app.test_request_context():
        with force_locale("zh_Hant_TW"):
            assert zh in messages.message(error)
        with force_locale("en"):
            assert en in messages.message(error)


def test_field_messages_are_translated(app):
    with app.test_request_context(), force_locale("zh_Hant_TW"):
        assert messages.field_message(FieldMessage("required", "required")) == "必填。"
        closed = FieldMessage(
            "on or before the closed date 2026-01-31", "closed_date", date="2026-01-31"
        )
        assert messages.field_message(closed) == "在已結帳日期 2026-01-31 當天或之前。"
        # A message without a code: a generic one in the reader's language, not the English
        assert messages.field_message("something new") == "格式不正確。"


def test_an_invalid_amount_is_shown_next_to_the_amount_in_chinese(console):
    c = console.client("ndc")
    response = post_form(
        c,
        "/console/disbursements/new",
        "/console/disbursements/new",
        {
            "project_id": str(console.ids["project_x"]),
            "kind": "grant",
            "amount": "abc",
            "purpose": "步道",
        },
    )
    assert response.status_code == 200
    # Said once, next to the amount: the fuller message, no banner repeating it
    assert (
        '<div class="errors" id="amount-error"><p class="error">「abc」不是金額。</p>'
        in response.text
    )
    assert response.text.count("「abc」不是金額。") == 1 and "不是數字。" not in response.text


def test_a_closed_period_is_explained_in_chinese(console):
    c = console.client("ndc")
    url = f"/console/disbursements/{console.ids['disbursement_x']}"
    moea = console.client("moea")
    assert post_form(moea, url, f"{url}/approve").status_code == 302
    closed = post_form(
        c,
        "/console/ledger/periods",
        "/console/ledger/periods",
        {"end_date": "2099-12-31", "confirm": "y"},
    )
    assert closed.status_code == 302, closed.text
    paid = post_form(c, url, f"{url}/pay", {"paid_on": "2099-06-01"})
    assert paid.status_code == 422
    assert "帳簿已結帳至 2099-12-31，日期為 2099-06-01 的分錄無法入帳。" in paid.text


def test_a_reused_form_key_is_explained(console):
    c = console.client("ndc")
    page = c.get("/console/disbursements/new")
    body = {
        "csrf_token": csrf_token(page.text),
        "key": "samekey-12345678",
        "project_id": str(console.ids["project_x"]),
        "kind": "grant",
        "purpose": "步道",
    }
    first = c.post("/console/disbursements/new", data={**body, "amount": "100"})
    assert first.status_code == 302, first.text
    again = c.post("/console/disbursements/new", data={**body, "amount": "200"})
    assert again.status_code == 200
    assert "此表單先前已以不同內容送出，請重新載入頁面後再試。" in again.text


def test_too_much_money_is_explained(console):
    from ledger.fund import donations

    c = console.client("ndc")
    form = {
        "project_id": str(console.ids["project_x"]),
        "kind": "grant",
        "amount": "900,000,000",
        "purpose": "步道",
    }
    refused = post_form(c, "/console/disbursements/new", "/console/disbursements/new", form)
    assert "不限用途目前可承諾 NT$18,000，此提案需要 NT$900,000,000。" in refused.text
    assert "Not enough" not in refused.text
    # Received by card, so it may be committed, but not in the bank yet
    with console.database.session() as s, s.begin():
        donations.record_donation(s, key="card", channel="stripe", amount=90_000_000_000)
    proposed = post_form(c, "/console/disbursements/new", "/console/disbursements/new", form)
    assert proposed.status_code == 302, proposed.text
    url = proposed.headers["Location"]
    assert post_form(console.client("moea"), url, f"{url}/approve").status_code == 302
    paid = post_form(c, url, f"{url}/pay")
    assert paid.status_code == 422
    assert "銀行存款（主帳戶） 餘額不足：現有 NT$" in paid.text
    assert "本筆需要 NT$900,000,000。" in paid.text and "Not enough" not in paid.text
