"""``/metrics``: Prometheus' text format, for a scraper that the operator chose.

The counters and the latency histogram are kept by foundation/metrics.py (summed over the
workers of this server); the gauges about the database are computed at scrape time, so they
say what the database holds now whichever process answers.

Who may read it: with ``PLACEFUND_METRICS_TOKEN`` set, a request bearing that token
(``Authorization: Bearer ...``) and nobody else (401). Without it, a scraper on the same
machine only: a request from a loopback address that no proxy forwarded (a proxy on the
same host would otherwise make every visitor look local); anyone else is told there is no
such page (404). The rule is foundation.metrics.may_read, which the worker's own endpoint
(``placefund worker --metrics-port``) asks too; here a refusal is a problem document.
"""

from __future__ import annotations

import datetime as dt
import time

from flask import Flask, Response, g, request
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.metrics import CONTENT_TYPE, REQUEST_LATENCY, exposition, may_read
from jobs import records as job_records
from ledger.books.chain import unsealed_backlog
from ledger.payments.models import StripeEvent
from web.problems import problem
from web.request import db_session

#: The methods a label may name; any other word a client sends is ``other`` (each label
#: value is a time series kept forever: clients must not be able to make more)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class DatabaseGauges:
    """Values read from the database when scraped (a prometheus_client collector)."""

    def __init__(self, session: Session):
        self.session = session

    def collect(self):
        backlog = unsealed_backlog(self.session)
        yield GaugeMetricFamily(
            "placefund_unsealed_entries",
            "Committed ledger entries waiting to be sealed into the hash chain.",
            value=backlog.entries,
        )
        yield GaugeMetricFamily(
            "placefund_unsealed_oldest_age_seconds",
            "How long the oldest entry waiting to be sealed has waited (0 when none waits).",
            value=backlog.age_seconds(),
        )
        # Events are stored as they arrive, so the newest id is the last one received: read
        # through the primary key, not a scan of every event ever stored (0015 indexes the
        # ones waiting for a person)
        last = self.session.scalar(
            select(StripeEvent.received_at).order_by(StripeEvent.id.desc()).limit(1)
        )
        attention = self.session.scalar(
            select(func.count(StripeEvent.id)).where(StripeEvent.status == "needs_attention")
        )
        lag = GaugeMetricFamily(
            "placefund_stripe_webhook_last_event_age_seconds",
            "Seconds since the last Stripe event was received (webhook or sync): a quiet "
            "Stripe and a broken webhook both make it grow (the lag of each event is "
            "placefund_stripe_event_lag_seconds). Absent before the first event.",
        )
        if last is not None:
            lag.add_metric([], max(0.0, (utcnow() - last).total_seconds()))
        yield lag
        yield GaugeMetricFamily(
            "placefund_stripe_events_needing_attention",
            "Stripe events stored but not applied: a person has to look at them.",
            value=attention,
        )
        yield from self.job_gauges()

    def job_gauges(self):
        """The background jobs: what waits, for how long, who works, what finished lately.
        Each from an index (``ix_jobs_status_id``, ``ix_jobs_finished_at``), so a scrape
        stays cheap however many jobs the table has kept."""
        now = utcnow()
        queue = job_records.figures(self.session, now)
        depth = GaugeMetricFamily(
            "placefund_jobs",
            "Background jobs waiting for a worker (queued, including retries waiting for "
            "their backoff) or being run (running), per status.",
            labels=["status"],
        )
        depth.add_metric(["queued"], queue.queued)
        depth.add_metric(["running"], queue.running)
        yield depth
        yield GaugeMetricFamily(
            "placefund_jobs_oldest_queued_age_seconds",
            "Age of the oldest queued job that is due to run (0 when none waits): grows when "
            "the workers are down or cannot keep up.",
            value=queue.oldest_queued_seconds,
        )
        yield GaugeMetricFamily(
            "placefund_workers_up",
            "`placefund worker` processes that beat within the last 30 seconds.",
            value=len(job_records.workers_up(self.session, now)),
        )
        finished = GaugeMetricFamily(
            "placefund_jobs_finished_last_hour",
            "Background jobs finished within the last hour, per kind and outcome "
            "(succeeded, failed, cancelled). A gauge over a window, not a counter: a failed "
            "job retried leaves the failed count.",
            labels=["kind", "status"],
        )
        for kind, status, count in job_records.finished_since(
            self.session, now - dt.timedelta(hours=1)
        ):
            finished.add_metric([kind, status], count)
        yield finished


def register(app: Flask) -> None:
    token = app.config["SETTINGS"].metrics_token

    @app.after_request
    def _observe(response):
        rule = request.url_rule
        REQUEST_LATENCY.labels(
            route=rule.rule if rule is not None else "(unmatched)",
            method=request.method if request.method in METHODS else "other",
            status=f"{response.status_code // 100}xx",
        ).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    @app.get("/metrics")
    def metrics():
        """Prometheus' text format (see the module docstring for who may read it)."""
        allowed = may_read(
            token,
            authorization=request.headers.get("Authorization", ""),
            remote_addr=request.remote_addr,
            forwarded="X-Forwarded-For" in request.headers or "Forwarded" in request.headers,
        )
        if allowed == 401:
            return problem(
                401,
                "unauthorized",
                "The metrics need the bearer token the operator set.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        if allowed == 404:
            return problem(404, "not_found", "There is no such page.")
        body = exposition(DatabaseGauges(db_session()))
        return Response(body, content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
