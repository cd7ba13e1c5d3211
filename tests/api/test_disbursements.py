"""api/disbursements.py: two institutions approve, then payment; voiding; verified businesses;
no proposal beyond the money available."""

from __future__ import annotations

from tests.api.conftest import V1, new_key


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
