"""api/pledges.py: pledging with idempotency keys, whole dollars, status and filters."""

from __future__ import annotations

from tests.api.conftest import V1, new_key, register


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


def test_unverified_company_cannot_pledge(client):
    r = register(client, kind="company", ubn="04595257")
    token = r.json["token"]["token"]
    p = client.post(
        f"{V1}/pledges",
        json={"amount": 100_000},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "a"},
    )
    assert p.status_code == 403 and p.json["code"] == "organisation_not_verified"
