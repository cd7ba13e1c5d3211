"""A NUL (or a lone surrogate) typed into a console form: the form comes back with the error
next to each field that held one, in the reader's language, and nothing is stored
(web/request_guard.py hands the field names to the form, admin/forms.py ``ConsoleForm``).
The API keeps its 422 ``unstorable_text`` (tests/api/test_input_limits.py)."""

from __future__ import annotations

import html
import re

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from admin import forms
from identity.models import Organisation
from matching.models import MatchRequest
from tests.admin.conftest import csrf_token, post_form
from tests.admin.test_registration import GOOD

ZH = (
    "此欄位含有無法儲存的字元（NUL 或不成對的代理字元），已將其移除。"
    "未儲存任何資料：請檢查內容後再送出一次。"
)
EN = (
    "This field held a character that cannot be stored (NUL or an unpaired surrogate); it "
    "was removed. Nothing was saved: check the text and send it again."
)


def errors_of(page: str, field: str) -> list[str]:
    match = re.search(rf'<div class="errors" id="{field}-error">(.*?)</div>', page)
    assert match, f"no error shown for {field}"
    return [html.unescape(m) for m in re.findall(r'<p class="error">([^<]*)</p>', match[1])]


def _count(console, model) -> int:
    with console.database.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_registration_with_nul_in_two_fields_shows_the_form_with_both_errors(console):
    before = _count(console, Organisation)
    c = console.client()
    response = post_form(
        c,
        "/console/register",
        "/console/register",
        {**GOOD, "name": "山海\u0000茶業", "contact_name": "林\u0000美華"},
    )
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert errors_of(response.text, "name") == [ZH]
    assert errors_of(response.text, "contact_name") == [ZH]
    assert "無法讀取此請求" not in response.text
    # The character is gone from what the form shows; the rest of the text is kept
    assert 'value="山海茶業"' in response.text and "\u0000" not in response.text
    assert _count(console, Organisation) == before
    # Sent again without it, the same form registers
    assert post_form(c, "/console/register", "/console/register", GOOD).status_code == 302


def test_a_profile_with_nul_says_so_in_english_and_keeps_the_name(console):
    c = console.client("business_x")
    post_form(c, "/console/profile", "/language", {"lang": "en", "next": "/console/profile"})
    with console.database.session() as s:
        name = s.get(Organisation, console.ids["business_x"]).name
    response = post_form(
        c, "/console/profile", "/console/profile", {"name": "新\u0000名稱", "town_code": "10002010"}
    )
    assert response.status_code == 422
    assert errors_of(response.text, "name") == [EN]
    with console.database.session() as s:
        org = s.get(Organisation, console.ids["business_x"])
        assert org.name == name and org.town_code != "10002010"


def test_a_field_with_its_own_error_and_a_nul_shows_both_once_each(console):
    c = console.client("business_x")
    before = _count(console, MatchRequest)
    response = post_form(
        c,
        "/console/requests/new",
        "/console/requests/new",
        {"kind": "sponsorship", "amount": "12\u0000.5", "industry": "0111",
         "town_code": "10008040", "capacity": "1", "description": "茶\u0000園"},
    )  # fmt: skip
    assert response.status_code == 422
    assert errors_of(response.text, "description") == [ZH]
    amount = errors_of(response.text, "amount")
    assert ZH in amount and len(amount) == 2
    assert _count(console, MatchRequest) == before


def test_a_hidden_field_with_nul_is_named_on_top_and_nobody_is_signed_in(console):
    c = console.client()
    page = c.get("/console/sign-in")
    response = c.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf_token(page.text),
            "email": console.emails["company_a"],
            "password": "correct-horse-battery",
            "next": "/console/\u0000company",
        },
    )
    assert response.status_code == 200 and "Location" not in response.headers
    assert "欄位「next」含有無法儲存的字元" in html.unescape(response.text)
    assert c.get("/console/company").status_code == 302  # still signed out


def test_a_view_that_reads_no_form_still_stores_nothing(console):
    """A button's view (verify) validates no form: its commit is refused, and the reader
    gets the 400 page instead of a stored change."""
    with console.database.session() as s, s.begin():
        org = Organisation(kind="business", name="新社區工作室", ubn="12345675")
        s.add(org)
    ndc = console.client("ndc")
    response = post_form(
        ndc,
        "/console/organisations?verified=no",
        f"/console/organisations/{org.id}/verify",
        {"note": "x\u0000"},
    )
    assert response.status_code == 400 and response.mimetype == "text/html"
    with console.database.session() as s:
        assert s.get(Organisation, org.id).verified_at is None


def test_the_query_string_still_gets_the_400_page(console):
    r = console.client().get("/console/sign-in?next=/console/%00")
    assert r.status_code == 400 and r.mimetype == "text/html"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@pytest.mark.parametrize("module", ["admin.forms", "admin.self_service_forms"])
def test_every_console_form_is_a_console_form(module, app):
    import importlib

    importlib.import_module(module)
    import admin.statement_pages  # noqa: F401

    strays = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in _subclasses(FlaskForm)
        if cls.__module__.startswith("admin.") and not issubclass(cls, forms.ConsoleForm)
    ]
    assert strays == []
