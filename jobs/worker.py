"""``placefund worker``: huey's consumer running this service's jobs, plus the sealer.

One process type: run as many as the work needs, on as many machines as share the database
(PostgreSQL). Each job runs once (``jobs.records.claim``), each periodic slot is one job,
and the sealer's advisory lock lets one worker seal at a time while the others wait their
turn. SIGTERM (or Ctrl-C) lets running jobs finish (up to ``SHUTDOWN_SECONDS``); a worker
killed outright leaves its jobs to the sweep of the others, or of itself when it starts
again.

Its threads are counted idle or busy (foundation/metrics.py), and the donations, postings
and jobs it commits are counted in this process: ``placefund worker --metrics-port`` serves
them (placefund/cli.py starts that endpoint before the worker runs).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from huey.constants import WORKER_THREAD

from foundation import metrics
from jobs.queue import Queue
from jobs.runner import Runner
from ledger.books.chain import seal_continuously

log = logging.getLogger("placefund.worker")

#: How long a stopping worker waits for its running jobs before leaving them to the sweep
SHUTDOWN_SECONDS = 60


def run(
    database,
    services: dict[str, Any],
    *,
    threads: int = 2,
    seal: bool = True,
    periodic: bool = True,
) -> None:
    """Work until stopped: the jobs huey hands out, the minute's sweep, the sealer."""
    runner = Runner(database, services, threads=threads)
    queue = Queue(database, execute=runner.run)
    # A job left in this worker's name without running here goes round again (runner.py)
    runner.orphaned = queue.enqueue_quietly
    # A job split into parts (the yearly statements) hands them to every worker this way
    runner.hand_out = queue.enqueue_quietly
    runner.start_heartbeat()
    # Idle until a job takes one (Runner.run moves it to busy and back)
    metrics.WORKER_THREADS.labels(state="idle").inc(threads)
    metrics.WORKER_THREADS.labels(state="busy").inc(0)
    stopping = threading.Event()
    sealer = None
    if seal:
        # A thread, not a process: it shares nothing with the jobs but the engine's pool,
        # and rides out database errors itself (backoff, then catch up)
        sealer = threading.Thread(
            target=seal_continuously,
            args=(database.session,),
            kwargs={"stop": stopping.is_set},
            name="sealer",
            daemon=True,
        )
        sealer.start()
    try:
        # Jobs lost while no worker ran (or held by this worker's previous life)
        queue.sweep()
    except Exception:
        log.warning("the first sweep failed; the minute's sweep will retry", exc_info=True)
    log.info("worker started", extra={"worker": runner.worker, "threads": threads, "sealing": seal})
    consumer = queue.huey.create_consumer(
        workers=threads,
        worker_type=WORKER_THREAD,
        periodic=periodic,
        check_worker_health=True,
        graceful_signal="TERM",
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
    try:
        consumer.run()
    finally:
        stopping.set()
        if sealer is not None:
            sealer.join(timeout=5)
        runner.stop_heartbeat()
        queue.close()
        log.info("worker stopped", extra={"worker": runner.worker})
