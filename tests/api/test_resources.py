"""Functional tests per resource: what each role can do and what the API answers."""

from __future__ import annotations

import json
import logging

import pytest

from tests.api.conftest import new_key

V1 = "/api/v1"


# --- registration, organisations, tokens -------------------------------------------------------


def register(client, **over):
    body = {
        "kind": "business",
        "name": "新竹米粉工坊",
        "ubn": "04595257",
        "town_code": "10008040",
        "contact": {"email": "owner@rice.example.tw", "name": "王小明"},
    }
    body.update(over)
    return client.post(f"{V1}/organisations", json=body)


def test_registration_gives_an_unverified_organisation_and_a_token_shown_once(world, client):
    r = register(client)
    assert r.status_code == 201, r.json
    org, token = r.json["organisation"], r.json["token"]
    assert org["verified"] is False and org["county_code"] == "10008"
    assert token["token"].startswith("pf_") and token["prefix"] == token["token"][:9]
    me = client.get(f"{V1}/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert me.json["role"] == "business_member"
    listed = client.get(f"{V1}/tokens", headers={"Authorization": f"Bearer {token['token']}"})
    assert "token" not in listed.json["items"][0]
    assert listed.json["items"][0]["last_used_at"] is not None
    # Fund managers verify it.
    v = world.call("moea", "POST", f"{V1}/organisations/{org['id']}/verification")
    assert v.status_code == 200 and v.json["verified"] is True


def test_registration_validates_ubn_town_and_duplicates(client, world):
    bad = register(client, ubn="12345678", town_code="99999999")
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"ubn", "town_code"}
    assert register(client).status_code == 201
    again = register(client, contact={"email": "x@y.tw", "name": "X"})
    assert again.status_code == 422 and "ubn" in again.json["errors"]
    assert register(client, kind="institution").status_code == 422


def test_registration_is_throttled_per_address_and_writes_nothing_when_refused(
    client, database, monkeypatch
):
    from sqlalchemy import func, select

    from api import organisations
    from identity.models import Organisation
    from placefund.rate_limits import Rule

    monkeypatch.setattr(organisations, "REGISTRATIONS", Rule("registrations", "2/hour"))
    ubns = ["04595257", "24590619", "24590625"]  # valid check digits
    for ubn, email in zip(ubns[:2], ("a@x.tw", "b@x.tw"), strict=True):
        ok = register(client, ubn=ubn, contact={"email": email, "name": "甲"})
        assert ok.status_code == 201, ok.json

    def count():
        with database.session() as s:
            return s.scalar(select(func.count()).select_from(Organisation))

    before = count()
    refused = register(client, ubn=ubns[2], contact={"email": "c@x.tw", "name": "甲"})
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.json["code"] == "too_many_requests" and refused.headers["Retry-After"] == "3600"
    assert count() == before
    # Another address is not affected
    other = client.post(
        f"{V1}/organisations",
        json={
            "kind": "business",
            "name": "乙",
            "ubn": ubns[2],
            "town_code": "10008040",
            "contact": {"email": "c@x.tw", "name": "甲"},
        },
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 201, other.json


def test_throttle_keys_on_the_client_behind_trusted_proxies_only(database, monkeypatch):
    """Behind PLACEFUND_PROXY_HOPS trusted proxies the registration limit counts the client
    the nearest proxy saw; an X-Forwarded-For the client wrote itself changes nothing."""
    from api import organisations
    from placefund.app import create_app
    from placefund.config import Settings
    from placefund.rate_limits import Rule

    monkeypatch.setattr(organisations, "REGISTRATIONS", Rule("registrations", "1/hour"))
    settings = Settings(database_url=str(database.engine.url), secret_key="t", proxy_hops=1)
    client = create_app(settings, database=database).test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}

    def attempt(ubn, forwarded):
        return client.post(
            f"{V1}/organisations",
            json={
                "kind": "business",
                "name": "乙",
                "ubn": ubn,
                "town_code": "10008040",
                "contact": {"email": f"{ubn}@x.tw", "name": "甲"},
            },
            headers={"X-Forwarded-For": forwarded},
            environ_base=proxy,
        )

    assert attempt("04595257", "198.51.100.1").status_code == 201
    # Same proxy, another client: its own allowance
    assert attempt("24590619", "198.51.100.2").status_code == 201
    # The first client again, with a forged hop in front: the proxy appended the real one
    assert attempt("24590625", "203.0.113.9, 198.51.100.1").status_code == 429


