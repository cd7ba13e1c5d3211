"""Every operation in the OpenAPI document has a readable operationId no other shares."""

from __future__ import annotations

import re

from api.operation_ids import RENAMED

METHODS = ("get", "put", "post", "patch", "delete")


def _operations(client) -> list[tuple[str, str, dict]]:
    spec = client.get("/api/v1/openapi.json").json
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_has_a_unique_snake_case_operation_id(client):
    operations = _operations(client)
    ids = [op.get("operationId") for _m, _p, op in operations]
    missing = [f"{m.upper()} {p}" for m, p, op in operations if not op.get("operationId")]
    assert not missing, f"operations without an operationId: {missing}"
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", i) for i in ids), ids


def test_operation_ids_name_what_the_operation_does(client):
    named = {(m, p): op["operationId"] for m, p, op in _operations(client)}
    assert named[("post", "/api/v1/pledges")] == "create_pledge"
    assert named[("get", "/api/v1/pledges")] == "list_pledges"
    assert named[("post", "/api/v1/donations")] == "record_donation"
    # Renamed: the function alone (`propose`, `get_run` twice) would not say it
    assert named[("post", "/api/v1/disbursements")] == "propose_disbursement"
    assert named[("get", "/api/v1/match/runs/{run_id}")] == "get_match_run"
    assert named[("get", "/api/v1/reconciliation/runs/{run_id}")] == "get_reconciliation_run"


def test_every_renaming_names_a_view_that_exists(app):
    """A renamed or removed view would otherwise leave its entry behind, silently unused."""
    assert set(RENAMED) <= set(app.view_functions)
