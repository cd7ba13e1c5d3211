"""``GET /api/v1/reconciliation/lines`` with the queue's filters and a total; a confirm whose
amounts differ needs a reason through the API as well."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

START = dt.date(2026, 1, 1)


def _import(world, n: int) -> None:
    rows = ["date,description,amount,balance,counterparty"]
    rows += [
        f'{(START + dt.timedelta(days=i // 3)).isoformat()},line-{i},"{101 + i:,}",,'
        for i in range(n)
    ]
    content = base64.b64encode(("\n".join(rows) + "\n").encode()).decode()
    imported = world.call(
        "ndc",
        "POST",
        "/api/v1/reconciliation/bank-statements",
        json={"content": content, "mapping": "generic"},
    )
    assert imported.status_code == 201, imported.json


def test_lines_filter_by_date_amount_and_status_with_a_total(world):
    _import(world, 30)
    url = "/api/v1/reconciliation/lines"
    page = world.call("ndc", "GET", f"{url}?limit=5").json
    assert page["total"] == 30 and len(page["items"]) == 5 and page["next_cursor"]
    dated = world.call("ndc", "GET", f"{url}?from=2026-01-02&to=2026-01-03").json
    assert dated["total"] == 6
    assert {i["date"] for i in dated["items"]} == {"2026-01-02", "2026-01-03"}
    sized = world.call("ndc", "GET", f"{url}?min_amount=11000&max_amount=11200&status=open").json
    assert sized["total"] == 3
    assert sorted(i["memo"] for i in sized["items"]) == ["line-10", "line-11", "line-9"]
    assert world.call("ndc", "GET", f"{url}?status=ignored").json["total"] == 0


@pytest.mark.parametrize(
    "query",
    ["from=2026-02-01&to=2026-01-01", "min_amount=abc", "min_amount=-5", "status=pending"],
)
def test_a_wrong_line_filter_is_a_problem_document(world, query):
    response = world.call("ndc", "GET", f"/api/v1/reconciliation/lines?{query}")
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_confirming_a_differing_amount_through_the_api_needs_a_reason(world):
    rows = 'date,description,amount,balance,counterparty\n2026-01-05,ATM,"4,970",,\n'
    content = base64.b64encode(rows.encode()).decode()
    world.call(
        "ndc",
        "POST",
        "/api/v1/reconciliation/bank-statements",
        json={"content": content, "mapping": "generic"},
    )
    (line,) = world.call("ndc", "GET", "/api/v1/reconciliation/lines").json["items"]
    path = f"/api/v1/reconciliation/lines/{line['id']}/confirm"
    target = [f"donation:{world.ids['donation_a']}"]
    refused = world.call("ndc", "POST", path, json={"targets": target})
    assert refused.status_code == 422
    assert "NT$30" in refused.json["detail"] and "reason" in refused.json["errors"]
    done = world.call("ndc", "POST", path, json={"targets": target, "reason": "匯費"})
    assert done.status_code == 200 and done.json["status"] == "confirmed"
