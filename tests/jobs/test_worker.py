"""``placefund worker`` as a real process: it takes a queued job from huey's storage beside
the database, runs it to success, logs JSON lines marked as the worker's (those about the
job carry its id) and stops cleanly on SIGTERM, its heartbeat row marked stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from jobs import records
from jobs.models import Job, WorkerBeat
from jobs.queue import Queue
from placefund.app import Database

ROOT = Path(__file__).resolve().parents[2]


def _start(url: str, tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PLACEFUND_INSTANCE": str(tmp_path / "instance"),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "placefund.cli", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, process: subprocess.Popen, what: str, limit: float = 60.0) -> None:
    """Poll until ``predicate()``; fail with the worker's output if it exits or never does."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    _out, err = process.communicate(timeout=30)
    pytest.fail(f"{what}: never happened (exit {process.returncode})\n{err[-4000:]}")


def _status(database, job_id: int) -> str:
    with database.session() as s:
        return s.scalar(select(Job.status).where(Job.id == job_id))


def _run_a_job_and_stop(database, url: str, tmp_path: Path) -> list[dict]:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, "seal")
        job_id = job.id
    queue = Queue(database)
    queue.enqueue(job_id)  # what a web process does after its commit
    queue.close()
    worker = _start(url, tmp_path, "--threads", "1", "--no-schedule")
    try:
        _wait_for(lambda: _status(database, job_id) == "succeeded", worker, "the job succeeding")
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=90)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate(timeout=30)
    assert worker.returncode == 0, err[-4000:]
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # every one JSON
    assert lines and all(line["component"] == "worker" for line in lines)
    about_the_job = [line for line in lines if line.get("job_id") == job_id]
    said = {line["msg"] for line in about_the_job}
    assert {"job started", "job succeeded"} <= said, said
    assert any(line["msg"] == "worker stopped" for line in lines)
    with database.session() as s:
        job = s.get(Job, job_id)
        assert (job.attempts, json.loads(job.result)) == (1, {"sealed": 0})
        beats = list(s.scalars(select(WorkerBeat)))
        assert len(beats) == 1 and beats[0].stopped_at is not None
        assert job.worker == beats[0].name
    return lines


def test_a_worker_process_runs_a_job_and_stops_cleanly_on_sigterm(sqlite_template, tmp_path):
    path = tmp_path / "placefund.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    database = Database(url)
    try:
        _run_a_job_and_stop(database, url, tmp_path)
        assert (tmp_path / "placefund-jobs.db").exists()  # the queue beside the database
    finally:
        database.engine.dispose()


@pytest.mark.postgres
def test_a_worker_process_on_postgresql(pg, tmp_path):
    schema = pg.connect_args["options"].split("=", 1)[1]
    url = pg.engine.url.render_as_string(hide_password=False)
    # The worker reaches the test's schema through the URL's options, as a deployment would
    sep = "&" if "?" in url else "?"
    _run_a_job_and_stop(pg, f"{url}{sep}options=-csearch_path%3D{schema}", tmp_path)
