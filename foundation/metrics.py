"""What the service counts for Prometheus (``/metrics``, web/metrics.py serves it).

The metrics live here, below every layer that records them, because prometheus_client
is not a web library: the ledger counts donations and postings without knowing Flask.

Under ``placefund serve`` gunicorn runs several worker processes, each with its own
counters. prometheus_client's multiprocess mode keeps each process's values in a file of a
directory that ``placefund serve`` creates before the workers fork
(``PROMETHEUS_MULTIPROC_DIR``, see placefund/server.py); a scrape, answered by whichever
worker, sums the files. Without that directory (tests, ``flask run``) the values live in
the process.

Counts of writes are taken only once the transaction commits (``count_after_commit``): a
donation that is rolled back, or replayed under its idempotency key, is not counted.

``placefund worker`` counts here too (the donations and postings its jobs commit, and the
jobs it runs) and serves them on an endpoint of its own (``placefund worker
--metrics-port``, placefund/metrics_endpoint.py). Under ``placefund serve --with-worker``
the worker child writes into the server's directory instead, so the server's ``/metrics``
sums its counts with the web processes'. Who may read either endpoint is decided once, here
(``may_read``).
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess
from prometheus_client import values as _values
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.orm import Session

#: Seconds: from a few milliseconds (a cached read) to the 60 s worker timeout
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUEST_LATENCY = Histogram(
    "placefund_http_request_duration_seconds",
    "Time to answer an HTTP request, per route (the URL rule, never the path with its ids), "
    "method and status class.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)

DONATIONS = Counter(
    "placefund_donations_recorded",
    "Donations recorded in the ledger (committed, replays not counted), per channel.",
    ["channel"],
)

POSTINGS = Counter(
    "placefund_postings",
    "Ledger postings (one per leg of each entry) committed, per operation (donation, "
    "refund, disbursement...).",
    ["operation"],
)

#: Seconds: from a Stripe event applied in a moment to a national match run or a statement
#: of 200,000 lines
JOB_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

JOBS_RUN = Counter(
    "placefund_jobs_run",
    "Job attempts a worker carried to an outcome, per kind and outcome: succeeded, failed "
    "(for good), retried (failed, queued again after a backoff), cancelled.",
    ["kind", "outcome"],
)

JOB_DURATION = Histogram(
    "placefund_job_duration_seconds",
    "Time from a job's claim to its outcome, per kind (each attempt).",
    ["kind"],
    buckets=JOB_BUCKETS,
)

WORKER_THREADS = Gauge(
    "placefund_worker_threads",
    "Threads of `placefund worker` running a job (busy) or waiting for one (idle).",
    ["state"],
    # Summed over the live processes: a worker that exits takes its threads along
    # (``process_ended``)
    multiprocess_mode="livesum",
)

#: Seconds from a Stripe event's creation: a webhook delivered at once (under a second) up to
#: the 3 days Stripe retries a webhook that failed, which the sync then catches
STRIPE_LAG_BUCKETS = (
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0, 259200.0,
)  # fmt: skip

STRIPE_EVENT_LAG = Histogram(
    "placefund_stripe_event_lag_seconds",
    "Seconds from a Stripe event's creation (Stripe's clock) to a step here: 'received' "
    "when the webhook or the sync stored it, 'settled' when its effect was applied in the "
    "ledger (or it was found to need none). The webhook lag, delivery and applying apart.",
    ["step", "via"],
    buckets=STRIPE_LAG_BUCKETS,
)

# Every metric has labels, so none holds a value before its first ``labels()`` call: the
# values are made after ``use_directory`` has chosen where they live, whatever imported this
# module first.

_PENDING = "foundation.metrics.pending"


def count_after_commit(session: Session, counter, amount: float = 1) -> None:
    """Add ``amount`` to ``counter`` once ``session``'s transaction commits; nothing if it
    rolls back. Counted at once when the write has committed already: a posting that
    commits in its own round trip (ledger.books.posting, ``commit_with_posting``) leaves the
    session outside any transaction."""
    _after_commit(session, counter.inc, amount)


def observe_after_commit(session: Session, histogram, value: float) -> None:
    """Observe ``value`` in ``histogram`` once ``session``'s transaction commits, as
    ``count_after_commit`` counts."""
    _after_commit(session, histogram.observe, value)


def _after_commit(session: Session, record, value: float) -> None:
    if not session.in_transaction():
        record(value)
        return
    session.info.setdefault(_PENDING, []).append((record, value))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for record, value in session.info.pop(_PENDING, ()):
        record(value)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def use_directory(path: Path) -> None:
    """Keep values in files of ``path`` from now on, in this process and the processes it
    forks or starts (multiprocess mode). ``placefund serve`` calls it before gunicorn's
    workers fork; ``path`` must be a fresh, empty directory of this server alone."""
    from foundation.settings import export_metrics_directory

    export_metrics_directory(path)
    _values.ValueClass = _values.MultiProcessValue()


def multiprocess() -> bool:
    """Whether values are kept in the multiprocess directory (``placefund serve`` and its
    worker child)."""
    return getattr(_values.ValueClass, "_multiprocess", False)


def process_ended(pid: int) -> None:
    """A process writing into this server's directory has exited (a gunicorn worker, the
    worker child): its live gauges go; its counters and histograms stay in the sums
    (Prometheus counters must not go down when a process is replaced). Nothing outside
    multiprocess mode."""
    if multiprocess():
        _multiprocess.mark_process_dead(pid)


def exposition(*collectors) -> bytes:
    """The text format of every metric of the service: the counters and histograms (summed
    over every process of this server when in multiprocess mode) and ``collectors`` (values
    computed now, such as the database's backlog)."""
    from prometheus_client import REGISTRY

    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if collectors:
        extra = CollectorRegistry()
        for collector in collectors:
            extra.register(collector)
        text += generate_latest(extra)
    return text


# --- who may read the metrics ------------------------------------------------------------------

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def may_read(
    token: str | None, *, authorization: str, remote_addr: str | None, forwarded: bool
) -> int:
    """Whether a request may read the metrics: 200, or the status to refuse it with.

    With ``token`` (PLACEFUND_METRICS_TOKEN) set, a request bearing it (``Authorization:
    Bearer ...``, compared in constant time) from anywhere, and nobody else (401). Without
    it, a scraper on this machine only: a loopback address that no proxy ``forwarded`` (a
    proxy on the same host would otherwise make every visitor look local); anyone else is
    told there is no such page (404). The web's ``/metrics`` and the worker's endpoint
    (placefund/metrics_endpoint.py) both ask here."""
    if token is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            return 200
        return 401
    if forwarded:
        return 404
    try:
        return 200 if ipaddress.ip_address(remote_addr or "").is_loopback else 404
    except ValueError:
        return 404
