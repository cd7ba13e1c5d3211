"""/metrics (web/metrics.py, foundation/metrics.py): Prometheus' text format with the
latency of each route, the donations and postings committed, and the database's gauges;
readable from this machine, or with the operator's token, and by nobody else.

The counters live in the test process across tests: each test compares before and after."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from foundation.db import utcnow
from foundation.settings import Settings
from ledger.books.chain import seal_pending
from ledger.fund import donations as fund_donations
from ledger.payments.models import StripeEvent
from placefund.app import create_app
from tests.api.conftest import V1, new_key
from tests.factories import donate, organisation

TOKEN = "metrics-token-0123456789abcdef"


def scrape(client, **kw) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    r = client.get("/metrics", **kw)
    assert r.status_code == 200, r.data[:300]
    assert r.content_type.startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.get_data(as_text=True))
        for s in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_latency_histogram_has_each_route_by_its_rule_not_its_path(world):
    client = world.client
    before = scrape(client)
    donation = world.call("ndc", "POST", f"{V1}/donations", json={"amount": 100_000}, key=new_key())
    assert donation.status_code == 201
    for _ in range(3):
        assert world.call("ndc", "GET", f"{V1}/donations/{donation.json['id']}").status_code == 200
    assert world.call("ndc", "GET", f"{V1}/donations/999999").status_code == 404
    after = scrape(client)
    route = "/api/v1/donations/<int:donation_id>"
    count = "placefund_http_request_duration_seconds_count"
    ok = dict(route=route, method="GET", status="2xx")
    assert value(after, count, **ok) - value(before, count, **ok) == 3
    missing = dict(route=route, method="GET", status="4xx")
    assert value(after, count, **missing) - value(before, count, **missing) == 1
    bucket = "placefund_http_request_duration_seconds_bucket"
    assert value(after, bucket, **ok, le="+Inf") == value(after, count, **ok)
    posted = dict(route="/api/v1/donations", method="POST", status="2xx")
    assert value(after, count, **posted) - value(before, count, **posted) == 1
    # Every label comes from a fixed set: a client's made-up method or path adds no series
    world.client.open("/api/v1/no/such/thing/42", method="BREW")
    brewed = scrape(client)
    assert value(brewed, count, route="(unmatched)", method="other", status="4xx") >= 1
    assert not [key for key in brewed if "BREW" in str(key) or "thing/42" in str(key)]
    # No label holds the id of what was asked for
    assert not [key for key in after if str(donation.json["id"]) + '"' in str(key)]
    assert not [key for key in after if "/999999" in str(key)]


def test_a_donation_counts_once_it_commits_and_never_again_on_replay(world, database):
    client = world.client
    before = scrape(client)
    key = new_key()
    for _ in range(2):  # the second is a replay under the same key
        r = world.call("ndc", "POST", f"{V1}/donations", json={"amount": 100_000}, key=key)
        assert r.status_code in (200, 201)
    # Recorded, then rolled back: not a donation
    with database.session() as session:
        company = organisation(session, "company")
        fund_donations.record_donation(
            session, key="rolled-back", channel="bank_transfer", amount=5_000,
            company_id=company.id, received_on=dt.date(2026, 11, 1),
        )  # fmt: skip
        session.rollback()
    after = scrape(client)
    donations = "placefund_donations_recorded_total"
    assert (
        value(after, donations, channel="bank_transfer")
        - value(before, donations, channel="bank_transfer")
        == 1
    )
    postings = "placefund_postings_total"
    added = value(after, postings, operation="donation") - value(
        before, postings, operation="donation"
    )
    assert added >= 2  # one balanced entry: two legs at least


def test_the_unsealed_backlog_is_what_the_database_holds(client, database):
    samples = scrape(client)
    assert value(samples, "placefund_unsealed_entries") == 0
    assert value(samples, "placefund_unsealed_oldest_age_seconds") == 0
    donate(database, 3)
    samples = scrape(client)
    assert value(samples, "placefund_unsealed_entries") == 3
    assert value(samples, "placefund_unsealed_oldest_age_seconds") >= 0
    with database.session() as session, session.begin():
        seal_pending(session, wait=True)
    assert value(scrape(client), "placefund_unsealed_entries") == 0


def test_webhook_lag_is_the_age_of_the_last_stripe_event(client, database):
    name = "placefund_stripe_webhook_last_event_age_seconds"
    assert (name, ()) not in scrape(client)  # no event yet: no figure, rather than a false 0
    with database.session() as session, session.begin():
        for i, (minutes, status) in enumerate([(30, "applied"), (2, "needs_attention")]):
            session.add(
                StripeEvent(
                    event_id=f"evt_{i}", type="payment_intent.succeeded", stripe_created=0,
                    status=status, received_at=utcnow() - dt.timedelta(minutes=minutes),
                )
            )  # fmt: skip
    samples = scrape(client)
    assert 120 <= value(samples, name) < 30 * 60
    assert value(samples, "placefund_stripe_events_needing_attention") == 1


def test_only_this_machine_may_read_the_metrics_without_a_token(client):
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert far.status_code == 404 and far.mimetype == "application/problem+json"
    assert far.json["code"] == "not_found"
    # A proxy on this machine passing a visitor's request on: not this machine's scraper
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


@pytest.fixture
def guarded(database):
    settings = Settings(
        database_url=str(database.engine.url), secret_key="test-secret", metrics_token=TOKEN
    )
    return create_app(settings, database=database).test_client()


def test_with_a_token_set_only_its_bearer_may_read_the_metrics(guarded):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = guarded.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN not in refused.get_data(as_text=True)
    scrape(guarded, headers={"Authorization": f"Bearer {TOKEN}"})
    far = {"REMOTE_ADDR": "203.0.113.7"}
    scrape(guarded, headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=far)


@pytest.mark.postgres
def test_on_postgresql_a_donation_committed_with_its_posting_counts_once(pg):
    """On PostgreSQL the last posting commits in its own round trip (no session.commit
    afterwards has anything to do): the donation is counted all the same, and the database
    gauges read there too."""
    from tests.api.conftest import World, build_world

    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="t"), database=pg)
    app.config["TESTING"] = True
    with pg.session() as s, s.begin():
        tokens, ids = build_world(s)
    world = World(app.test_client(), tokens, ids)
    try:
        before = scrape(world.client)
        key = new_key()
        for _ in range(2):
            r = world.call("ndc", "POST", f"{V1}/donations", json={"amount": 100_000}, key=key)
            assert r.status_code in (200, 201)
        after = scrape(world.client)
        donations = "placefund_donations_recorded_total"
        counted = value(after, donations, channel="bank_transfer") - value(
            before, donations, channel="bank_transfer"
        )
        assert counted == 1
        assert value(after, "placefund_unsealed_entries") >= 1
        assert (("placefund_stripe_events_needing_attention", ())) in after
    finally:
        cache = app.extensions.get("placefund.token_cache")
        if cache is not None:
            cache.close()


def test_the_job_queue_workers_and_finished_jobs_are_what_the_database_holds(
    app, client, database, monkeypatch
):
    from jobs import records
    from tests.job_helpers import run_jobs, worker_beating
    from web import metrics as web_metrics

    samples = scrape(client)
    assert value(samples, "placefund_jobs", status="queued") == 0
    assert value(samples, "placefund_jobs_oldest_queued_age_seconds") == 0
    assert value(samples, "placefund_workers_up") == 0
    with database.session() as s, s.begin():
        ids = [records.submit(s, "seal")[0].id for _ in range(4)]
        records.cancel(s, ids[-1])
    for job_id in ids[:3]:
        app.extensions["placefund.queue"].enqueue(job_id)

    later = utcnow() + dt.timedelta(seconds=90)  # nobody took them for a minute and a half
    monkeypatch.setattr(web_metrics, "utcnow", lambda: later)
    samples = scrape(client)
    assert value(samples, "placefund_jobs", status="queued") == 3
    assert value(samples, "placefund_jobs", status="running") == 0
    assert value(samples, "placefund_jobs_oldest_queued_age_seconds") >= 90
    assert value(samples, "placefund_jobs_finished_last_hour", kind="seal", status="cancelled") == 1
    monkeypatch.undo()

    worker_beating(database)
    assert run_jobs(app) == 3
    samples = scrape(client)
    assert value(samples, "placefund_workers_up") == 1
    assert value(samples, "placefund_jobs", status="queued") == 0
    assert value(samples, "placefund_jobs_oldest_queued_age_seconds") == 0
    finished = "placefund_jobs_finished_last_hour"
    assert value(samples, finished, kind="seal", status="succeeded") == 3
    assert value(samples, finished, kind="seal", status="cancelled") == 1
    # An hour on, they are no longer recent
    monkeypatch.setattr(web_metrics, "utcnow", lambda: utcnow() + dt.timedelta(hours=1, seconds=5))
    assert value(scrape(client), finished, kind="seal", status="succeeded") == 0


def test_the_finished_jobs_are_counted_from_an_index_not_the_whole_table(database):
    from sqlalchemy import event

    from jobs import records

    seen = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.session() as s:
            records.finished_since(s, utcnow() - dt.timedelta(hours=1))
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    (statement, parameters), *_ = [q for q in seen if "FROM jobs" in q[0]]
    with database.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_jobs_finished_at" in details, details
