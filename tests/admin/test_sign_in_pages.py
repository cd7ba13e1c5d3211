"""Sign-in, lockout, manager resets, sessions, CSRF and the language switch."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import func, select

from admin import console_passwords
from identity.models import Organisation, User
from ledger.fund.models import DisbursementApproval
from tests.admin.conftest import PASSWORD, TOTP_CLOCK, csrf_token, post_form, sign_in


def test_pages_need_sign_in_and_come_back_after_it(console):
    c = console.client()
    response = c.get("/console/dashboard")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in?next=/console/dashboard")
    page = c.get(response.headers["Location"])
    response = c.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf_token(page.text),
            "email": console.emails["ndc"].upper(),
            "password": PASSWORD,
            "next": "/console/dashboard",
        },
    )
    # A fund manager's second factor comes first; the way back survives it
    assert response.headers["Location"] == "/console/sign-in/two-factor"
    form = c.get("/console/sign-in/two-factor")
    response = c.post(
        "/console/sign-in/two-factor",
        data={"csrf_token": csrf_token(form.text), "code": TOTP_CLOCK.next_code()},
    )
    assert response.headers["Location"] == "/console/dashboard"
    assert c.get("/console/dashboard").status_code == 200


def test_sign_in_never_redirects_to_another_site(console):
    c = console.client()
    page = c.get("/console/sign-in")
    response = c.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf_token(page.text),
            "email": console.emails["company_a"],
            "password": PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/console/company"


def test_wrong_password_is_refused_with_the_error_next_to_the_field(console):
    c = console.client()
    response = sign_in(c, console.emails["ndc"], "not-the-password")
    assert response.status_code == 401
    assert 'id="password-error"' in response.text
    assert "電子郵件或密碼錯誤" in response.text
    unknown = sign_in(c, "nobody@example.tw", PASSWORD)
    assert unknown.status_code == 401
    assert "電子郵件或密碼錯誤" in unknown.text


def test_sign_out_ends_the_session(console):
    c = console.client("ndc")
    page = c.get("/console/dashboard")
    response = c.post("/console/sign-out", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert c.get("/console/dashboard").status_code == 302


def test_failures_never_lock_the_owner_out_and_a_manager_reset_works(console):
    c = console.client()
    c.environ_base["REMOTE_ADDR"] = "203.0.113.9"  # not the owner's network
    email = console.emails["company_a"]
    for _ in range(4):
        response = sign_in(c, email, "wrong password!")
        assert response.status_code == 401
    # No lockout: the right password still works, and the owner hears about the failures
    owner = console.client()
    response = sign_in(owner, email, PASSWORD)
    assert response.status_code == 302
    assert "有 4 次密碼錯誤的登入嘗試" in owner.get(response.headers["Location"]).text

    manager = console.client("ndc")
    users_page = manager.get("/console/users")
    issued = manager.post(
        f"/console/users/{console.ids['user_company_a']}/reset",
        data={"csrf_token": csrf_token(users_page.text)},
    )
    assert issued.status_code == 200
    link = re.search(r"http://localhost(/console/reset/[A-Za-z0-9_-]+)", issued.text).group(1)

    form = c.get(link)
    assert form.status_code == 200
    short = c.post(
        link,
        data={"csrf_token": csrf_token(form.text), "password": "short", "confirm": "short"},
    )
    assert 'id="password-error"' in short.text
    done = c.post(
        link,
        data={
            "csrf_token": csrf_token(form.text),
            "password": "a brand new password",
            "confirm": "a brand new password",
        },
    )
    assert done.status_code == 302
    assert c.get(link).status_code == 404  # a link works once
    # The new password ended the session the owner had open
    assert owner.get("/console/company").status_code == 302
    assert sign_in(owner, email, PASSWORD).status_code == 401
    assert sign_in(owner, email, "a brand new password").status_code == 302


def test_a_password_change_signs_out_other_sessions(console):
    c = console.client("company_a")
    assert c.get("/console/company").status_code == 200
    with console.database.session() as s, s.begin():
        console_passwords.set_password(
            s, s.get(User, console.ids["user_company_a"]), "another password 1"
        )
    assert c.get("/console/company").status_code == 302


def test_a_manager_may_not_reset_another_manager_or_an_admin(console):
    """Otherwise one manager could sign in as another and approve a disbursement alone."""
    manager = console.client("ndc")
    page = manager.get("/console/users")
    for target in ("admin", "moea"):
        response = manager.post(
            f"/console/users/{console.ids['user_' + target]}/reset",
            data={"csrf_token": csrf_token(page.text)},
        )
        assert response.status_code == 302
        assert "您無權重設此使用者的密碼。" in manager.get("/console/users").text
    with console.database.session() as s:
        from identity.models import PasswordReset

        assert s.query(PasswordReset).count() == 0


def _approvals(console) -> int:
    with console.database.session() as s:
        return s.scalar(
            select(func.count())
            .select_from(DisbursementApproval)
            .where(DisbursementApproval.disbursement_id == console.ids["disbursement_x"])
        )


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console):
    moea = console.client("moea")
    before = _approvals(console)
    url = f"/console/disbursements/{console.ids['disbursement_x']}/approve"
    refused = moea.post(url)
    assert refused.status_code == 400
    assert "表單已過期" in refused.text
    forged = moea.post(url, data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert _approvals(console) == before
    # The same request with the page's token goes through.
    ok = post_form(moea, f"/console/disbursements/{console.ids['disbursement_x']}", url)
    assert ok.status_code == 302
    assert _approvals(console) == before + 1


def test_sign_in_and_verification_without_a_token_are_refused(console):
    c = console.client()
    response = c.post(
        "/console/sign-in", data={"email": console.emails["ndc"], "password": PASSWORD}
    )
    assert response.status_code == 400
    with console.database.session() as s, s.begin():
        org = Organisation(kind="company", name="未驗證公司", ubn="12345675")
        s.add(org)
    manager = console.client("ndc")
    assert manager.post(f"/console/organisations/{org.id}/verify").status_code == 400
    with console.database.session() as s:
        assert s.get(Organisation, org.id).verified_at is None


def test_the_api_takes_bearer_tokens_without_csrf(console):
    c = console.client("ndc")  # a console session cookie does not stand in for a token
    anonymous = c.post(f"/api/v1/disbursements/{console.ids['disbursement_x']}/approval")
    assert anonymous.status_code == 401
    assert anonymous.mimetype == "application/problem+json"
    before = _approvals(console)
    response = c.post(
        f"/api/v1/disbursements/{console.ids['disbursement_x']}/approval",
        headers={"Authorization": f"Bearer {console.tokens['moea']}"},
    )
    assert response.status_code == 200, response.text
    assert _approvals(console) == before + 1


def test_demo_users_sign_in_with_the_demo_password(database, monkeypatch, tmp_path):
    from foundation.settings import Settings
    from placefund.app import create_app
    from placefund.demo import DEMO_PASSWORD, load_demo

    monkeypatch.setenv("PLACEFUND_INSTANCE", str(tmp_path))
    printed = []
    load_demo(database, echo=printed.append)
    assert any(DEMO_PASSWORD in line for line in printed)
    app = create_app(
        Settings(database_url=str(database.engine.url), secret_key="t"), database=database
    )
    c = app.test_client()
    response = sign_in(c, "lin.manager@ndc.example.tw", DEMO_PASSWORD, second_factor=False)
    assert response.headers["Location"] == "/console/sign-in/two-factor"
    # The demo's two-factor key is printed with the passwords
    (secret,) = re.findall(r"add the key ([A-Z2-7]{32})", "\n".join(printed))
    TOTP_CLOCK.t += 30
    form = c.get("/console/sign-in/two-factor")
    response = c.post(
        "/console/sign-in/two-factor",
        data={"csrf_token": csrf_token(form.text), "code": pyotp.TOTP(secret).at(TOTP_CLOCK.t)},
    )
    assert response.headers["Location"] == "/console/dashboard"
    page = c.get("/console/dashboard")
    assert page.status_code == 200
    assert "<svg" in page.text


def test_language_switch(console):
    c = console.client()
    page = c.get("/console/sign-in")
    assert '<html lang="zh-Hant-TW"' in page.text
    assert "<h1>登入</h1>" in page.text
    response = c.post(
        "/language",
        data={"csrf_token": csrf_token(page.text), "lang": "en", "next": "/console/sign-in"},
    )
    assert response.headers["Location"] == "/console/sign-in"
    page = c.get("/console/sign-in")
    assert '<html lang="en"' in page.text
    assert "<h1>Sign in</h1>" in page.text
    # The choice survives signing in (and the second factor).
    assert sign_in(c, console.emails["ndc"], PASSWORD).status_code == 302
    dashboard = c.get("/console/dashboard")
    assert "Money received" in dashboard.text
    back = c.post(
        "/language", data={"csrf_token": csrf_token(dashboard.text), "lang": "zh_Hant_TW"}
    )
    assert back.status_code == 302
    assert "已收款項" in c.get("/console/dashboard").text