@pytest.mark.parametrize("value", ["-1", "two", "11", ""])
def test_proxy_hops_setting_is_refused_unless_a_small_whole_number(value):
    from placefund.config import Settings

    with pytest.raises(ValueError, match="PLACEFUND_PROXY_HOPS"):
        Settings.from_env({"PLACEFUND_PROXY_HOPS": value})
    assert Settings.from_env({"PLACEFUND_PROXY_HOPS": "2"}).proxy_hops == 2
    assert Settings.from_env({}).proxy_hops == 0


def test_serve_refuses_a_bad_proxy_setting_with_a_message_before_starting(monkeypatch):
    from click.testing import CliRunner

    from placefund import server
    from placefund.cli import main

    started = []
    monkeypatch.setattr(server, "run", lambda **kw: started.append(kw))
    monkeypatch.setenv("PLACEFUND_PROXY_HOPS", "two")
    result = CliRunner().invoke(main, ["serve", "--port", "5099"])
    assert result.exit_code == 1
    assert "PLACEFUND_PROXY_HOPS must be a whole number" in result.output
    assert "Traceback" not in result.output
    assert started == []
    monkeypatch.setenv("PLACEFUND_PROXY_HOPS", "1")
    assert CliRunner().invoke(main, ["serve", "--port", "5099"]).exit_code == 0
    assert started and started[0]["port"] == 5099


def test_unverified_company_cannot_pledge(client):
    r = register(client, kind="company", ubn="04595257")
    token = r.json["token"]["token"]
    p = client.post(
        f"{V1}/pledges",
        json={"amount": 100_000},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "a"},
    )
    assert p.status_code == 403 and p.json["code"] == "organisation_not_verified"


