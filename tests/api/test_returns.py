"""api/returns.py: return agreements, revenue reports and revenue returns."""

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
