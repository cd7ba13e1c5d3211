"""The API on PostgreSQL: the same requests, the real locking and constraint behaviour."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from placefund.app import create_app
from placefund.config import Settings
from tests.api.conftest import World, build_world

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_world(pg):
    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="t"), database=pg)
    app.config["TESTING"] = True
    with pg.session() as s, s.begin():
        tokens, ids = build_world(s)
    return World(app.test_client(), tokens, ids), app


def test_concurrent_retries_with_one_key_record_one_donation(pg_world):
    world, app = pg_world

    def post(_):
        client = app.test_client()
        return client.post(
            "/api/v1/donations",
            json={"amount": 100_000, "company_id": world.ids["company_a"]},
            headers=world.headers("ndc", "same-key"),
        )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json["id"] for r in responses}) == 1
    # One request posted it; every other one is told it was a replay, with the same body
    fresh = [r for r in responses if "Idempotent-Replayed" not in r.headers]
    assert len(fresh) == 1
    assert all(r.json == fresh[0].json for r in responses)
    stored = world.call("ndc", "GET", f"/api/v1/donations/{fresh[0].json['id']}")
    assert stored.json == fresh[0].json
    mine = world.call("company_a", "GET", "/api/v1/donations").json["items"]
    assert len(mine) == 2


def test_disbursement_flow_and_public_summary_on_postgres(pg_world):
    world, _app = pg_world
    path = "/api/v1/disbursements/{disbursement_x}"
    assert world.call("moea", "POST", path + "/approval").status_code == 200
    paid = world.call("moea", "POST", path + "/payment", json={}, key="pay-1")
    assert paid.status_code == 200 and paid.json["status"] == "paid"
    summary = world.client.get("/api/v1/public/summary").json
    assert summary["total_out"]["amount"] == 300_000
    stale = world.call(
        "company_a", "PATCH", "/api/v1/pledges/{pledge_a}", json={"public_name": True, "version": 7}
    )
    assert stale.status_code == 409
