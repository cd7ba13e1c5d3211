"""api/errors.py: problem documents that name the fields at fault and keep the Allow header."""

from __future__ import annotations

from tests.api.conftest import V1, new_key


def test_field_errors_are_named(world):
    r = world.call(
        "ndc", "POST", f"{V1}/disbursements", key=new_key(), json={"kind": "loan", "amount": -5}
    )
    assert r.status_code == 422
    assert {"kind", "amount", "project_id", "purpose"} <= set(r.json["errors"])


def test_method_not_allowed_keeps_allow_header(world):
    r = world.call("company_a", "DELETE", f"{V1}/pledges")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
