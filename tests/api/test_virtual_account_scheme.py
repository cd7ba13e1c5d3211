"""The virtual-account scheme configured in the settings (PLACEFUND_VA_PREFIX and
PLACEFUND_VA_WEIGHTS) is the one pledges get and statements are read with, through the
API (its import jobs run by the workers), the console and the command line alike."""

from __future__ import annotations

import base64

import pytest
from click.testing import CliRunner

from foundation.settings import Settings
from identity.tokens import issue_token
from ledger.fund import common
from ledger.fund import pledges as fund_pledges
from ledger.fund.virtual_accounts import VirtualAccountScheme, generate
from placefund.app import create_app
from tests import factories
from tests.api.conftest import new_key
from tests.job_helpers import run_jobs, worker_for

#: A bank's own scheme: not the default prefix, and weighted digits instead of Luhn
CONFIGURED = {"PLACEFUND_VA_PREFIX": "8765", "PLACEFUND_VA_WEIGHTS": "3,7,1"}
SCHEME = VirtualAccountScheme("8765", weights=(3, 7, 1))


@pytest.fixture
def app(database):
    settings = Settings.from_env(
        {"DATABASE_URL": str(database.engine.url), "SECRET_KEY": "test-secret", **CONFIGURED}
    )
    flask_app = create_app(settings, database=database)
    flask_app.config["TESTING"] = True
    return flask_app


def _statement(*memos: str) -> bytes:
    lines = ["date,description,amount,balance,counterparty"]
    lines += [f'2026-11-02,{memo},"5,000",,' for memo in memos]
    return ("\n".join(lines) + "\n").encode()


def test_the_api_pledges_and_reads_statements_with_the_configured_scheme(app, client, database):
    with database.session() as s, s.begin():
        manager = factories.manager(s, "NDC")
        company = factories.organisation(s, "company", name="甲公司")
        token = issue_token(s, manager, name="test")[1]
        company_id = company.id
    auth = {"Authorization": f"Bearer {token}"}
    made = client.post(
        "/api/v1/pledges",
        json={"amount": 500_000, "company_id": company_id},
        headers={**auth, "Idempotency-Key": new_key()},
    )
    assert made.status_code == 201, made.text
    reference = made.json["virtual_account"]
    assert reference == generate(made.json["id"], SCHEME)
    assert reference != generate(made.json["id"], common.DEFAULT_VA_SCHEME)

    default = generate(made.json["id"], common.DEFAULT_VA_SCHEME)
    content = base64.b64encode(_statement(f"轉入 {reference}", f"轉入 {default}")).decode()
    imported = client.post(
        "/api/v1/reconciliation/bank-statements",
        json={"content": content, "mapping": "generic"},
        headers=auth,
    )
    assert imported.status_code == 202, imported.text
    run_jobs(app)
    job = client.get(imported.headers["Location"], headers=auth).json
    assert job["status"] == "succeeded", job
    lines = client.get("/api/v1/reconciliation/lines?source=bank", headers=auth).json["items"]
    assert sorted(line["virtual_accounts"] for line in lines) == ["", reference]


def test_the_workers_read_statements_with_the_configured_scheme(app):
    queue, runner = worker_for(app)
    try:
        assert runner.services["va_scheme"] == SCHEME
    finally:
        queue.huey.storage.close()


def test_the_command_line_reads_statements_with_the_configured_scheme(
    database, monkeypatch, tmp_path
):
    from ledger.reconciliation.models import StatementLine
    from placefund.cli import main

    with database.session() as s, s.begin():
        company = factories.organisation(s, "company", name="甲公司")
        pledge = fund_pledges.record_pledge(
            s, key="p", company_id=company.id, amount=500_000, scheme=SCHEME
        )
        reference = pledge.virtual_account
    path = tmp_path / "statement.csv"
    path.write_bytes(_statement(f"轉入 {reference}"))
    result = CliRunner().invoke(
        main,
        ["reconcile", "bank", str(path), "--mapping", "generic", "--dry-run"],
        env={"DATABASE_URL": str(database.engine.url), **CONFIGURED},
    )
    assert result.exit_code == 0, result.output
    with database.session() as s:
        (line,) = s.query(StatementLine).all()
        assert line.virtual_accounts == reference
