"""Sign-in hardening: sessions that end on the server, throttling that never locks the owner
out, two-factor sign-in for managers and admins, the cookie's attributes, safe redirects."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from sqlalchemy import select

from admin import console_passwords, two_factor
from admin.models import ConsoleSession, RecoveryCode
from foundation.settings import Settings
from identity import passwords
from identity.models import User
from placefund.app import create_app
from tests.admin.conftest import PASSWORD, TOTP_CLOCK, TOTP_SECRET, csrf_token, sign_in
from tests.job_helpers import worker_beating
from web.rate_limits import RateLimits, Rule


def from_address(client, address: str):
    client.environ_base["REMOTE_ADDR"] = address
    return client


def post(client, page_url: str, action: str, data: dict | None = None):
    page = client.get(page_url)
    return client.post(action, data={"csrf_token": csrf_token(page.text), **(data or {})})


# --- cookie ----------------------------------------------------------------------------------


def session_cookie_header(response) -> str:
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return header


def test_the_session_cookie_is_lax_http_only_and_lasts_eight_hours(console):
    c = console.client()
    response = sign_in(c, console.emails["company_a"], PASSWORD)
    header = session_cookie_header(response)
    assert "SameSite=Lax" in header
    assert "HttpOnly" in header
    assert "Secure" not in header
    assert re.search(r"Expires=[^;]+", header)
    assert console.app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 8 * 3600


def test_session_cookie_secure_applies(database):
    settings = Settings(
        database_url=str(database.engine.url), secret_key="t", session_cookie_secure=True
    )
    app = create_app(settings, database=database)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.test_request_context():
        response = app.make_response("x")
        app.session_interface.save_session(app, _session_with_value(app), response)
    assert "Secure" in response.headers["Set-Cookie"]


def _session_with_value(app):
    session = app.session_interface.session_class()
    session["lang"] = "en"
    return session


def test_a_bad_cookie_setting_is_refused_by_name():
    with pytest.raises(ValueError, match="SESSION_COOKIE_SECURE"):
        Settings.from_env({"SESSION_COOKIE_SECURE": "maybe"})
    with pytest.raises(ValueError, match="PLACEFUND_RATE_LIMIT_STORAGE"):
        Settings.from_env({"PLACEFUND_RATE_LIMIT_STORAGE": "mysql://x"})


# --- redirects after sign-in -----------------------------------------------------------------

BYPASSES = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r/evil.example/",
    "/\x00/evil.example/",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    " //evil.example/",
    "///evil.example/",
    "/\\/evil.example/",
    "evil.example",
    "%2F%2Fevil.example",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", BYPASSES)
def test_sign_in_never_redirects_off_site(console, target):
    c = console.client()
    page = c.get("/console/sign-in")
    response = c.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf_token(page.text),
            "email": console.emails["company_a"],
            "password": PASSWORD,
            "next": target,
        },
    )
    if "\x00" in target:  # the form comes back naming the field: no sign-in at all
        assert response.status_code == 200 and "Location" not in response.headers
        return
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/company"


def test_a_same_site_path_is_where_sign_in_returns(console):
    c = console.client()
    page = c.get("/console/sign-in")
    response = c.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf_token(page.text),
            "email": console.emails["company_a"],
            "password": PASSWORD,
            "next": "/console/company?tab=pledges",
        },
    )
    assert response.headers["Location"] == "/console/company?tab=pledges"


# --- sessions end on the server ----------------------------------------------------------------


def test_a_cookie_saved_before_sign_out_no_longer_signs_in(console):
    c = console.client("company_a")
    saved = c.get_cookie("session").value
    page = c.get("/console/company")
    assert (
        c.post("/console/sign-out", data={"csrf_token": csrf_token(page.text)}).status_code == 302
    )
    replay = console.app.test_client()
    replay.set_cookie("session", saved)
    assert replay.get("/console/company").status_code == 302
    with console.database.session() as s:
        (row,) = s.scalars(select(ConsoleSession)).all()
        assert row.end_reason == "signed_out"


def test_a_password_change_ends_every_session(console):
    first, second = console.client("company_a"), console.client("company_a")
    with console.database.session() as s, s.begin():
        console_passwords.set_password(
            s, s.get(User, console.ids["user_company_a"]), "another password 1"
        )
    assert first.get("/console/company").status_code == 302
    assert second.get("/console/company").status_code == 302


def test_the_last_use_of_a_session_is_kept(console):
    c = console.client("company_a")
    with console.database.session() as s, s.begin():
        row = s.scalars(select(ConsoleSession)).one()
        row.last_seen_at = row.created_at - dt.timedelta(minutes=5)
        stale = row.last_seen_at
    assert c.get("/console/company").status_code == 200
    with console.database.session() as s:
        assert s.scalars(select(ConsoleSession)).one().last_seen_at > stale


def test_an_expired_session_is_over(console):
    c = console.client("company_a")
    with console.database.session() as s, s.begin():
        row = s.scalars(select(ConsoleSession)).one()
        row.expires_at = row.created_at
    assert c.get("/console/company").status_code == 302


def test_a_user_sees_and_ends_their_other_sessions(console):
    laptop, phone = console.client("company_a"), console.client("company_a")
    page = laptop.get("/console/security")
    assert page.status_code == 200
    assert page.text.count("<tr") == 3  # header and two sessions
    assert "本瀏覽器" in page.text
    response = post(laptop, "/console/security", "/console/security/sessions/end-others")
    assert response.status_code == 302
    assert phone.get("/console/company").status_code == 302
    assert laptop.get("/console/company").status_code == 200


def test_a_user_cannot_end_another_users_session(console):
    victim = console.client("company_b")
    assert victim.get("/console/company").status_code == 200
    with console.database.session() as s:
        victim_session = s.scalars(select(ConsoleSession)).one().id
    other = console.client("company_a")
    response = post(other, "/console/security", f"/console/security/sessions/{victim_session}/end")
    assert response.status_code == 404
    assert victim.get("/console/company").status_code == 200


def test_a_manager_signs_a_member_out_everywhere_but_not_another_manager(console):
    member = console.client("company_a")
    other_manager = console.client("moea")
    manager = console.client("ndc")
    users = manager.get("/console/users")
    assert "全部登出" in users.text
    response = manager.post(
        f"/console/users/{console.ids['user_company_a']}/sessions/end",
        data={"csrf_token": csrf_token(users.text)},
    )
    assert response.status_code == 302
    assert member.get("/console/company").status_code == 302
    refused = manager.post(
        f"/console/users/{console.ids['user_moea']}/sessions/end",
        data={"csrf_token": csrf_token(users.text)},
    )
    assert refused.status_code == 302
    assert other_manager.get("/console/dashboard").status_code == 200
    with console.database.session() as s:
        ended = s.scalars(select(ConsoleSession).where(ConsoleSession.end_reason == "revoked"))
        assert [r.ended_by_id for r in ended] == [console.ids["user_ndc"]]


# --- throttling, never a lockout ----------------------------------------------------------------


def test_a_stranger_cannot_lock_the_owner_out(console):
    email = console.emails["company_a"]
    owner = console.client()
    assert sign_in(owner, email, PASSWORD).status_code == 302  # the owner's browser is known
    # Strangers guess from many addresses until the account's limit for new devices is hit
    for i in range(10):
        stranger = from_address(console.app.test_client(), f"203.0.113.{i + 1}")
        assert sign_in(stranger, email, f"guess number {i}").status_code == 401
    newcomer = from_address(console.app.test_client(), "198.51.100.1")
    refused = sign_in(newcomer, email, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "曾登入過的裝置" in refused.text
    # The owner, on the browser that signed in before, is not held back
    assert sign_in(owner, email, PASSWORD).status_code == 302
    assert "有 10 次密碼錯誤的登入嘗試" in owner.get("/console/company").text
    # A manager's reset link clears the account's limit for new devices too
    manager = console.client("ndc")
    users = manager.get("/console/users")
    manager.post(
        f"/console/users/{console.ids['user_company_a']}/reset",
        data={"csrf_token": csrf_token(users.text)},
    )
    assert sign_in(newcomer, email, PASSWORD).status_code == 302


def test_one_address_that_keeps_failing_waits_and_hashes_nothing(console, monkeypatch):
    guesser = from_address(console.app.test_client(), "203.0.113.50")
    for i in range(5):
        assert sign_in(guesser, f"someone{i}@example.tw", "guess").status_code == 401
    hashed = []
    real = passwords.hasher

    class Counting:
        def verify(self, *args):
            hashed.append(args)
            return real.verify(*args)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(passwords, "hasher", Counting())
    refused = sign_in(guesser, console.emails["company_a"], PASSWORD)
    assert refused.status_code == 429
    assert "您的網路登入嘗試次數過多" in refused.text
    assert hashed == []  # refused before any argon2 work
    # Another address is not affected
    other = from_address(console.app.test_client(), "198.51.100.2")
    assert sign_in(other, console.emails["company_a"], PASSWORD).status_code == 302


def test_limits_are_shared_through_redis_by_every_server():
    try:
        first = RateLimits("redis://127.0.0.1:6379/15")
        first.storage.check() or pytest.fail("Redis on 127.0.0.1:6379 is not answering")
    except Exception as error:
        pytest.fail(f"Redis on 127.0.0.1:6379 is needed for this test: {error}")
    second = RateLimits("redis://127.0.0.1:6379/15")  # another process or server
    rule = Rule("shared_test", "2/minute")
    key = f"addr-{pyotp.random_base32()}"
    assert first.hit(rule, key) is None
    assert second.hit(rule, key) is None
    refused = first.hit(rule, key)
    assert refused is not None and refused.retry_after > 0
    assert second.check(rule, key) is not None
    first.clear(rule, key)
    assert second.hit(rule, key) is None


# --- two-factor sign-in ---------------------------------------------------------------------------


def test_a_manager_without_the_second_factor_is_not_signed_in(console):
    c = console.client()
    response = sign_in(c, console.emails["ndc"], PASSWORD, second_factor=False)
    assert response.headers["Location"] == "/console/sign-in/two-factor"
    assert c.get("/console/dashboard").status_code == 302
    form = c.get("/console/sign-in/two-factor")
    wrong = c.post(
        "/console/sign-in/two-factor", data={"csrf_token": csrf_token(form.text), "code": "000000"}
    )
    assert wrong.status_code == 401
    assert "驗證碼錯誤或已使用過" in wrong.text
    assert c.get("/console/dashboard").status_code == 302


def test_a_code_is_accepted_once(console):
    c = console.client()
    sign_in(c, console.emails["ndc"], PASSWORD, second_factor=False)
    code = TOTP_CLOCK.next_code()
    form = c.get("/console/sign-in/two-factor")
    ok = c.post(
        "/console/sign-in/two-factor", data={"csrf_token": csrf_token(form.text), "code": code}
    )
    assert ok.headers["Location"] == "/console/dashboard"
    again = console.app.test_client()
    sign_in(again, console.emails["ndc"], PASSWORD, second_factor=False)
    form = again.get("/console/sign-in/two-factor")
    replay = again.post(
        "/console/sign-in/two-factor", data={"csrf_token": csrf_token(form.text), "code": code}
    )
    assert replay.status_code == 401


def test_enrolment_then_a_recovery_code_works_once(console):
    with console.database.session() as s, s.begin():
        two_factor.clear(s, s.get(User, console.ids["user_moea"]))
    c = console.client()
    sign_in(c, console.emails["moea"], PASSWORD, second_factor=False)
    setup = c.get("/console/sign-in/two-factor")
    assert "設定兩步驟登入" in setup.text
    assert 'src="data:image/svg+xml' in setup.text
    secret = re.search(r'data-secret="([A-Z2-7]+)"', setup.text).group(1)
    assert secret != TOTP_SECRET
    TOTP_CLOCK.t += 30
    done = c.post(
        "/console/sign-in/two-factor",
        data={"csrf_token": csrf_token(setup.text), "code": pyotp.TOTP(secret).at(TOTP_CLOCK.t)},
    )
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.text)
    assert len(codes) == 10
    assert c.get("/console/dashboard").status_code == 200
    with console.database.session() as s:
        stored = s.scalars(select(RecoveryCode.code_hash)).all()
        assert len(stored) == 10 and not set(codes) & set(stored)  # hashed

    lost_phone = console.app.test_client()
    sign_in(lost_phone, console.emails["moea"], PASSWORD, second_factor=False)
    form = lost_phone.get("/console/sign-in/two-factor")
    used = lost_phone.post(
        "/console/sign-in/two-factor",
        data={"csrf_token": csrf_token(form.text), "code": codes[0].upper()},
    )
    assert used.headers["Location"] == "/console/dashboard"
    assert "剩餘備用碼：9" in lost_phone.get("/console/dashboard").text
    twice = console.app.test_client()
    sign_in(twice, console.emails["moea"], PASSWORD, second_factor=False)
    form = twice.get("/console/sign-in/two-factor")
    refused = twice.post(
        "/console/sign-in/two-factor", data={"csrf_token": csrf_token(form.text), "code": codes[0]}
    )
    assert refused.status_code == 401


def test_the_second_step_cannot_be_reached_without_the_password(console):
    c = console.client()
    response = c.get("/console/sign-in/two-factor")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/sign-in"


def test_wrong_codes_are_limited(console):
    c = console.client()
    sign_in(c, console.emails["ndc"], PASSWORD, second_factor=False)
    form = c.get("/console/sign-in/two-factor")
    statuses = [
        c.post(
            "/console/sign-in/two-factor",
            data={"csrf_token": csrf_token(form.text), "code": "12345" + str(i)},
        ).status_code
        for i in range(6)
    ]
    assert statuses == [401] * 5 + [429]


def test_company_members_sign_in_without_a_second_factor(console):
    c = console.client()
    assert sign_in(c, console.emails["company_a"], PASSWORD, second_factor=False).headers[
        "Location"
    ] == ("/console/company")


def test_right_codes_never_count_against_the_limit(console):
    for _ in range(7):  # more sign-ins than the wrong-code limit allows wrong codes
        c = console.app.test_client()
        assert sign_in(c, console.emails["ndc"], PASSWORD).headers["Location"] == (
            "/console/dashboard"
        )


def test_readiness_answers_a_signed_in_browser_too(console):
    # On SQLite the session check holds the database's lock for the request: the readiness
    # check must ask on the same connection, not wait on a second one
    worker_beating(console.database)
    c = console.client("company_a")
    response = c.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["database"] == "reachable"
