"""api/organisations.py: registration (validated, throttled per client), verification,
profile updates that need the current version, and API tokens: what each role can do and
what the API answers."""

from __future__ import annotations

from tests.api.conftest import V1, register


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


def test_a_name_without_a_letter_is_422_naming_the_field(client, world):
    bad = register(client, name="🌾🌾🌾")
    assert bad.status_code == 422, bad.json
    assert bad.json["code"] == "validation_error" and list(bad.json["errors"]) == ["name"]
    path = f"{V1}/organisations/{{company_a}}"
    etag = world.call("company_a", "GET", path).headers["ETag"]
    for changes, field in (({"name": "★ ★"}, "name"), ({"name_en": "🍵"}, "name_en")):
        r = world.call("company_a", "PATCH", path, json=changes, headers={"If-Match": etag})
        assert r.status_code == 422 and list(r.json["errors"]) == [field], r.json
    assert world.call("company_a", "GET", path).headers["ETag"] == etag
    assert register(client, name="米粉工坊 🌾").status_code == 201


def test_registration_is_throttled_per_address_and_writes_nothing_when_refused(
    client, database, monkeypatch
):
    from sqlalchemy import func, select

    from api import organisations
    from identity.models import Organisation
    from web.rate_limits import Rule

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
    from foundation.settings import Settings
    from placefund.app import create_app
    from web.rate_limits import Rule

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
