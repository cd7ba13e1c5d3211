"""The fund's money rules as API clients meet them: no over-commitment, one revenue report
per period corrected by reversal, and figures that say what they mean."""

from __future__ import annotations

from tests.api.conftest import new_key

V1 = "/api/v1"


def test_a_proposal_beyond_the_money_available_is_refused_saying_how_much_is_left(world):
    # The world received NT$25,000 and holds NT$7,000 for two proposals awaiting approval;
    # NT$30,000 more is pledged but not paid, which cannot be committed.
    r = world.call(
        "ndc",
        "POST",
        f"{V1}/disbursements",
        key=new_key(),
        json={
            "kind": "grant",
            "project_id": world.ids["project_x"],
            "amount": 5_000_000_000,
            "purpose": "設備",
        },
    )
    assert r.status_code == 409, r.json
    assert r.json["code"] == "over_commitment"
    assert "NT$18,000 is available" in r.json["detail"]
    assert r.json["errors"] == {"amount": ["more than the NT$18,000 available"]}
    listing = world.call("ndc", "GET", f"{V1}/disbursements").json["items"]
    assert len(listing) == 2  # nothing was reserved
    ok = world.call(
        "ndc",
        "POST",
        f"{V1}/disbursements",
        key=new_key(),
        json={
            "kind": "grant",
            "project_id": world.ids["project_x"],
            "amount": 1_800_000,
            "purpose": "設備",
        },
    )
    assert ok.status_code == 201, ok.json


def _report(world, actor="business_x", **body):
    body = {"period_start": "2026-01-01", "period_end": "2026-03-31", "revenue": 5_000_000} | body
    return world.call(
        actor,
        "POST",
        f"{V1}/return-agreements/{{agreement_x}}/revenue-reports",
        key=new_key(),
        json=body,
    )


def test_revenue_reports_one_per_period_in_whole_dollars(world):
    assert _report(world).status_code == 201
    again = _report(world)
    assert again.status_code == 422 and "already reported" in again.json["detail"]
    overlap = _report(world, period_start="2026-03-01", period_end="2026-05-31")
    assert overlap.status_code == 422
    assert overlap.json["errors"] == {"period_start": ["overlaps a report already made"]}
    cents = _report(world, period_start="2026-04-01", period_end="2026-06-30", revenue=100_050)
    assert cents.status_code == 422
    assert cents.json["errors"] == {"revenue": ["must be a multiple of 100"]}
    backwards = _report(world, period_start="2026-09-30", period_end="2026-07-01")
    assert backwards.status_code == 422
    assert backwards.json["detail"] == "The period ends before it starts."
    agreement = world.call("business_x", "GET", f"{V1}/return-agreements/{{agreement_x}}").json
    assert agreement["due"]["amount"] == 500_000


def test_a_revenue_report_is_corrected_by_reversal_and_a_new_report(world):
    wrong = _report(world, revenue=60_000_000).json
    path = f"{V1}/revenue-reports/{wrong['id']}/corrections"
    stranger = world.call(
        "business_y", "POST", path, key=new_key(), json={"revenue": 1, "reason": "x"}
    )
    assert stranger.status_code == 404
    no_reason = world.call("business_x", "POST", path, key=new_key(), json={"revenue": 4_300_000})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    r = world.call(
        "business_x",
        "POST",
        path,
        key=new_key(),
        json={"revenue": 4_300_000, "reason": "多打了一個零"},
    )
    assert r.status_code == 201, r.json
    assert r.json["corrects_report_id"] == wrong["id"] and r.json["reason"] == "多打了一個零"
    assert r.json["due"]["amount"] == 430_000 and r.json["reversed_at"] is None
    reports = world.call(
        "business_x", "GET", f"{V1}/return-agreements/{{agreement_x}}/revenue-reports"
    ).json["items"]
    assert [(x["id"], x["reversed_at"] is not None) for x in reports] == [
        (r.json["id"], False),
        (wrong["id"], True),
    ]
    agreement = world.call("business_x", "GET", f"{V1}/return-agreements/{{agreement_x}}").json
    assert agreement["due"]["amount"] == 430_000


def test_the_public_summary_says_received_available_committed_and_pledged(world, client):
    from placefund.reference import counties

    s = client.get(f"{V1}/public/summary").json
    assert s["received"]["amount"] == 2_500_000
    assert s["available"]["amount"] == 1_800_000
    assert {k: v["amount"] for k, v in s["committed"].items()} == {
        "pending": 700_000,
        "approved": 0,
        "paid": 0,
    }
    assert s["pledged_not_received"]["amount"] == 500_000
    assert "balance" not in s  # it counted unpaid pledges as money
    assert s["as_of"]
    assert [c["code"] for c in s["by_county"]] == sorted(counties())
    assert [t["code"] for t in s["by_priority_type"]] == [
        "agricultural",
        "intermediate",
        "indigenous",
    ]
    lienchiang = next(c for c in s["by_county"] if c["code"] == "09007")
    assert lienchiang["received"]["amount"] == 0
    assert lienchiang["committed"]["paid"]["amount"] == 0


def test_the_ledger_position_shows_money_held_for_pending_proposals(world):
    pos = world.call("ndc", "GET", f"{V1}/ledger/position").json
    assert pos["held"] == {
        "unrestricted": {"amount": 700_000, "currency": "TWD", "display": "NT$7,000"}
    }
