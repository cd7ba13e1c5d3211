"""placefund/app.py: the HTTP rules every response follows (body size limit, security
headers, request ids, an access log without secrets), seen through the API; /readyz reports
the sealing backlog, migrations behind and whether any worker is up."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from foundation.db import utcnow
from jobs import records
from ledger.books import chain
from tests.api.conftest import V1
from tests.factories import donate
from tests.job_helpers import worker_beating


def test_request_size_limit(world):
    big = {"name": "x" * 100_000}
    r = world.call("company_a", "POST", f"{V1}/tokens", json=big)
    assert r.status_code == 413 and r.mimetype == "application/problem+json"


def test_security_headers_request_id_and_no_secrets_in_logs(world, caplog):
    caplog.set_level(logging.INFO, logger="placefund.access")
    r = world.call("company_a", "GET", f"{V1}/me", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    record = next(rec for rec in caplog.records if rec.name == "placefund.access")
    assert record.request_id == "abc-123" and record.status == 200
    assert record.user_id == world.ids["user_company_a"]
    assert world.tokens["company_a"] not in caplog.text
    generated = world.call("company_a", "GET", f"{V1}/me", headers={"X-Request-ID": "bad id!"})
    assert len(generated.headers["X-Request-ID"]) == 32


def test_readyz_reports_the_backlog_and_turns_unavailable_past_the_limit(
    app, database, monkeypatch
):
    worker_beating(database)
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["migrations"] == "current" and ready.json["unsealed_entries"] == 0
    assert ready.json["workers"] == "up" and ready.json["workers_up"] == 1
    donate(database, 2)
    fresh = client.get("/readyz")
    assert fresh.status_code == 200
    assert fresh.json["unsealed_entries"] == 2
    later = utcnow() + dt.timedelta(minutes=10)  # entries are immutable: move the clock
    monkeypatch.setattr(chain, "utcnow", lambda: later)
    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert behind.json["sealing"] == "behind"
    assert behind.json["oldest_unsealed_seconds"] >= 600
    assert behind.mimetype == "application/json"


def test_readyz_is_unavailable_without_a_live_worker(app, database, monkeypatch):
    client = app.test_client()
    alone = client.get("/readyz")
    assert alone.status_code == 503
    assert alone.json["workers"] == "none" and alone.json["workers_up"] == 0
    # Everything else is fine: only the missing worker makes it unavailable
    assert alone.json["sealing"] == "ok" and alone.json["migrations"] == "current"

    first, second = worker_beating(database), worker_beating(database)
    second.worker += ":second"  # two processes (one name each), both beating
    second.beat_once()
    both = client.get("/readyz")
    assert both.status_code == 200 and both.json["workers_up"] == 2, both.json

    # A worker that stopped cleanly no longer counts; one silent for 30 s neither
    first.stop_heartbeat()
    assert client.get("/readyz").json["workers_up"] == 1
    later = utcnow() + dt.timedelta(seconds=31)
    monkeypatch.setattr(records, "utcnow", lambda: later)
    gone = client.get("/readyz")
    assert gone.status_code == 503 and gone.json["workers_up"] == 0


def test_readyz_says_when_migrations_are_behind(app, database):
    with database.session() as session, session.begin():
        session.execute(select(1))
        session.connection().exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["migrations"] == "behind"
