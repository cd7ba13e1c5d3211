"""jobs.records: a running job whose worker process is known dead is taken up at once."""

from __future__ import annotations

import socket
import subprocess
import sys

from sqlalchemy import update

from foundation.db import utcnow
from jobs import records
from jobs.models import Job


def _dead_worker() -> str:
    """The name a worker of this machine had, whose process has exited."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return f"{socket.gethostname()}:{child.stdout.strip()}:1"


def _running(database, worker: str) -> int:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, "seal")
        s.flush()
        s.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(status="running", worker=worker, heartbeat_at=utcnow())
        )
        return job.id


def test_a_job_of_a_dead_process_here_is_lost_at_once_and_claimed(database):
    dead = _running(database, _dead_worker())
    elsewhere = _running(database, "another-host:1:1")  # silent only briefly: not yet lost
    mine = _running(database, records.worker_name())  # alive: never lost
    assert records.dead_here(_dead_worker())
    assert not records.dead_here("another-host:1:1")
    assert not records.dead_here(records.worker_name())
    with database.session() as s, s.begin():
        assert set(records.lost(s)) == {dead}
    with database.session() as s, s.begin():
        assert records.claim(s, dead, "new-worker")
        assert not records.claim(s, elsewhere, "new-worker")
        assert not records.claim(s, mine, "new-worker")
    with database.session() as s:
        job = s.get(Job, dead)
        assert (job.status, job.worker, job.attempts) == ("running", "new-worker", 1)
