"""Jobs as rows: each change is one guarded UPDATE, so two workers, a worker and a person, or
a duplicate message never both win. On SQLite (each test's own database) and, where it
matters most (two sessions racing), on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import threading

import pytest
from sqlalchemy import update

from foundation.db import utcnow
from foundation.errors import InvalidState, NotFound
from jobs import records
from jobs.models import Job

DEAD = "elsewhere.example:4242:1"  # a worker on another host, silent


def _submit(database, kind="test_ok", **kwargs) -> int:
    with database.session() as s, s.begin():
        job, created = records.submit(s, kind, **kwargs)
        assert created
        return job.id


def _set(database, job_id: int, **values) -> None:
    with database.session() as s, s.begin():
        s.execute(update(Job).where(Job.id == job_id).values(**values))


def _read(database, job_id: int) -> Job:
    with database.session() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


def _claim(database, job_id: int, worker: str, now=None) -> bool:
    with database.session() as s, s.begin():
        return records.claim(s, job_id, worker, now)


# --- submitting ---------------------------------------------------------------------------------


def test_a_job_is_recorded_queued_with_its_kinds_attempts(database):
    job_id = _submit(database, params={"n": 3, "名": "甲"}, payload=b"file")
    job = _read(database, job_id)
    assert (job.kind, job.status, job.phase, job.attempts, job.max_attempts) == (
        "test_ok",
        "queued",
        "queued",
        0,
        3,
    )
    assert json.loads(job.params) == {"n": 3, "名": "甲"}
    assert job.enqueued_at is not None and not job.cancel_requested


def test_the_same_key_while_unfinished_is_the_same_job(database):
    first = _submit(database, dedupe_key="file:abc")
    with database.session() as s, s.begin():
        again, created = records.submit(s, "test_ok", dedupe_key="file:abc")
        assert (again.id, created) == (first, False)
    # Once it has finished the key is free again (a file's key, not a slot's)
    _claim(database, first, "w")
    with database.session() as s, s.begin():
        assert records.succeed(s, first, "w", {"n": 1})
    assert _read(database, first).dedupe_key is None
    second = _submit(database, dedupe_key="file:abc")
    assert second != first


def test_a_slot_is_one_job_and_keeps_its_key(database):
    when = dt.datetime(2026, 12, 5, 10, 0, 37, tzinfo=dt.UTC)
    with database.session() as s, s.begin():
        job, created = records.submit_slot(s, "test_ok", when)
        again, created_again = records.submit_slot(s, "test_ok", when.replace(second=5))
    assert created and not created_again and again.id == job.id
    assert job.dedupe_key == "slot:test_ok@2026-12-05T10:00"


# --- claiming -----------------------------------------------------------------------------------


def test_a_duplicate_message_finds_the_job_claimed_and_does_nothing(database):
    job_id = _submit(database)
    assert _claim(database, job_id, "worker-a")
    assert not _claim(database, job_id, "worker-b")
    job = _read(database, job_id)
    assert (job.status, job.worker, job.attempts) == ("running", "worker-a", 1)


def test_a_finished_cancelled_or_waiting_job_is_not_claimed(database):
    done = _submit(database)
    _set(database, done, status="succeeded")
    asked = _submit(database)
    _set(database, asked, cancel_requested=True)
    later = _submit(database)
    _set(database, later, run_after=utcnow() + dt.timedelta(minutes=5))
    for job_id in (done, asked, later):
        assert not _claim(database, job_id, "w"), job_id
    assert not _claim(database, 999_999, "w")
    # The waiting one is claimed once its time has come
    assert _claim(database, later, "w", now=utcnow() + dt.timedelta(minutes=6))


def test_a_running_job_whose_worker_died_is_claimed_again(database):
    job_id = _submit(database)
    stale = utcnow() - records.STALE_AFTER - dt.timedelta(seconds=1)
    _set(database, job_id, status="running", worker=DEAD, attempts=1, heartbeat_at=stale)
    assert _claim(database, job_id, "worker-b")
    job = _read(database, job_id)
    assert (job.worker, job.attempts) == ("worker-b", 2)
    # A running job that still beats is not taken
    assert not _claim(database, job_id, "worker-c")


def test_a_job_held_by_a_live_process_here_is_not_stolen_however_old_its_beat(database):
    """On SQLite a long write holds the only lock the heartbeat needs: the holder is alive."""
    me = records.worker_name()
    assert records.alive_here(me)
    assert not records.alive_here(None) and not records.alive_here(DEAD)
    # The same pid with another start time is a recycled pid, not the holder
    host, pid, _start = me.split(":")
    assert not records.alive_here(f"{host}:{pid}:0")
    assert not records.alive_here(f"{host}:notapid:0")
    job_id = _submit(database)
    long_ago = utcnow() - dt.timedelta(hours=1)
    _set(database, job_id, status="running", worker=me, attempts=1, heartbeat_at=long_ago)
    assert not _claim(database, job_id, "worker-b")
    with database.session() as s, s.begin():
        assert job_id not in records.lost(s)


@pytest.mark.postgres
def test_two_sessions_racing_for_a_job_one_wins(pg):
    """Many rounds of four workers claiming the same job at once: exactly one each time."""
    ids = [_submit(pg) for _ in range(8)]
    for job_id in ids:
        barrier = threading.Barrier(4)
        won: list[str] = []

        def race(name: str, job_id: int = job_id, barrier=barrier, won=won) -> None:
            with pg.session() as s, s.begin():
                s.get(Job, job_id)  # each has read the queued row before anyone updates it
                barrier.wait(timeout=30)
                if records.claim(s, job_id, name):
                    won.append(name)

        threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(won) == 1, won
        job = _read(pg, job_id)
        assert (job.worker, job.attempts) == (won[0], 1)


@pytest.mark.postgres
def test_a_claim_waits_for_an_uncommitted_claim_and_then_loses(pg):
    job_id = _submit(pg)
    first = pg.session()
    first.begin()
    assert records.claim(first, job_id, "first")
    result: list[bool] = []
    second = threading.Thread(target=lambda: result.append(_claim(pg, job_id, "second")))
    second.start()
    second.join(timeout=0.5)  # blocked on the row lock (or done: then it must have lost)
    first.commit()
    first.close()
    second.join(timeout=30)
    assert result == [False]
    assert _read(pg, job_id).worker == "first"


# --- finishing ----------------------------------------------------------------------------------


def test_only_the_holder_finishes_a_job(database):
    job_id = _submit(database, payload=b"statement")
    _claim(database, job_id, "holder")
    with database.session() as s, s.begin():
        assert not records.succeed(s, job_id, "intruder", {})
        assert records.fail(s, job_id, "intruder", code="x", detail={}, retry=False) is None
        assert records.succeed(s, job_id, "holder", {"lines": 1200})
    job = _read(database, job_id)
    assert (job.status, job.phase, json.loads(job.result)) == ("succeeded", "done", {"lines": 1200})
    assert job.finished_at is not None
    with database.session() as s:
        assert s.get(Job, job_id).payload is None  # its work is stored; the file is not kept


def test_a_failed_attempt_backs_off_until_attempts_run_out(database):
    assert [records.backoff(n) for n in (1, 2, 3, 10)] == [10.0, 20.0, 40.0, 600.0]
    job_id = _submit(database)  # test_ok: 3 attempts
    delays = []
    for attempt in (1, 2, 3):
        assert _claim(database, job_id, "w", now=utcnow() + dt.timedelta(hours=attempt))
        with database.session() as s, s.begin():
            delays.append(
                records.fail(s, job_id, "w", code="ConnectionError", detail={}, retry=True)
            )
        job = _read(database, job_id)
        if attempt < 3:
            assert (job.status, job.phase, job.attempts) == ("queued", "waiting", attempt)
            assert job.run_after > utcnow()
    assert delays == [10.0, 20.0, None]
    job = _read(database, job_id)
    assert (job.status, job.error_code, job.attempts) == ("failed", "ConnectionError", 3)


# --- a person's side ----------------------------------------------------------------------------


def test_cancel_a_queued_job_at_once_and_a_running_one_at_its_checkpoint(database):
    queued = _submit(database, dedupe_key="file:1")
    running = _submit(database)
    _claim(database, running, "w")
    with database.session() as s, s.begin():
        assert records.cancel(s, queued).status == "cancelled"
        assert records.cancel(s, running).status == "running"
    job = _read(database, queued)
    assert (job.phase, job.dedupe_key) == ("cancelled", None)
    assert _read(database, running).cancel_requested
    with database.session() as s, s.begin():
        assert records.beat(s, "w", [running]) == {running}
        records.cancelled(s, running, "w")
    assert _read(database, running).status == "cancelled"
    with database.session() as s, s.begin(), pytest.raises(InvalidState) as refused:
        records.cancel(s, running)
    assert refused.value.message_code == "invalid_state.job_finished"
    assert refused.value.params == {"id": running, "status": "cancelled"}


def test_retry_a_failed_or_cancelled_job_afresh(database):
    failed = _submit(database)
    _claim(database, failed, "w")
    with database.session() as s, s.begin():
        records.fail(s, failed, "w", code="boom", detail={"detail": "x"}, retry=False)
    cancelled = _submit(database)
    with database.session() as s, s.begin():
        records.cancel(s, cancelled)
    for job_id in (failed, cancelled):
        with database.session() as s, s.begin():
            records.retry(s, job_id)
        job = _read(database, job_id)
        assert (job.status, job.phase, job.attempts, job.error_code) == (
            "queued",
            "queued",
            0,
            None,
        )
        assert job.finished_at is None and not job.cancel_requested
        assert _claim(database, job_id, "w2")


@pytest.mark.parametrize(
    ("status", "error_code", "reason"),
    [
        ("succeeded", None, "job_not_retryable"),
        ("queued", None, "job_not_retryable"),
        ("running", None, "job_not_retryable"),
        ("failed", "gone", "job_not_runnable"),
    ],
)
def test_retry_is_refused_with_a_reason(database, status, error_code, reason):
    job_id = _submit(database, kind="test_once")
    _set(database, job_id, status=status, error_code=error_code)
    with database.session() as s, s.begin(), pytest.raises(InvalidState) as refused:
        records.retry(s, job_id)
    assert refused.value.message_code == f"invalid_state.{reason}"
    assert _read(database, job_id).status == status


def test_a_job_of_a_kind_this_code_no_longer_has_cannot_be_retried(database):
    job_id = _submit(database)
    _set(database, job_id, kind="retired_kind", status="failed")
    with database.session() as s, s.begin(), pytest.raises(InvalidState) as refused:
        records.retry(s, job_id)
    assert refused.value.message_code == "invalid_state.job_not_runnable"


def test_an_unknown_job_is_not_found(database):
    for step in (records.retry, records.cancel, records.get):
        with database.session() as s, pytest.raises(NotFound) as missing:
            step(s, 4242)
        assert missing.value.message_code == "not_found.job"
        assert missing.value.params == {"id": 4242}


# --- the sweep's side ---------------------------------------------------------------------------


def test_lost_finds_queued_jobs_nobody_took_and_running_ones_whose_worker_died(database):
    now = utcnow()
    long_ago = now - records.REDELIVER_AFTER - dt.timedelta(seconds=1)
    nobody_took = _submit(database)
    _set(database, nobody_took, enqueued_at=long_ago)
    just_enqueued = _submit(database)
    backing_off = _submit(database)
    _set(database, backing_off, enqueued_at=long_ago, run_after=now + dt.timedelta(minutes=1))
    dead = _submit(database)
    stale = now - records.STALE_AFTER - dt.timedelta(seconds=1)
    _set(database, dead, status="running", worker=DEAD, heartbeat_at=stale)
    beating = _submit(database)
    _set(database, beating, status="running", worker=DEAD, heartbeat_at=now)
    finished = _submit(database)
    _set(database, finished, status="failed", enqueued_at=long_ago)
    with database.session() as s, s.begin():
        found = records.lost(s, now)
    assert sorted(found) == sorted([nobody_took, dead])
    assert just_enqueued not in found and backing_off not in found
    # Handed out now: the next sweep leaves the queued one alone for a while
    with database.session() as s, s.begin():
        assert records.lost(s, now + dt.timedelta(seconds=30)) == [dead]


def test_figures_and_workers_up(database):
    old = utcnow() - dt.timedelta(minutes=5)
    waiting = _submit(database)
    _set(database, waiting, created_at=old)
    running = _submit(database)
    _claim(database, running, "w")
    with database.session() as s, s.begin():
        records.beat(s, "w", [running], threads=3)
        records.beat(s, "gone", [])
        records.worker_stopped(s, "gone")
    with database.session() as s:
        figures = records.figures(s)
        assert (figures.queued, figures.running) == (1, 1)
        assert figures.oldest_queued_seconds >= 300
        assert [(w.name, w.threads) for w in records.workers_up(s)] == [("w", 3)]
        page = records.list_jobs(s, status="queued", limit=5)
        assert [j.id for j in page.items] == [waiting]
        assert [j.id for j in records.list_jobs(s, limit=5).items] == [running, waiting]


# --- a worker known dead on this machine --------------------------------------------------------


def _dead_worker_here() -> str:
    """The name a worker of this machine had, whose process has exited."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return f"{socket.gethostname()}:{child.stdout.strip()}:1"


