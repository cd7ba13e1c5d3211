"""Running background jobs inside a test, the way ``placefund worker`` runs them.

``run_jobs(app)`` takes every message waiting in the app's queue (huey's real storage: the
SQLite file beside the test's database, or its PostgreSQL tables) and runs it through the
same ``jobs.runner.Runner`` a worker uses, with the app's own services (its Stripe gateway,
which a test may have pointed at localstripe). Nothing is faked: only the process differs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

from foundation.db import utcnow
from jobs.queue import Queue
from jobs.registry import KINDS
from jobs.runner import Runner
from placefund.app import job_services


def worker_for(app) -> tuple[Queue, Runner]:
    database = app.extensions["placefund.db"]
    services = job_services(app.config["SETTINGS"], app.extensions["placefund.stripe"])
    runner = Runner(database, services)
    return Queue(database, execute=runner.run), runner


def run_jobs(app, *, rounds: int = 10) -> int:
    """Run what is queued, then what those jobs queued, up to ``rounds`` times. Returns how
    many messages ran."""
    queue, _runner = worker_for(app)
    total = 0
    try:
        for _ in range(rounds):
            ran = queue.drain()
            total += ran
            if not ran:
                break
    finally:
        queue.close()  # on PostgreSQL, huey's connection (a ResourceWarning otherwise)
    return total


def worker_beating(database) -> Runner:
    """A worker's heartbeat in ``database``, written by the worker's own Runner: what
    ``/readyz`` looks for (a live ``placefund worker``), without a worker process."""
    runner = Runner(database, {})
    runner.beat_once()
    return runner


def close_queue(app) -> None:
    """Close the connection the app's own queue opened to enqueue (PostgreSQL)."""
    app.extensions["placefund.queue"].close()


@contextlib.contextmanager
def worker_thread(app) -> Iterator[None]:
    """A worker beside a served test app: the jobs its pages queue run as they would under
    ``placefund worker`` (its Runner, the queue's real storage), on a thread of this process."""
    queue, runner = worker_for(app)
    stopping = threading.Event()

    def work() -> None:
        while not stopping.is_set():
            if not queue.drain():
                stopping.wait(0.1)

    # Its heartbeat too, every 5 s as a worker's: /readyz sees a worker up
    runner.start_heartbeat()
    worker = threading.Thread(target=work, name="test-worker", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stopping.set()
        worker.join(timeout=30)
        runner.stop_heartbeat()
        queue.close()


def unscheduled_minute(now: dt.datetime | None = None, *, besides=()) -> dt.datetime:
    """``now`` (default: this moment), moved on by whole minutes until no registered kind but
    those named in ``besides`` is scheduled then: a sweep at that time makes no periodic job
    of the service's (the Stripe sync every tenth minute, the reminders at 01:00), so a test
    counting what a sweep hands out does not depend on the clock it runs at."""
    when = now or utcnow()
    scheduled = [k for k in KINDS.values() if k.schedule is not None and k.name not in besides]
    for _ in range(24 * 60):
        if not any(k.schedule(when) for k in scheduled):
            return when
        when += dt.timedelta(minutes=1)
    raise AssertionError("every minute of a day has a job scheduled")
