"""The Runner carries one claimed job to its outcome: a result kept, an accident retried, a
refusal failed at once, a cancelled job stopped at its checkpoint with its transaction
rolled back, and every log line written meanwhile marked with the job's id."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from jobs import records
from jobs.models import Job
from jobs.runner import JobId, Runner, current_job
from tests.jobs import conftest as kinds


def _submit(database, kind_name="test_ok", **kwargs) -> int:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, kind_name, **kwargs)
        return job.id


def _read(database, job_id: int) -> Job:
    with database.session() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


def test_a_job_runs_to_success_with_its_result_and_progress(database):
    job_id = _submit(database, params={"n": 5})
    runner = Runner(database)
    assert runner.run(job_id) is None
    job = _read(database, job_id)
    assert (job.status, job.attempts, job.worker) == ("succeeded", 1, runner.worker)
    assert json.loads(job.result) == {"n": 5, "attempt": 1}
    assert (job.progress_done, job.progress_total, job.phase) == (1, 1, "done")
    assert kinds.marked(database, f"done:{job_id}")
    # A second message for the same job finds it finished and does nothing
    assert runner.run(job_id) is None
    assert _read(database, job_id).attempts == 1


def test_an_accident_returns_the_backoff_and_a_refusal_does_not(database):
    runner = Runner(database)
    flaky = _submit(database, "test_flaky", params={"fails": 5})
    assert runner.run(flaky) == records.backoff(1)
    job = _read(database, flaky)
    assert (job.status, job.error_code) == ("queued", "ConnectionError")
    detail = json.loads(job.error_detail)
    assert detail["message_code"] == "internal_error"  # the page says "unexpected error"
    refused = _submit(database, "test_refused")
    assert runner.run(refused) is None
    job = _read(database, refused)
    assert (job.status, job.attempts, job.error_code) == ("failed", 1, "invalid_state")
    detail = json.loads(job.error_detail)
    assert detail["message_code"] == "invalid_state.pledge_paid"
    assert detail["params"] == {"id": 5}


def test_a_kind_no_worker_knows_fails_at_once(database):
    job_id = _submit(database)
    with database.session() as s, s.begin():
        s.get(Job, job_id).kind = "retired_kind"
    Runner(database).run(job_id)
    job = _read(database, job_id)
    assert (job.status, job.attempts) == ("failed", 1)


def _run_in_thread(runner: Runner, job_id: int) -> threading.Thread:
    thread = threading.Thread(target=runner.run, args=(job_id,), daemon=True)
    thread.start()
    assert kinds.holding.wait(timeout=30), "the job never started"
    return thread


def _cancel_while_running(database, *, hold_open: bool) -> int:
    job_id = _submit(database, "test_wait", params={"hold_open": hold_open}, dedupe_key="f:1")
    runner = Runner(database)
    thread = _run_in_thread(runner, job_id)
    running = _read(database, job_id)
    assert (running.status, running.phase, running.progress_total) == ("running", "waiting", 10)
    with database.session() as s, s.begin():
        assert records.cancel(s, job_id).status == "running"  # asked to stop
    runner.beat_once()  # the heartbeat brings the request to the job
    thread.join(timeout=30)
    assert not thread.is_alive()
    job = _read(database, job_id)
    assert (job.status, job.phase) == ("cancelled", "cancelled")
    assert not kinds.marked(database, f"work:{job_id}")  # its transaction rolled back
    # Its file's key is free: the same upload starts a new job
    assert job.dedupe_key is None
    with database.session() as s, s.begin():
        assert records.submit(s, "test_ok", dedupe_key="f:1")[1]
    return job_id


def test_a_running_job_stops_at_its_checkpoint_and_its_work_rolls_back(database):
    job_id = _cancel_while_running(database, hold_open=False)
    # A cancelled job can be run again, and then finishes
    with database.session() as s, s.begin():
        records.retry(s, job_id)
    kinds.holding.clear()
    kinds.gate.set()
    Runner(database).run(job_id)
    assert _read(database, job_id).status == "succeeded"
    assert kinds.marked(database, f"work:{job_id}")


@pytest.mark.postgres
def test_on_postgresql_a_job_stops_with_its_transaction_open_and_rolls_back(pg):
    _cancel_while_running(pg, hold_open=True)


def test_the_heartbeat_keeps_a_running_job_fresh_and_records_the_worker(database):
    job_id = _submit(database, "test_wait")
    runner = Runner(database, threads=2)
    thread = _run_in_thread(runner, job_id)
    before = _read(database, job_id).heartbeat_at
    runner.beat_once()
    assert _read(database, job_id).heartbeat_at >= before
    with database.session() as s:
        up = [
            (w.name, w.threads)
            for w in records.workers_up(s)
            if not w.name.startswith(("work:", "done:"))
        ]
        assert up == [(runner.worker, 2)]  # (the job's own marks are rows here too)
    kinds.gate.set()
    thread.join(timeout=30)
    runner.stop_heartbeat()
    with database.session() as s:
        assert runner.worker not in {w.name for w in records.workers_up(s)}
    assert _read(database, job_id).status == "succeeded"


def test_log_lines_written_while_a_job_runs_carry_its_id(database, caplog):
    job_id = _submit(database, "test_refused")
    handler = logging.Handler()
    records_seen: list[logging.LogRecord] = []
    handler.emit = records_seen.append
    handler.addFilter(JobId())
    logger = logging.getLogger("placefund.jobs")
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="placefund.jobs"):
            Runner(database).run(job_id)
    finally:
        logger.removeHandler(handler)
    messages = {r.getMessage().split(":")[0]: r for r in records_seen}
    assert {"job started", "job failed"} <= set(messages)
    assert all(getattr(r, "job_id", None) == job_id for r in records_seen)
    assert current_job.get() is None  # and nothing after it


def _counted(kind: str, outcome: str) -> float:
    from prometheus_client import REGISTRY

    labels = {"kind": kind, "outcome": outcome}
    return REGISTRY.get_sample_value("placefund_jobs_run_total", labels) or 0.0


def _timed(kind: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("placefund_job_duration_seconds_count", {"kind": kind}) or 0


def test_each_attempt_is_counted_by_kind_and_outcome_with_its_duration(database):
    """What ``placefund worker --metrics-port`` serves (the counters live in the test
    process across tests: compared before and after)."""
    outcomes = [
        ("test_ok", "succeeded"), ("test_flaky", "retried"), ("test_refused", "failed"),
        ("test_wait", "cancelled"), ("(unknown)", "failed"),
    ]  # fmt: skip
    before = {pair: _counted(*pair) for pair in outcomes}
    timed = {kind: _timed(kind) for kind, _ in outcomes}
    runner = Runner(database)
    runner.run(_submit(database, "test_ok"))
    runner.run(_submit(database, "test_flaky", params={"fails": 5}))
    runner.run(_submit(database, "test_refused"))
    retired = _submit(database)
    with database.session() as s, s.begin():
        s.get(Job, retired).kind = "retired_kind"  # one label for every kind nobody knows
    runner.run(retired)
    _cancel_while_running(database, hold_open=False)
    after = {pair: _counted(*pair) for pair in outcomes}
    assert {pair: after[pair] - before[pair] for pair in outcomes} == dict.fromkeys(outcomes, 1)
    assert {kind: _timed(kind) - timed[kind] for kind, _ in outcomes} == dict.fromkeys(
        [kind for kind, _ in outcomes], 1
    )
    # A message whose job cannot be claimed (here: none has that id) is no attempt
    runner.run(_submit(database, "test_ok") + 1000)
    assert _counted("test_ok", "succeeded") == after[("test_ok", "succeeded")]
