"""Self-registration from the sign-in page: companies and local businesses register
themselves (unverified) through the API's domain service, with per-field errors, CSRF and a
throttle."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from admin import registration
from foundation.reference import townships
from identity.models import ApiToken, Organisation, User
from tests.admin.conftest import csrf_token, post_form, sign_in
from web.rate_limits import Rule

GOOD = {
    "kind": "company",
    "name": "山海茶業股份有限公司",
    "name_en": "Mountain Sea Tea Co.",
    "ubn": "04595257",
    "town_code": "10008040",
    "contact_name": "林美華",
    "email": "mei@mountain-sea.example.tw",
    "password": "竹山茶園-清晨採收-2026",
    "confirm": "竹山茶園-清晨採收-2026",
}


def register(c, **changes):
    return post_form(c, "/console/register", "/console/register", {**GOOD, **changes})


def organisations(console) -> int:
    with console.database.session() as s:
        return s.scalar(select(func.count()).select_from(Organisation))


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<div class="errors" id="{name}-error"><p class="error">([^<]*)</p>', html)
    assert match, f"no error next to {name}"
    return match.group(1)


def test_the_sign_in_page_links_to_registration(console):
    page = console.client().get("/console/sign-in")
    assert 'href="/console/register"' in page.text
    form = console.client().get("/console/register")
    assert form.status_code == 200
    assert len(re.findall(r'<option value="[0-9]{8}"', form.text)) == len(townships()) == 368
    assert '<optgroup label="南投縣">' in form.text
    for label in ("組織名稱", "統一編號", "鄉鎮市區", "您的姓名", "電子郵件", "密碼"):
        assert label in form.text


def test_a_company_registers_unverified_and_signs_in_with_its_password(console):
    before = organisations(console)
    c = console.client()
    response = register(c)
    assert response.status_code == 302, response.text
    # The new organisation is told what happens next, then signs in
    assert response.headers["Location"] == "/console/registered?kind=company"
    page = c.get(response.headers["Location"]).text
    assert "您的組織已完成註冊" in page and 'id="next-steps"' in page
    assert "認捐" in page and "/console/sign-in" in page
    assert organisations(console) == before + 1
    with console.database.session() as s:
        org = s.scalars(select(Organisation).where(Organisation.ubn == GOOD["ubn"])).one()
        assert (org.kind, org.name, org.town_code) == ("company", GOOD["name"], "10008040")
        assert org.county_code == townships()["10008040"].county_code
        assert org.verified_at is None
        user = s.scalars(select(User).where(User.organisation_id == org.id)).one()
        assert (user.email, user.role) == (GOOD["email"], "company_member")
        assert user.password_hash.startswith("$argon2id$")
        # The API's registration issues a token; the console's issues none
        assert s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all() == []
        org_id = org.id
    member = console.client()
    assert sign_in(member, GOOD["email"], GOOD["password"]).status_code == 302
    page = member.get("/console/company")
    assert page.status_code == 200 and "未驗證" in page.text and GOOD["name"] in page.text
    assert 'id="next-steps"' in page.text  # until a manager verifies it
    # A fund manager sees it waiting and verifies it
    manager = console.client("ndc")
    assert GOOD["name"] in manager.get("/console/organisations?verified=no").text
    verified = post_form(
        manager, f"/console/organisations/{org_id}", f"/console/organisations/{org_id}/verify"
    )
    assert verified.status_code == 302
    with console.database.session() as s:
        assert s.get(Organisation, org_id).verified_at is not None


def test_a_local_business_registers_as_a_business_member(console):
    response = register(
        console.client(),
        kind="business",
        name="竹山竹藝工作室",
        ubn="53212539",
        email="bamboo@zhushan.example.tw",
    )
    assert response.status_code == 302, response.text
    with console.database.session() as s:
        user = s.scalars(select(User).where(User.email == "bamboo@zhushan.example.tw")).one()
        assert user.role == "business_member" and user.organisation.kind == "business"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ubn": "04595258"}, "ubn", "統一編號檢查碼不正確。"),
        ({"ubn": "1234"}, "ubn", "統一編號為 8 位數字。"),
        ({"town_code": "99999999"}, "town_code", "請從清單選擇鄉鎮市區。"),
        ({"town_code": ""}, "town_code", "請從清單選擇鄉鎮市區。"),
        ({"name": ""}, "name", "請輸入組織名稱。"),
        ({"name": "🌾🌾🌾"}, "name", "名稱須包含至少一個文字或字母，不能只有表情符號或符號。"),
        ({"name_en": "★★"}, "name_en", "名稱須包含至少一個文字或字母，不能只有表情符號或符號。"),
        ({"email": "not-an-email"}, "email", "這不是有效的電子郵件地址。"),
        ({"password": "short", "confirm": "short"}, "password", "密碼至少需要 10 個字元。"),
        ({"password": "1234567890", "confirm": "1234567890"}, "password", "密碼太容易被猜到。"),
        (
            {"password": "mountain-sea-2026", "confirm": "mountain-sea-2026"},
            "password",
            "密碼太容易被猜到。",
        ),
        ({"confirm": "something else entirely"}, "confirm", "兩次輸入的密碼不同。"),
    ],
)
def test_each_problem_is_shown_next_to_its_field(console, changes, field, message):
    before = organisations(console)
    response = register(console.client(), **changes)
    assert response.status_code == 422
    assert field_error(response.text, field) == message
    assert 'type="password"' in response.text and GOOD["password"] not in response.text
    assert organisations(console) == before


def test_a_registered_number_or_email_is_refused_next_to_its_field(console):
    c = console.client()
    assert register(c).status_code == 302
    again = register(c, email="someone.else@example.tw")
    assert again.status_code == 422
    # Said once, next to the number (not again in a banner)
    assert field_error(again.text, "ubn") == "已有組織以此統一編號註冊。"
    assert again.text.count("已有組織以此統一編號註冊。") == 1
    same_email = register(c, ubn="53212539")
    assert same_email.status_code == 422
    assert field_error(same_email.text, "email") == "此電子郵件已屬於其他使用者。"


def test_registration_in_english(console):
    c = console.client()
    page = c.get("/console/register")
    c.post("/language", data={"csrf_token": csrf_token(page.text), "lang": "en"})
    response = register(c, ubn="04595258")
    assert field_error(response.text, "ubn") == (
        "This is not a valid Unified Business Number (check digit)."
    )
    assert '<optgroup label="Nantou County">' in response.text


def test_registration_needs_the_csrf_token(console):
    before = organisations(console)
    response = console.client().post("/console/register", data=GOOD)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert organisations(console) == before


def test_a_signed_in_user_is_sent_home(console):
    response = console.client("company_a").get("/console/register")
    assert response.status_code == 302


def test_too_many_attempts_are_refused(console, monkeypatch):
    monkeypatch.setattr(
        registration, "REGISTRATION_ATTEMPTS", Rule("registration_attempts", "3/10 minutes")
    )
    c = console.client()
    for _ in range(3):
        assert register(c, ubn="04595258").status_code == 422
    refused = register(c, ubn="04595258")
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert "嘗試次數過多" in refused.text


def test_a_name_of_emoji_is_refused_in_english_too(console):
    c = console.client()
    page = c.get("/console/register")
    c.post("/language", data={"csrf_token": csrf_token(page.text), "lang": "en"})
    before = organisations(console)
    response = register(c, name="🌾 🍵")
    assert response.status_code == 422
    assert field_error(response.text, "name") == (
        "A name needs at least one letter or Chinese character, not only emoji or symbols."
    )
    assert organisations(console) == before
