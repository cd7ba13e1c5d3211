"""api/views.py: the API's HTTP rules (JSON bodies only, ids a column can hold) and its docs."""

from __future__ import annotations

from tests.api.conftest import V1, new_key


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


def test_unknown_route_and_huge_ids(world):
    assert world.call("ndc", "GET", f"{V1}/nothing").status_code == 404
    r = world.call("ndc", "GET", f"{V1}/pledges/99999999999999999999999")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"


def test_healthz_and_docs(client):
    assert client.get("/healthz").json == {"status": "ok", "database": "reachable"}
    assert client.get("/api/docs").status_code == 200
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    post = spec["paths"]["/api/v1/donations"]["post"]
    assert post["x-required-roles"] == ["fund_manager", "admin"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert "application/problem+json" in post["responses"]["422"]["content"]
