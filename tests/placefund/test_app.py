"""placefund/app.py: the HTTP rules every response follows (body size limit, security
headers, request ids, an access log without secrets), seen through the API."""

from __future__ import annotations

import logging

from tests.api.conftest import V1


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
