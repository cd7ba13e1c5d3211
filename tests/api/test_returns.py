"""api/returns.py: return agreements, revenue reports (one per period, in whole dollars,
corrected by reversal and a new report) and revenue returns."""

from __future__ import annotations

from tests.api.conftest import V1, new_key


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
