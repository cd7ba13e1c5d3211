"""Codes as words (admin/labels.py) and the form library's messages in the console's catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import wtforms
from babel.messages.pofile import read_po
from flask_babel import force_locale

from admin import labels, messages
from admin.i18n import catalog_paths
from foundation.errors import FieldMessage
from tests.admin.conftest import csrf_token
from tests.admin.language_checks import SIMPLIFIED_ONLY


def _wtforms_msgids() -> set[str]:
    pot = Path(wtforms.__file__).parent / "locale" / "wtforms.pot"
    with pot.open("rb") as fh:
        found = set()
        for m in read_po(fh):
            if isinstance(m.id, tuple):
                found.update(m.id)
            elif m.id:
                found.add(m.id)
        return found


def test_every_form_library_message_has_a_traditional_chinese_translation():
    with catalog_paths("zh_Hant_TW")[0].open("rb") as fh:
        ours = {m.id: m.string for m in read_po(fh) if m.id}
    missing = sorted(m for m in _wtforms_msgids() if not ours.get(m))
    assert not missing, missing
    simplified = {m: t for m, t in ours.items() if any(c in SIMPLIFIED_ONLY for c in t)}
    assert not simplified, simplified


@pytest.mark.parametrize(
    ("lang", "required"), [("zh_Hant_TW", "此欄為必填。"), ("en", "This field is required.")]
)
def test_a_required_field_says_so_in_the_readers_language(console, lang, required):
    c = console.client()
    with c.session_transaction() as s:
        s["lang"] = lang
    page = c.get("/console/sign-in")
    response = c.post(
        "/console/sign-in", data={"csrf_token": csrf_token(page.text), "email": "", "password": ""}
    )
    errors = re.findall(
        r'<div class="errors" id="(\w+)-error"><p class="error">([^<]*)</p>', response.text
    )
    assert errors == [("email", required), ("password", required)]
    assert "该字段是必填字段" not in response.text


def test_a_date_that_is_no_date_is_explained_in_traditional_chinese(console):
    c = console.client("ndc")
    page = c.get("/console/ledger/periods")
    response = c.post(
        "/console/ledger/periods",
        data={"csrf_token": csrf_token(page.text), "end_date": "2026-13-45", "confirm": "y"},
    )
    assert "日期格式不正確（例如 2026-11-26）。" in response.text
    assert not {c for c in response.text if c in SIMPLIFIED_ONLY}


def test_account_codes_entry_kinds_and_purposes_in_words(app):
    with app.test_request_context():
        with force_locale("zh_Hant_TW"):
            assert labels.account_name("assets:bank:main") == "銀行存款（主帳戶）"
            assert labels.account_name("net_assets:restricted:county:10002") == (
                "限定用途淨資產：宜蘭縣"
            )
            assert labels.label("disbursement_reserve") == "撥款保留"
            assert labels.label("bank_transfer") == "銀行轉帳"
            assert labels.memo("捐款 bank_transfer NT$80,000") == "捐款（銀行轉帳），NT$80,000"
            assert labels.town_name("10008040") == "南投縣 竹山鎮"
        with force_locale("en"):
            assert labels.account_name("net_assets:restricted:township:10008040") == (
                "Restricted to Zhushan Township, Nantou County"
            )
            assert labels.account_name("expense:fees:processor:USD") == (
                "Card processing fees (USD)"
            )
            assert labels.label("asset") == "Asset"
            assert labels.memo("撥款 grant 1 NT$60,000") == "Grant 1 paid, NT$60,000"
            assert labels.memo("認捐 甲公司 NT$1,000") == "Pledge from 甲公司, NT$1,000"
            assert labels.memo("a memo a person wrote") == "a memo a person wrote"
            # Something new the catalogue does not know: no underscores at least
            assert labels.label("brand_new_state") == "brand new state"


def test_matching_parameters_in_words_not_json(app):
    params = {"k": 5, "min_priority_share": "3/10", "priority_weights": {"agricultural": 150}}
    with app.test_request_context():
        with force_locale("en"):
            assert labels.match_params(params) == (
                "Candidates kept per request: 5 · Minimum share in priority areas: 30% · "
                "Priority-area weight (points): 150"
            )
        with force_locale("zh_Hant_TW"):
            # Full-width colons, as every Chinese line (tests/admin/test_catalog_punctuation.py)
            assert labels.match_params(params) == (
                "每件申請保留的候選數：5 · 優先推動地區最低比例：30% · 優先推動地區權重（分）：150"
            )
            two = {"priority_weights": {"agricultural": 150, "indigenous": 90}}
            assert "、" in labels.match_params(two) and ", " not in labels.match_params(two)


def test_reconciliation_targets_and_matcher_keys_in_words(console):
    with console.app.test_request_context(), force_locale("en"):
        donation = labels.target(f"donation:{console.ids['donation_a']}")
        assert donation.startswith("Donation · NT$5,000 · ")
        assert labels.target("stripe_payout:999") == "Stripe payout 999"
        assert "stripe_payout" not in labels.targets_in("Unknown: stripe_payout:999")
        assert labels.match_keys("request r1 went to o2") == "request Request 1 went to Offer 2"


@pytest.mark.parametrize(
    ("field_message", "zh", "en"),
    [
        (
            FieldMessage("must be a multiple of 100", "whole_dollars"),
            "請以新臺幣整數元填寫，不可有角分。",
            "Whole NT$ only, no cents.",
        ),
        (
            FieldMessage("must be a multiple of 10000", "multiple_of", n=10000, currency="TWD"),
            "須為 NT$100 的倍數。",
            "Must be a multiple of NT$100.",
        ),
    ],
)
def test_amounts_in_errors_are_ntd_not_minor_units(app, field_message, zh, en):
    with app.test_request_context():
        with force_locale("zh_Hant_TW"):
            assert messages.field_message(field_message) == zh
        with force_locale("en"):
            assert messages.field_message(field_message) == en


def test_an_infeasible_share_names_the_constraint_in_words(app):
    from matching.errors import Infeasible

    error = Infeasible("offer o2 ...", constraint="capacity", subject="o2")
    with app.test_request_context(), force_locale("en"):
        text = messages.message(error)
    assert "“Capacity” (Offer 2)" in text and "o2" not in text


def test_a_pledge_entry_names_the_company_in_english_when_it_has_an_english_name(console):
    from identity.models import Organisation

    with console.database.session() as s, s.begin():
        s.get(Organisation, console.ids["company_a"]).name_en = "Jia Co."
    with console.app.test_request_context(), force_locale("en"):
        assert labels.memo("認捐 甲公司 NT$1,000") == "Pledge from Jia Co., NT$1,000"
        assert labels.memo("認捐 無名公司 NT$1,000") == "Pledge from 無名公司, NT$1,000"
    with console.app.test_request_context(), force_locale("zh_Hant_TW"):
        assert labels.memo("認捐 甲公司 NT$1,000") == "認捐：甲公司，NT$1,000"


def test_the_words_are_built_once_per_request_and_language(app, monkeypatch):
    """label() reads a catalogue built once per request and language (a page of 200 rows
    rebuilt it for every cell); switching the language mid-request still switches words."""
    built = []
    build = labels._names.__wrapped__
    monkeypatch.setattr(labels, "_names", labels.per_language(lambda: built.append(1) or build()))
    with app.test_request_context():
        with force_locale("zh_Hant_TW"):
            assert [labels.label("paid") for _ in range(50)] == ["已撥款"] * 50
        with force_locale("en"):
            assert labels.label("paid") == "Paid" and labels.label("open") == "Open"
        with force_locale("zh_Hant_TW"):
            assert labels.label("bank_transfer") == "銀行轉帳"
    assert len(built) == 2
    with app.test_request_context(), force_locale("en"):  # a new request builds its own
        assert labels.label("paid") == "Paid"
    assert len(built) == 3
