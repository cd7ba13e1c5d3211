"""jobs/worker.py under faults (PostgreSQL): a real `placefund worker` whose database
connections are terminated again and again (``pg_terminate_backend``, as a PostgreSQL
restart or a failover would) while jobs are queued and entries wait to be sealed. Without
being restarted, it runs every job to an outcome, seals the backlog, keeps beating, and
takes new work afterwards."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from jobs import records
from jobs.models import Job, WorkerBeat
from jobs.queue import Queue
from ledger.books.chain import verify
from ledger.books.models import Unsealed
from tests.factories import donate
from tests.processes import database_url, start_worker, wait_for

pytestmark = pytest.mark.postgres

#: How long the connections keep being terminated (a bound on the test's length, not a
#: figure it asserts: the worker must cope however long it lasts)
FAULT_SECONDS = 6.0
LAST_LOG = Path(tempfile.gettempdir()) / "placefund-worker-faults.log"


def _terminate(pg, application_name: str) -> int:
    with pg.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": application_name},
        ).scalar()


def _submit(pg, queue: Queue, n: int) -> list[int]:
    with pg.session() as s, s.begin():
        ids = [records.submit(s, "seal")[0].id for _ in range(n)]
    for job_id in ids:
        queue.enqueue_quietly(job_id)
    return ids


def _unsealed(pg) -> int:
    with pg.session() as s:
        return s.scalar(select(func.count()).select_from(Unsealed))


def _jobs(pg, ids: list[int]) -> list[Job]:
    with pg.session() as s:
        return list(s.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)))


def test_a_worker_rides_out_its_connections_being_terminated(pg, tmp_path):
    name = f"pf-fault-{uuid.uuid4().hex[:8]}"
    queue = Queue(pg)
    worker = start_worker(
        database_url(pg, name), tmp_path / "worker.log", env={"PLACEFUND_INSTANCE": str(tmp_path)}
    )
    try:
        with pg.session() as s:
            wait_for(lambda: s.scalar(select(func.count()).select_from(WorkerBeat)),
                     "the worker's first beat")  # fmt: skip
        (started,) = _worker_names(pg)

        # Jobs queued and entries waiting, while every connection the worker holds (its
        # pool, huey's queue connection and its LISTEN connection) is cut again and again
        jobs, killed = [], 0
        deadline = time.monotonic() + FAULT_SECONDS
        round_ = 0
        while time.monotonic() < deadline:
            donate(pg, 2, prefix=f"f{round_}-")
            jobs += _submit(pg, queue, 2)
            for _ in range(3):
                killed += _terminate(pg, name)
                time.sleep(0.1)
            round_ += 1
        assert killed >= 3, "the worker's connections were not found to terminate"
        faults_over = records.utcnow()

        # Every job reaches an outcome, and it is success: a seal job that lost its
        # connection is tried again (the pool replaces the connection)
        finished = wait_for(
            lambda: all(j.finished for j in _jobs(pg, jobs)) and _jobs(pg, jobs),
            f"every job to finish: {worker.tail()}",
            seconds=300,
        )
        assert {j.status for j in finished} == {"succeeded"}, [
            (j.id, j.status, j.error_code, j.attempts) for j in finished
        ]
        wait_for(lambda: _unsealed(pg) == 0, f"the backlog sealed: {worker.tail()}", seconds=120)

        # The same process, still beating, and still working: new entries are sealed by its
        # sealer (no job asks), a new job runs
        assert worker.alive(), worker.tail()
        assert _worker_names(pg) == [started]
        with pg.session() as s:
            wait_for(lambda: s.get(WorkerBeat, started).beat_at > faults_over,
                     "a heartbeat after the faults")  # fmt: skip
            s.expire_all()
        donate(pg, 3, prefix="after-")
        wait_for(lambda: _unsealed(pg) == 0, "entries after the faults sealed", seconds=120)
        (last,) = _submit(pg, queue, 1)
        wait_for(lambda: _jobs(pg, [last])[0].status == "succeeded", "a job after the faults")
        with pg.session() as s:
            report = verify(s)
        assert report.ok, report
    finally:
        worker.stop()
        queue.huey.storage.close()
        shutil.copy(worker.log, LAST_LOG)  # for a person to read after the run
    _assert_json_lines(worker)


def _worker_names(pg) -> list[str]:
    with pg.session() as s:
        return [w.name for w in records.workers_up(s)]


def _assert_json_lines(process) -> None:
    """The worker's log stayed one JSON object per line through all of it."""
    for line in process.log.read_text(encoding="utf-8").splitlines():
        assert isinstance(json.loads(line), dict), line
