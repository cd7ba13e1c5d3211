"""api/donations.py: donations recorded by fund managers, answered as stored, replayed."""

from __future__ import annotations

from tests.api.conftest import V1, new_key


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


def test_managers_make_every_yearly_statement_in_the_background(world):
    import datetime as dt

    from tests.job_helpers import run_jobs

    year = dt.date.today().year  # the world's payments are this year's
    bad = world.call("ndc", "POST", "/api/v1/donations/yearly-statements", json={"year": 1999})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"year"}
    assert world.call("ndc", "GET", "/api/v1/jobs").get_json()["items"] == []
    path = "/api/v1/donations/yearly-statements"
    started = world.call("ndc", "POST", path, json={"year": year})
    assert started.status_code == 202
    job = started.get_json()
    assert (job["kind"], job["params"]) == ("yearly_statements", {"year": year})
    again = world.call("moea", "POST", path, json={"year": year})
    assert again.status_code == 202 and again.get_json()["id"] == job["id"]
    run_jobs(world.client.application)
    done = world.call("ndc", "GET", started.headers["Location"]).get_json()
    assert done["status"] == "succeeded"
    assert done["result"]["companies"] == done["result"]["rendered"] == 2
    assert done["progress"] == {"done": 2, "total": 2}
    assert done["parent_id"] is None and done["result"]["parts"] == 1
    # Its part (a range of companies) is a job too, naming the job it belongs to
    parts = world.call("ndc", "GET", "/api/v1/jobs?kind=yearly_statements_part").get_json()
    [part] = parts["items"]
    assert part["parent_id"] == job["id"] and part["status"] == "succeeded"
    assert part["result"]["rendered"] == 2
    assert world.call("company_a", "POST", path, json={"year": year}).status_code == 403
