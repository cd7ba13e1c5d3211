"""jobs/runner.py: a job left ``running`` in a live worker's name without running there (a
claim whose commit reached the database while its answer was lost, a finish that could not
be recorded) is handed out again by that worker's heartbeat and taken back, run once more;
a job the worker really runs is never taken twice."""

from __future__ import annotations

from jobs import records
from jobs.models import Job
from jobs.queue import Queue
from jobs.runner import Runner


def _submit(database) -> int:
    with database.session() as s, s.begin():
        return records.submit(s, "seal")[0].id


def test_a_job_left_running_in_this_workers_name_is_handed_out_and_taken_back(database):
    runner = Runner(database, {})
    queue = Queue(database, execute=runner.run)
    handed = []
    runner.orphaned = handed.append
    job_id = _submit(database)
    # The claim committed, its answer lost: the row says this worker runs it; nothing does
    with database.session() as s, s.begin():
        assert records.claim(s, job_id, runner.worker)
    # Another worker may not take it (this one is alive), and it is not stale yet
    with database.session() as s, s.begin():
        assert not records.claim(s, job_id, "elsewhere:1:1")

    runner.beat_once()
    assert handed == [job_id]
    queue.enqueue(job_id)
    assert queue.drain() == 1
    with database.session() as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded" and job.worker == runner.worker
        assert job.attempts == 2  # the lost claim counted, and the run
    handed.clear()
    runner.beat_once()
    assert handed == []  # finished: nothing more to hand out


def test_a_job_this_worker_runs_is_neither_an_orphan_nor_claimed_twice(database):
    runner = Runner(database, {})
    handed = []
    runner.orphaned = handed.append
    job_id = _submit(database)
    seen = {}

    def kind_runs(context):
        # While it runs: a duplicate message is refused, and the heartbeat leaves it alone
        seen["duplicate"] = runner.run(job_id)
        runner.beat_once()
        return {}

    from jobs.registry import KINDS, Kind

    KINDS["test_reentrant"] = Kind(name="test_reentrant", run=kind_runs)
    try:
        with database.session() as s, s.begin():
            s.get(Job, job_id).kind = "test_reentrant"
        assert runner.run(job_id) is None
    finally:
        del KINDS["test_reentrant"]
    assert seen == {"duplicate": None} and handed == []
    with database.session() as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded" and job.attempts == 1