def test_profile_updates_need_the_current_version(world):
    path = f"{V1}/organisations/{{company_a}}"
    read = world.call("company_a", "GET", path)
    etag = read.headers["ETag"]
    ok = world.call(
        "company_a", "PATCH", path, json={"name": "甲公司（新）"}, headers={"If-Match": etag}
    )
    assert ok.status_code == 200 and ok.json["version"] == 2 and ok.headers["ETag"] != etag
    stale = world.call("company_a", "PATCH", path, json={"name": "x"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    stale_body = world.call("company_a", "PATCH", path, json={"name": "x", "version": 1})
    assert stale_body.status_code == 409 and stale_body.json["code"] == "stale_version"
    missing = world.call("company_a", "PATCH", path, json={"name": "x"})
    assert missing.status_code == 428
    assert world.call("company_a", "GET", path).json["name"] == "甲公司（新）"


def test_tokens_create_list_revoke(world):
    created = world.call("company_a", "POST", f"{V1}/tokens", json={"name": "ERP"})
    assert created.status_code == 201
    secret, token_id = created.json["token"], created.json["id"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert world.client.get(f"{V1}/me", headers=headers).status_code == 200
    # Another user cannot see or revoke it; the admin can.
    assert world.call("company_b", "DELETE", f"{V1}/tokens/{token_id}").status_code == 404
    assert world.call("ndc", "DELETE", f"{V1}/tokens/{token_id}").status_code == 404
    revoked = world.call("admin", "DELETE", f"{V1}/tokens/{token_id}")
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    after = world.client.get(f"{V1}/me", headers=headers)
    assert after.status_code == 401 and after.json["code"] == "unauthorized"
    # Only admins issue tokens for others.
    other = {"name": "x", "user_id": world.ids["user_company_b"]}
    assert world.call("company_a", "POST", f"{V1}/tokens", json=other).status_code == 403
    assert world.call("admin", "POST", f"{V1}/tokens", json=other).status_code == 201


def test_tokens_are_stored_hashed(world, database):
    from sqlalchemy import text

    with database.session() as s:
        stored = s.execute(text("SELECT token_hash, prefix FROM api_tokens")).all()
    secrets = set(world.tokens.values())
    assert all(h not in secrets and len(h) == 64 for h, _ in stored)


def test_bad_authorization_headers(world, client):
    for header in ("Basic abc", "Bearer", "Bearer pf_wrong", "token", "Bearer " + "pf_" * 100):
        r = client.get(f"{V1}/me", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.mimetype == "application/problem+json"


# --- pledges and donations ---------------------------------------------------------------------


def test_company_pledges_and_idempotency(world):
    body = {
        "amount": 12_000_000,
        "instalments": 12,
        "restriction": "county:10008",
        "public_name": True,
    }
    key = new_key()
    first = world.call("company_a", "POST", f"{V1}/pledges", json=body, key=key)
    assert first.status_code == 201, first.json
    assert first.json["amount"] == {
        "amount": 12_000_000,
        "currency": "TWD",
        "display": "NT$120,000",
    }
    assert len(first.json["instalments"]) == 12 and first.json["status"] == "open"
    assert "Idempotent-Replayed" not in first.headers
    again = world.call("company_a", "POST", f"{V1}/pledges", json=body, key=key)
    assert again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = world.call(
        "company_a", "POST", f"{V1}/pledges", json={**body, "amount": 100}, key=key
    )
    assert changed.status_code in (409, 422)
    conflict = world.call(
        "company_a", "POST", f"{V1}/pledges", json={**body, "amount": 13_000_000}, key=key
    )
    assert conflict.status_code == 409 and conflict.json["code"] == "idempotency_key_reused"
    # The same header value from another tenant is a different key: no collision.
    other = world.call("company_b", "POST", f"{V1}/pledges", json=body, key=key)
    assert other.status_code == 201 and other.json["id"] != first.json["id"]


def test_pledge_needs_idempotency_key_and_whole_dollars(world):
    r = world.call("company_a", "POST", f"{V1}/pledges", json={"amount": 100_000})
    assert r.status_code == 400 and r.json["code"] == "idempotency_key_required"
    r = world.call("company_a", "POST", f"{V1}/pledges", json={"amount": 100_050}, key=new_key())
    assert r.status_code == 422 and r.json["code"] == "invalid_amount"
    r = world.call(
        "company_a",
        "POST",
        f"{V1}/pledges",
        json={"amount": 100_000, "company_id": world.ids["company_b"]},
        key=new_key(),
    )
    assert r.status_code == 422
    r = world.call(
        "company_a",
        "POST",
        f"{V1}/pledges",
        json={"amount": 100_000},
        headers={"Idempotency-Key": "has space"},
    )
    assert r.status_code == 400


def test_pledge_status_and_filters(world):
    r = world.call("ndc", "GET", f"{V1}/pledges?status=paid")
    assert [p["id"] for p in r.json["items"]] == [world.ids["pledge_b"]]
    r = world.call("ndc", "GET", f"{V1}/pledges?status=open")
    assert [p["id"] for p in r.json["items"]] == [world.ids["pledge_a"]]
    a = world.call("company_a", "GET", f"{V1}/pledges/{{pledge_a}}").json
    assert a["paid"]["amount"] == 500_000 and a["outstanding"]["amount"] == 500_000


def test_cursor_pagination_walks_every_item_once(world):
    for _ in range(5):
        world.call("ndc", "POST", f"{V1}/donations", json={"amount": 100_000}, key=new_key())
    seen, cursor = [], None
    while True:
        path = f"{V1}/donations?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = world.call("ndc", "GET", path).json
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7 and seen == sorted(seen, reverse=True)
    bad = world.call("ndc", "GET", f"{V1}/donations?cursor=abc")
    assert bad.status_code == 422 and "query.cursor" in bad.json["errors"]


def test_manager_records_bank_transfer_against_a_pledge(world):
    body = {"amount": 500_000, "pledge_id": world.ids["pledge_a"], "bank_reference": "VA 1234"}
    r = world.call("moea", "POST", f"{V1}/donations", json=body, key=new_key())
    assert r.status_code == 201, r.json
    assert r.json["company_id"] == world.ids["company_a"] and r.json["channel"] == "bank_transfer"
    pledge = world.call("company_a", "GET", f"{V1}/pledges/{{pledge_a}}").json
    assert pledge["status"] == "paid"
    over = world.call("moea", "POST", f"{V1}/donations", json=body, key=new_key())
    assert over.status_code == 422 and over.json["errors"]["amount"]
    mine = world.call("company_a", "GET", f"{V1}/donations").json["items"]
    assert {d["company_id"] for d in mine} == {world.ids["company_a"]} and len(mine) == 2


def test_recorded_donation_answers_what_was_stored_and_replays(world):
    """The created donation is answered without reading it back: it must equal the stored
    row exactly, and a retry answers the same body, marked as a replay."""
    key = new_key()
    body = {"amount": 250_000, "company_id": world.ids["company_b"], "bank_reference": "VA 77"}
    created = world.call("ndc", "POST", f"{V1}/donations", json=body, key=key)
    assert created.status_code == 201, created.json
    assert "Idempotent-Replayed" not in created.headers
    stored = world.call("ndc", "GET", f"{V1}/donations/{created.json['id']}")
    assert stored.json == created.json
    assert created.json["refunded"]["amount"] == 0 and created.json["net"]["amount"] == 250_000
    again = world.call("ndc", "POST", f"{V1}/donations", json=body, key=key)
    assert again.status_code == 201 and again.json == created.json
    assert again.headers["Idempotent-Replayed"] == "true"


def test_donation_for_unknown_pledge_is_404_and_writes_nothing(world):
    r = world.call(
        "ndc", "POST", f"{V1}/donations", json={"amount": 100_000, "pledge_id": 999}, key=new_key()
    )
    assert r.status_code == 404
    entries = world.call("ndc", "GET", f"{V1}/ledger/entries?limit=200").json["items"]
    assert len(entries) == 6


# --- disbursements and returns -----------------------------------------------------------------


def test_disbursement_needs_two_institutions_then_pays(world):
    path = f"{V1}/disbursements/{{disbursement_x}}"
    same = world.call("admin", "POST", path + "/approval")
    assert same.status_code == 409 and same.json["code"] == "approval_required"
    early = world.call("ndc", "POST", path + "/payment", json={}, key=new_key())
    assert early.status_code == 409
    ok = world.call("moea", "POST", path + "/approval")
    assert ok.status_code == 200 and ok.json["approved"] is True
    assert {a["institution"] for a in ok.json["approvals"]} == {"NDC", "MOEA"}
    paid = world.call("moea", "POST", path + "/payment", json={}, key=new_key())
    assert paid.status_code == 200 and paid.json["status"] == "paid"
    assert paid.json["paid_by_id"] == world.ids["user_moea"] and paid.json["paid_at"]
    void = world.call("ndc", "POST", path + "/void", json={"reason": "x"}, key=new_key())
    assert void.status_code == 409 and void.json["code"] == "invalid_state"
    seen = world.call("business_x", "GET", path).json
    assert seen["status"] == "paid"


def test_proposal_to_unverified_business_is_refused(world, database):
    from identity.models import Organisation

    with database.session() as s, s.begin():
        s.get(Organisation, world.ids["business_y"]).verified_at = None
    r = world.call(
        "ndc",
        "POST",
        f"{V1}/disbursements",
        key=new_key(),
        json={
            "kind": "grant",
            "project_id": world.ids["project_y"],
            "amount": 100_000,
            "purpose": "x",
        },
    )
    assert r.status_code == 409 and "verified" in r.json["detail"]


def test_void_restores_and_records_who(world):
    r = world.call(
        "moea",
        "POST",
        f"{V1}/disbursements/{{disbursement_y}}/void",
        json={"reason": "計畫取消"},
        key=new_key(),
    )
    assert r.status_code == 200
    assert r.json["status"] == "voided" and r.json["voided_by_id"] == world.ids["user_moea"]
    assert r.json["void_reason"] == "計畫取消"


def test_revenue_report_and_return(world):
    base = f"{V1}/return-agreements/{{agreement_x}}"
    report = world.call(
        "business_x",
        "POST",
        base + "/revenue-reports",
        key=new_key(),
        json={"period_start": "2026-01-01", "period_end": "2026-06-30", "revenue": 5_000_000},
    )
    assert report.status_code == 201, report.json
    assert report.json["due"]["amount"] == 500_000
    other = world.call(
        "business_y",
        "POST",
        base + "/revenue-reports",
        key=new_key(),
        json={"period_start": "2026-01-01", "period_end": "2026-06-30", "revenue": 5_000_000},
    )
    assert other.status_code == 404
    ret = world.call("ndc", "POST", base + "/returns", json={"amount": 200_000}, key=new_key())
    assert ret.status_code == 201
    agreement = world.call("business_x", "GET", base).json
    assert agreement["due"]["amount"] == 500_000
    assert agreement["returned"]["amount"] == 200_000
    assert agreement["outstanding"]["amount"] == 300_000
    too_much = world.call("ndc", "POST", base + "/returns", json={"amount": 400_000}, key=new_key())
    assert too_much.status_code == 422


def test_agreement_links_must_belong_to_the_business(world):
    r = world.call(
        "ndc",
        "POST",
        f"{V1}/return-agreements",
        json={
            "business_id": world.ids["business_x"],
            "project_id": world.ids["project_y"],
            "share_bp": 500,
            "start_date": "2026-01-01",
            "end_date": "2027-01-01",
        },
    )
    assert r.status_code == 404


# --- ledger, statements, public ----------------------------------------------------------------


def test_ledger_reads(world):
    tb = world.call("ndc", "GET", f"{V1}/ledger/trial-balance").json
    assert tb["balanced"] is True
    bank = world.call("ndc", "GET", f"{V1}/ledger/accounts/assets:bank:main/balance").json
    assert bank["balance"]["amount"] == 2_500_000
    st = world.call("ndc", "GET", f"{V1}/ledger/accounts/assets:bank:main/statement").json
    assert st["closing"]["amount"] == 2_500_000 and len(st["lines"]) == 2
    entry = world.call("ndc", "GET", f"{V1}/ledger/entries/{{entry}}").json
    assert sum(p["amount"]["amount"] for p in entry["postings"]) == 0
    missing = world.call("ndc", "GET", f"{V1}/ledger/accounts/assets:nope/balance")
    assert missing.status_code == 404
    accounts = world.call("ndc", "GET", f"{V1}/ledger/accounts?prefix=assets:bank").json
    assert [a["code"] for a in accounts["items"]] == ["assets:bank:main"]


def test_period_close_with_assertions(world):
    bad = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/periods",
        json={"end_date": "2099-01-31", "assertions": {"assets:bank:main": 1}},
    )
    assert bad.status_code == 409 and bad.json["code"] == "balance_assertion_failed"
    ok = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/periods",
        json={"end_date": "2099-01-31", "assertions": {"assets:bank:main": 2_500_000}},
    )
    assert ok.status_code == 201 and ok.json["assertions"] == {"assets:bank:main": 2_500_000}
    late = world.call(
        "ndc",
        "POST",
        f"{V1}/donations",
        key=new_key(),
        json={"amount": 100_000, "received_on": "2098-12-31"},
    )
    assert late.status_code == 409 and late.json["code"] == "period_closed"


def test_donor_statement(world):
    from ledger.services import today

    st = world.call("company_a", "GET", f"{V1}/statements/donor").json
    assert st["company"]["id"] == world.ids["company_a"]
    assert [d["id"] for d in st["donations"]] == [world.ids["donation_a"]]
    assert st["net"] == [{"amount": 500_000, "currency": "TWD", "display": "NT$5,000"}]
    assert st["from"] == f"{today().year}-01-01"
    assert world.call("ndc", "GET", f"{V1}/statements/donor").status_code == 422


def test_public_summary_names_only_opted_in_donors(world, client):
    r = client.get(f"{V1}/public/summary")
    assert r.status_code == 200
    s = r.json
    assert [d["name"] for d in s["public_donors"]] == ["乙公司"]
    assert s["donations_in"]["amount"] == 2_500_000
    assert s["committed"]["pending"]["amount"] == 700_000 and s["total_out"]["amount"] == 0
    assert "10008" in {c["code"] for c in s["by_county"]}
    assert "甲公司" not in r.get_data(as_text=True)


# --- bad input and HTTP rules ------------------------------------------------------------------


def test_bad_bodies_are_4xx_problems_and_write_nothing(world):
    path = f"{V1}/donations"
    cases = [
        dict(data="{not json", content_type="application/json"),
        dict(data='{"amount": ' + "9" * 5000 + "}", content_type="application/json"),
        dict(data="[" * 5000 + "]" * 5000, content_type="application/json"),
        dict(data="amount=100000", content_type="application/x-www-form-urlencoded"),
        dict(data="<a/>", content_type="application/xml"),
        dict(json={"amount": 10**30}),
        dict(json={"amount": 1e3}),
        dict(json={"amount": "100000"}),
        dict(json={"amount": True}),
        dict(json={"amount": 2.58e-42}),
        dict(json={"amount": 100_000, "surprise": 1}),
        dict(json={"amount": 100_000, "company_id": 10**30}),
        dict(json={"amount": 100_000, "currency": "XXX"}),
        dict(json={"amount": 100_000, "restriction": "county:nowhere"}),
        dict(json=[1, 2]),
        dict(json=None),
    ]
    for case in cases:
        h = world.headers("ndc", new_key())
        r = world.client.post(path, headers=h, **case)
        assert 400 <= r.status_code < 500, (case, r.status_code)
        assert r.mimetype == "application/problem+json"
        assert {"type", "code", "title", "status", "detail"} <= set(r.json)
    entries = world.call("ndc", "GET", f"{V1}/ledger/entries?limit=200").json["items"]
    assert len(entries) == 6


def test_field_errors_are_named(world):
    r = world.call(
        "ndc", "POST", f"{V1}/disbursements", key=new_key(), json={"kind": "loan", "amount": -5}
    )
    assert r.status_code == 422
    assert {"kind", "amount", "project_id", "purpose"} <= set(r.json["errors"])


def test_request_size_limit(world):
    big = {"name": "x" * 100_000}
    r = world.call("company_a", "POST", f"{V1}/tokens", json=big)
    assert r.status_code == 413 and r.mimetype == "application/problem+json"


def test_method_not_allowed_keeps_allow_header(world):
    r = world.call("company_a", "DELETE", f"{V1}/pledges")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_unknown_route_and_huge_ids(world):
    assert world.call("ndc", "GET", f"{V1}/nothing").status_code == 404
    r = world.call("ndc", "GET", f"{V1}/pledges/99999999999999999999999")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"


def test_security_headers_request_id_and_no_secrets_in_logs(world, caplog):
    caplog.set_level(logging.INFO, logger="placefund.access")
    r = world.call("company_a", "GET", f"{V1}/me", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    record = next(rec for rec in caplog.records if rec.name == "placefund.access")
    assert record.request_id == "abc-123" and record.status == 200
    assert record.user_id == world.ids["user_company_a"]
    assert world.tokens["company_a"] not in caplog.text
    generated = world.call("company_a", "GET", f"{V1}/me", headers={"X-Request-ID": "bad id!"})
    assert len(generated.headers["X-Request-ID"]) == 32


def test_json_log_format_never_contains_tokens():
    from placefund.server import JsonFormatter

    record = logging.LogRecord("placefund.access", logging.INFO, __file__, 1, "request", (), None)
    record.request_id, record.path, record.status = "r1", "/api/v1/me", 200
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r1" and line["msg"] == "request" and line["status"] == 200


def test_healthz_and_docs(client):
    assert client.get("/healthz").json == {"status": "ok", "database": "reachable"}
    assert client.get("/api/docs").status_code == 200
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    post = spec["paths"]["/api/v1/donations"]["post"]
    assert post["x-required-roles"] == ["fund_manager", "admin"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert "application/problem+json" in post["responses"]["422"]["content"]


# --- corrections: adjustments and their reversal --------------------------------------------------


def test_manager_posts_an_adjustment_and_reverses_it_once(world, database):
    from sqlalchemy import func, select

    from ledger.models import Entry

    def entries():
        with database.session() as s:
            return s.scalar(select(func.count()).select_from(Entry))

    def bank():
        path = f"{V1}/ledger/accounts/assets:bank:main/balance"
        return world.call("ndc", "GET", path).json["balance"]["amount"]

    body = {
        "reason": "銀行手續費 11 月",
        "on": "2026-11-20",
        "lines": [
            {"account": "expense:fees:processor:TWD", "amount": 1_500},
            {"account": "assets:bank:main", "amount": -1_500},
        ],
    }
    start, key = bank(), new_key()
    made = world.call("ndc", "POST", f"{V1}/ledger/adjustments", json=body, key=key)
    assert made.status_code == 201, made.json
    assert made.json["kind"] == "adjustment" and made.json["entry_date"] == "2026-11-20"
    assert {p["account"]: p["amount"]["amount"] for p in made.json["postings"]} == {
        "expense:fees:processor:TWD": 1_500,
        "assets:bank:main": -1_500,
    }
    assert bank() == start - 1_500
    again = world.call("ndc", "POST", f"{V1}/ledger/adjustments", json=body, key=key)
    assert again.json["id"] == made.json["id"] and again.headers["Idempotent-Replayed"] == "true"

    path = f"{V1}/ledger/entries/{made.json['id']}/reversal"
    reversal_key = new_key()
    reversed_ = world.call("moea", "POST", path, json={"reason": "重複入帳"}, key=reversal_key)
    assert reversed_.status_code == 201, reversed_.json
    assert reversed_.json["reverses_entry_id"] == made.json["id"]
    assert bank() == start
    retried = world.call("moea", "POST", path, json={"reason": "重複入帳"}, key=reversal_key)
    assert retried.json["id"] == reversed_.json["id"]
    assert retried.headers["Idempotent-Replayed"] == "true"
    of_reversal = f"{V1}/ledger/entries/{reversed_.json['id']}/reversal"
    refused = world.call("ndc", "POST", of_reversal, json={"reason": "x"}, key=new_key())
    assert refused.status_code == 409 and "cannot itself be reversed" in refused.json["detail"]
    twice = world.call("ndc", "POST", path, json={"reason": "again"}, key=new_key())
    assert twice.status_code == 409 and twice.json["code"] == "already_reversed"

    # Other operations' entries are corrected through their operation, not reversed here
    count = entries()
    donation = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/entries/{{entry}}/reversal",
        json={"reason": "x"},
        key=new_key(),
    )
    assert donation.status_code == 409 and donation.json["code"] == "invalid_state"
    assert entries() == count


@pytest.mark.parametrize(
    ("lines", "status", "code"),
    [
        (
            [
                {"account": "expense:fees:processor:TWD", "amount": 100},
                {"account": "assets:bank:main", "amount": -99},
            ],
            422,
            "unbalanced_entry",
        ),
        (
            [
                {"account": "expense:nonsense", "amount": 100},
                {"account": "assets:bank:main", "amount": -100},
            ],
            422,
            "unknown_account",
        ),
        (
            [
                {"account": "expense:fees:processor:TWD", "amount": 10**15},
                {"account": "assets:bank:main", "amount": -(10**15)},
            ],
            409,
            "insufficient_funds",
        ),
        ([{"account": "assets:bank:main", "amount": 0}], 422, "validation_error"),
    ],
)
def test_bad_adjustments_are_refused_and_write_nothing(world, database, lines, status, code):
    from sqlalchemy import func, select

    from ledger.models import Entry

    with database.session() as s:
        before = s.scalar(select(func.count()).select_from(Entry))
    r = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/adjustments",
        json={"reason": "test", "lines": lines},
        key=new_key(),
    )
    assert r.status_code == status and r.json["code"] == code, r.json
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Entry)) == before
    assert world.call("company_a", "POST", f"{V1}/ledger/adjustments", json={}).status_code == 403
