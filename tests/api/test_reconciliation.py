"""Reconciliation through the API: Stripe imports and runs, bank statements, decisions;
the statement lines with the queue's filters and a total, and a confirm whose amounts differ
needs a reason through the API as well."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

from identity.tokens import issue_token
from jobs.models import Job
from ledger.payments import card_payments
from ledger.reconciliation.models import StatementImport
from tests import factories
from tests.api.test_webhooks import IN_ORDER, stripe_world, stripe_world_pg  # noqa: F401
from tests.job_helpers import run_jobs

BANK = Path(__file__).parent.parent / "fixtures" / "bank"


def import_statement(world, body: dict, actor: str = "ndc") -> dict:
    """POST a statement (202 and the job), let a worker run it, poll the job: its JSON."""
    accepted = world.call(actor, "POST", "/api/v1/reconciliation/bank-statements", json=body)
    assert accepted.status_code == 202, accepted.json
    location = accepted.headers["Location"]
    assert location == f"/api/v1/jobs/{accepted.json['id']}"
    assert accepted.json["kind"] == "bank_import" and accepted.json["status"] == "queued"
    run_jobs(world.client.application)
    return world.call(actor, "GET", location).json


def _manager(world):
    with world.database.session() as s, s.begin():
        manager = factories.manager(s, "NDC")
        return {"Authorization": f"Bearer {issue_token(s, manager, name='t')[1]}"}


def _stripe_import(world, auth, body) -> dict:
    """POST a Stripe import: 202 with the job, nothing imported until a worker runs it;
    then poll the job and return its result."""
    client = world.client
    before = _count(world, StatementImport)
    accepted = client.post("/api/v1/reconciliation/stripe-imports", json=body, headers=auth)
    assert accepted.status_code == 202, accepted.json
    job = accepted.json
    assert accepted.headers["Location"].endswith(f"/api/v1/jobs/{job['id']}")
    assert (job["kind"], job["status"]) == ("stripe_import", "queued")
    assert _count(world, StatementImport) == before
    run_jobs(world.app)
    polled = client.get(accepted.headers["Location"], headers=auth)
    assert polled.status_code == 200
    assert polled.json["status"] == "succeeded", polled.json
    return polled.json["result"]


def _count(world, model) -> int:
    from sqlalchemy import func, select

    with world.database.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_stripe_reconciliation_for_a_payout_and_a_date_range(stripe_world):  # noqa: F811
    stripe_world.deliver_all(IN_ORDER)
    client, auth = stripe_world.client, _manager(stripe_world)
    payout_txns = {"txn_3QxFx1", "txn_3QxFx2", "txn_3QxFx3", "txn_3QxFx4"}
    gw = stripe_world.gateway
    listed = gw.list_balance_transactions

    def for_payout(*, payout=None, created_gte=None, created_lt=None):
        items = listed(created_gte=created_gte, created_lt=created_lt)
        return [t for t in items if payout is None or t["id"] in payout_txns]

    gw.list_balance_transactions = for_payout
    imported = _stripe_import(stripe_world, auth, {"payout": "po_1QxFxPayout"})
    assert (imported["lines_read"], imported["lines_new"]) == (4, 4)
    again = _stripe_import(stripe_world, auth, {"payout": "po_1QxFxPayout"})
    assert again["lines_new"] == 0  # fingerprints: never twice
    assert again["import_id"] != imported["import_id"]

    run = client.post(
        "/api/v1/reconciliation/runs",
        json={"kind": "stripe", "payout": "po_1QxFxPayout"},
        headers=auth,
    )
    assert run.status_code == 201, run.json
    assert run.json["summary"] == {
        "transactions": 4,
        "matched": 4,
        "missing_in_ledger": 0,
        "missing_in_stripe": 0,
        "amount_mismatch": 0,
        "fee_mismatch": 0,
        "payouts_ok": 1,
        "payouts_mismatch": 0,
    }
    assert run.json["ok"] is True
    detail = client.get(
        f"/api/v1/reconciliation/runs/{run.json['id']}?outcome=payout_ok", headers=auth
    ).json
    assert detail["results"][0]["targets"] == "payout:po_1QxFxPayout"

    # Everything Stripe has, by date: the dispute and the failed refund's transactions too
    full = _stripe_import(stripe_world, auth, {"from": "2026-11-01"})
    assert full["lines_new"] == 4
    everything = client.post(
        "/api/v1/reconciliation/runs",
        json={"kind": "stripe", "from": "2026-11-01", "to": "2026-12-31", "dry_run": True},
        headers=auth,
    ).json
    summary = everything["summary"]
    assert summary == {**summary, "transactions": 8, "matched": 8, "missing_in_stripe": 0}
    assert summary["missing_in_ledger"] == 0
    assert summary["fee_mismatch"] == summary["amount_mismatch"] == 0


def test_stripe_mismatches_are_reported(stripe_world):  # noqa: F811
    stripe_world.deliver_all(IN_ORDER[:3])
    gw = stripe_world.gateway
    gw.objects["txn_3QxFx1"]["fee"] = 125  # Stripe says another fee than we booked
    gw.objects["txn_3QxFx1"]["net"] = 3025
    gw.objects["txn_3QxFx2"]["amount"] = 6400
    gw.objects["txn_unknown"] = {
        **gw.objects["txn_3QxFx1"],
        "id": "txn_unknown",
        "source": "ch_unknown",
    }
    client, auth = stripe_world.client, _manager(stripe_world)
    _stripe_import(stripe_world, auth, {"from": "2026-11-20", "to": "2026-11-20"})
    run = client.post(
        "/api/v1/reconciliation/runs",
        json={"kind": "stripe", "from": "2026-11-20", "to": "2026-11-20"},
        headers=auth,
    ).json
    s = run["summary"]
    assert (s["fee_mismatch"], s["amount_mismatch"], s["missing_in_ledger"]) == (1, 1, 1)
    assert run["ok"] is False
    lines = client.get("/api/v1/reconciliation/lines?source=stripe", headers=auth).json
    assert {ln["status"] for ln in lines["items"]} == {"matched", "unmatched"}


def test_bank_statement_import_reports_bad_lines_and_decisions_need_reasons(world):
    data = base64.b64encode((BANK / "tw_bank_malformed_big5.csv").read_bytes()).decode()
    refused = import_statement(world, {"content": data})
    assert refused["status"] == "failed" and refused["attempts"] == 1  # no retry
    assert refused["error"]["code"] == "bank_statement_invalid"
    assert "line 3" in refused["error"]["detail"]
    assert 3 in {b["line"] for b in refused["result"]["bad_lines"]}
    assert world.call("ndc", "GET", "/api/v1/reconciliation/lines").json["items"] == []
    imported = import_statement(
        world, {"content": data, "skip_bad_lines": True, "encoding": "big5"}
    )
    assert imported["status"] == "succeeded", imported
    result = imported["result"]
    assert (result["lines_new"], result["lines_read"], result["duplicates"]) == (2, 2, 0)
    assert result["bad_line_count"] >= 1 and result["run_id"] is not None
    assert result["unmatched"] + result["matched"] + result["suggested"] >= 1
    statement = world.call(
        "ndc", "GET", f"/api/v1/reconciliation/lines?import_id={result['import_id']}"
    ).json
    assert statement["total"] == 2
    run = world.call(
        "ndc",
        "POST",
        "/api/v1/reconciliation/runs",
        json={"kind": "bank", "import_id": result["import_id"], "dry_run": True},
    )
    assert run.status_code == 201 and run.json["dry_run"] is True
    line = world.call("ndc", "GET", "/api/v1/reconciliation/lines").json["items"][0]
    path = f"/api/v1/reconciliation/lines/{line['id']}"
    assert world.call("ndc", "POST", path + "/ignore", json={}).status_code == 422
    ignored = world.call("ndc", "POST", path + "/ignore", json={"reason": "利息"})
    assert ignored.json["status"] == "ignored" and ignored.json["reason"] == "利息"
    assert world.call("ndc", "POST", path + "/confirm", json={}).status_code == 409
    back = world.call("moea", "POST", path + "/unmatch", json={"reason": "重新核對"})
    assert back.json["status"] == "unmatched"
    runs = world.call("ndc", "GET", "/api/v1/reconciliation/runs?kind=bank").json["items"]
    assert len(runs) == 2  # the job's own run, then the dry run
    assert {r["id"] for r in runs} >= {result["run_id"]}


def test_a_stripe_import_is_checked_before_anything_is_queued(stripe_world):  # noqa: F811
    client, auth = stripe_world.client, _manager(stripe_world)
    path = "/api/v1/reconciliation/stripe-imports"
    for body, field in (
        ({}, "payout"),
        ({"payout": "not-a-payout"}, "payout"),
        ({"from": "2026-11-20", "to": "2026-11-19"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"payout": "po_1", "extra": 1}, "extra"),
    ):
        refused = client.post(path, json=body, headers=auth)
        assert refused.status_code == 422, (body, refused.json)
        assert refused.mimetype == "application/problem+json"
        assert field in refused.json["errors"], refused.json
    assert _count(stripe_world, Job) == 0
    # Stripe not configured: refused at once too (503), nothing queued
    from ledger.payments.stripe_gateway import StripeGateway, StripeSettings

    unconfigured = StripeGateway(StripeSettings(None, None, None))
    stripe_world.app.extensions["placefund.stripe"] = unconfigured
    refused = client.post(path, json={"payout": "po_1"}, headers=auth)
    assert refused.status_code == 503 and refused.json["code"] == "stripe_not_configured"
    assert _count(stripe_world, Job) == 0


def test_the_same_import_asked_twice_while_queued_is_one_job(stripe_world):  # noqa: F811
    client, auth = stripe_world.client, _manager(stripe_world)
    path = "/api/v1/reconciliation/stripe-imports"
    first = client.post(path, json={"payout": "po_1QxFxPayout"}, headers=auth)
    second = client.post(path, json={"payout": "po_1QxFxPayout"}, headers=auth)
    assert first.status_code == second.status_code == 202
    assert first.json["id"] == second.json["id"]
    other = client.post(path, json={"from": "2026-11-01"}, headers=auth)
    assert other.json["id"] != first.json["id"]
    run_jobs(stripe_world.app)
    assert _count(stripe_world, StatementImport) == 2


def test_sync_report_counts(stripe_world):  # noqa: F811
    report = card_payments.sync(
        stripe_world.database.session, stripe_world.gateway, dt.date(2026, 11, 1)
    )
    assert report.events_seen == len(IN_ORDER)
    assert report.needs_attention == 0, report.problems


@pytest.mark.postgres
def test_stripe_reconciliation_on_postgresql(stripe_world_pg):  # noqa: F811
    test_stripe_reconciliation_for_a_payout_and_a_date_range(stripe_world_pg)


def test_statement_imports_may_be_large_other_bodies_may_not(world):
    import base64

    rows = ["date,description,amount,balance"]
    balance = 0
    for n in range(3000):  # about 120 KB of CSV: over the 64 KB limit of other requests
        balance += 100 * (n + 1)
        rows.append(f'2026-11-02,"transfer {n} from a company",{100 * (n + 1)},{balance}')
    content = base64.b64encode(("\n".join(rows) + "\n").encode()).decode()
    assert len(content) > 64 * 1024
    imported = import_statement(world, {"content": content, "mapping": "generic"})
    assert imported["status"] == "succeeded", imported
    assert imported["result"]["lines_new"] == 3000
    assert imported["progress"] == {"done": 3000, "total": 3000}
    too_big = world.call(
        "company_a", "POST", "/api/v1/pledges", json={"amount": 100_000, "x": content}, key="k"
    )
    assert too_big.status_code == 413


START = dt.date(2026, 1, 1)


def _import(world, n: int) -> None:
    rows = ["date,description,amount,balance,counterparty"]
    rows += [
        f'{(START + dt.timedelta(days=i // 3)).isoformat()},line-{i},"{101 + i:,}",,'
        for i in range(n)
    ]
    content = base64.b64encode(("\n".join(rows) + "\n").encode()).decode()
    imported = import_statement(world, {"content": content, "mapping": "generic"})
    assert imported["status"] == "succeeded", imported


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
    assert import_statement(world, {"content": content, "mapping": "generic"})["status"] == (
        "succeeded"
    )
    (line,) = world.call("ndc", "GET", "/api/v1/reconciliation/lines").json["items"]
    path = f"/api/v1/reconciliation/lines/{line['id']}/confirm"
    target = [f"donation:{world.ids['donation_a']}"]
    refused = world.call("ndc", "POST", path, json={"targets": target})
    assert refused.status_code == 422
    assert "NT$30" in refused.json["detail"] and "reason" in refused.json["errors"]
    done = world.call("ndc", "POST", path, json={"targets": target, "reason": "匯費"})
    assert done.status_code == 200 and done.json["status"] == "confirmed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "not base64!"}, "content"),
        ({"content": base64.b64encode(b"date,amount\n").decode(), "mapping": "swift"}, "mapping"),
        ({"content": ""}, "content"),
    ],
)
def test_a_bad_statement_request_is_refused_at_once_and_queues_nothing(world, body, field):
    refused = world.call("ndc", "POST", "/api/v1/reconciliation/bank-statements", json=body)
    assert refused.status_code == 422, refused.json
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert field in str(refused.json.get("errors", refused.json))
    assert world.call("ndc", "GET", "/api/v1/jobs?kind=bank_import").json["items"] == []


def test_a_statement_over_24_mb_is_refused_and_queues_nothing(world):
    big = base64.b64encode(b"x" * (24 * 1024 * 1024 + 1)).decode()
    refused = world.call(
        "ndc", "POST", "/api/v1/reconciliation/bank-statements", json={"content": big}
    )
    assert refused.status_code in (413, 422)
    assert world.call("ndc", "GET", "/api/v1/jobs?kind=bank_import").json["items"] == []


def test_the_same_statement_posted_twice_while_queued_is_one_job(world):
    content = base64.b64encode(b"date,description,amount,balance\n2026-11-02,x,100,\n").decode()
    body = {"content": content, "mapping": "generic"}
    first = world.call("ndc", "POST", "/api/v1/reconciliation/bank-statements", json=body)
    again = world.call("ndc", "POST", "/api/v1/reconciliation/bank-statements", json=body)
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json["id"] == again.json["id"]
    run_jobs(world.client.application)
    assert world.call("ndc", "GET", first.headers["Location"]).json["status"] == "succeeded"
    # Finished: the same file may be imported again (its lines are then duplicates)
    later = import_statement(world, body)
    assert later["id"] != first.json["id"]
    assert (later["result"]["lines_new"], later["result"]["duplicates"]) == (0, 1)


def test_a_runs_findings_are_read_a_page_at_a_time(app, database):
    """A run over a long statement is read in pages: every finding once, in order."""
    from ledger.reconciliation import runs as reconciliation_runs

    with database.session() as s, s.begin():
        manager = factories.manager(s, "NDC")
        auth = {"Authorization": f"Bearer {issue_token(s, manager, name='t')[1]}"}
        report = reconciliation_runs.import_bank_statement(
            s, (BANK / "generic_utf8.csv").read_bytes(), mapping="generic", actor=manager
        )
        run_id = reconciliation_runs.run_bank(s, import_id=report.import_id, actor=manager).id
    client = app.test_client()
    everything = client.get(f"/api/v1/reconciliation/runs/{run_id}", headers=auth).json
    assert len(everything["results"]) >= 3 and everything["next_cursor"] is None

    seen, cursor = [], None
    while True:
        query = "?limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/reconciliation/runs/{run_id}{query}", headers=auth).json
        assert len(page["results"]) == 1
        seen += [r["id"] for r in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["id"] for r in everything["results"]]

    for query in ("?limit=0", "?limit=1001", "?cursor=x", "?cursor=" + "1" * 19):
        bad = client.get(f"/api/v1/reconciliation/runs/{run_id}{query}", headers=auth)
        assert bad.status_code == 422 or bad.status_code == 400, query
        assert bad.mimetype == "application/problem+json"