def test_a_job_of_a_dead_process_here_is_lost_at_once_and_claimed(database):
    """A worker restarted right after a SIGKILL takes up its predecessor's jobs in its first
    sweep; a silent worker elsewhere still gets its STALE_AFTER."""
    dead_here = _dead_worker_here()
    jobs = {}
    for name, worker in (
        ("dead", dead_here),
        ("elsewhere", DEAD),
        ("mine", records.worker_name()),
    ):
        jobs[name] = _submit(database)
        _set(database, jobs[name], status="running", worker=worker, heartbeat_at=utcnow())
    assert records.dead_here(dead_here)
    assert not records.dead_here(DEAD) and not records.dead_here(records.worker_name())
    with database.session() as s, s.begin():
        assert set(records.lost(s)) == {jobs["dead"]}
    assert _claim(database, jobs["dead"], "new-worker")
    assert not _claim(database, jobs["elsewhere"], "new-worker")
    assert not _claim(database, jobs["mine"], "new-worker")
    job = _read(database, jobs["dead"])
    assert (job.status, job.worker) == ("running", "new-worker")


def test_cancelling_a_job_cancels_its_unfinished_parts(database):
    parent = _submit(database)
    _claim(database, parent, "w")
    queued = _submit(database, parent_id=parent)
    running = _submit(database, parent_id=parent)
    _claim(database, running, "w")
    done = _submit(database, parent_id=parent)
    _set(database, done, status="succeeded")
    other = _submit(database)  # not a part: untouched
    with database.session() as s, s.begin():
        records.cancel(s, parent)
    assert _read(database, parent).cancel_requested
    assert _read(database, queued).status == "cancelled"
    assert (_read(database, running).status, _read(database, running).cancel_requested) == (
        "running",
        True,
    )
    assert _read(database, done).status == "succeeded"  # its work is kept
    assert (_read(database, other).status, _read(database, other).cancel_requested) == (
        "queued",
        False,
    )
    with database.session() as s:
        parts = records.parts(s, parent)
    assert parts.by_status == {"cancelled": [queued], "running": [running], "succeeded": [done]}
    assert parts.unfinished == [running]


def test_a_parts_progress_adds_up_on_its_running_parent(database):
    parent = _submit(database)
    _claim(database, parent, "w")
    first = _submit(database, parent_id=parent)
    second = _submit(database, parent_id=parent)
    _set(database, first, progress_done=40)
    _set(database, second, progress_done=2)
    with database.session() as s, s.begin():
        records.sum_parts_progress(s, parent)
    assert _read(database, parent).progress_done == 42
    with database.session() as s:
        assert records.parts(s, parent).done == 42
    # A finished parent keeps what it said
    _set(database, parent, status="succeeded")
    _set(database, second, progress_done=9)
    with database.session() as s, s.begin():
        records.sum_parts_progress(s, parent)
    assert _read(database, parent).progress_done == 42
