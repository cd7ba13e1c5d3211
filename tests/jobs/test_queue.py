"""huey as the carrier of "run job N": its storage beside an SQLite database or inside
PostgreSQL, the minute's sweep (periodic slots, lost messages), and a retry's delayed
message. Real huey storage every time; the jobs run through the real Runner."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from huey import MemoryHuey, PostgresHuey, SqliteHuey
from sqlalchemy import delete, func, select, update

from foundation.db import utcnow
from jobs import records
from jobs.models import Job, WorkerBeat
from jobs.queue import Queue, crontab, make_huey, storage_path
from jobs.registry import KINDS, kind
from placefund.app import Database
from tests.job_helpers import unscheduled_minute


def _submit(database, kind_name="test_ok", **kwargs) -> int:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, kind_name, **kwargs)
        return job.id


def _read(database, job_id: int) -> Job:
    with database.session() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


@pytest.fixture
def periodic():
    """A kind the schedule submits every minute."""
    kind("test_periodic", schedule=crontab(minute="*"), max_attempts=1)(lambda context: {})
    yield "test_periodic"
    KINDS.pop("test_periodic", None)


# --- where the queue lives ----------------------------------------------------------------------


def test_sqlite_keeps_the_queue_in_a_file_beside_the_database(database, tmp_path, make_queue):
    path = storage_path(database.engine)
    assert path == tmp_path / "placefund-jobs.db"
    queue = make_queue(database)
    assert isinstance(queue.huey, SqliteHuey)
    job_id = _submit(database)
    queue.enqueue(job_id)
    assert path.exists() and queue.depth() == 1
    # Another process (here: another Queue over the same database) sees the same message
    assert make_queue(database).drain() == 1
    assert _read(database, job_id).status == "succeeded"
    assert queue.depth() == 0


def test_an_in_memory_database_keeps_its_queue_in_memory():
    database = Database("sqlite://")
    try:
        assert storage_path(database.engine) is None
        assert isinstance(make_huey(database.engine), MemoryHuey)
    finally:
        database.engine.dispose()


@pytest.mark.postgres
def test_postgresql_keeps_the_queue_in_its_own_tables(pg, make_queue):
    queue = make_queue(pg)
    assert isinstance(queue.huey, PostgresHuey)
    assert storage_path(pg.engine) is None
    job_id = _submit(pg, params={"n": 7})
    queue.enqueue(job_id)
    queue.enqueue(job_id, delay=3600)  # a retry's message, for later
    assert queue.depth() == 2
    assert make_queue(pg).drain() == 1
    assert queue.huey.pending_count() == 0 and queue.huey.scheduled_count() == 1
    job = _read(pg, job_id)
    assert (job.status, job.attempts) == ("succeeded", 1)


# --- retries ------------------------------------------------------------------------------------


def test_an_accident_is_tried_again_after_a_backoff(database, make_queue):
    queue = make_queue(database)
    job_id = _submit(database, "test_flaky", params={"fails": 1})
    queue.enqueue(job_id)
    assert queue.drain() == 1
    job = _read(database, job_id)
    assert (job.status, job.phase, job.attempts, job.error_code) == (
        "queued",
        "waiting",
        1,
        "ConnectionError",
    )
    assert job.run_after > utcnow()
    # Its next message waits for later (in huey's schedule once a worker has seen it)
    assert queue.depth() == 1
    assert queue.drain() == 0
    assert queue.huey.pending_count() == 0 and queue.huey.scheduled_count() == 1
    # When its time has come (here: made to come) the next attempt succeeds
    with database.session() as s, s.begin():
        s.execute(update(Job).values(run_after=utcnow() - dt.timedelta(seconds=1)))
    queue.enqueue(job_id)
    assert queue.drain() == 1
    job = _read(database, job_id)
    assert (job.status, job.attempts, job.error_code) == ("succeeded", 2, None)


def test_a_refusal_fails_at_once(database, make_queue):
    queue = make_queue(database)
    job_id = _submit(database, "test_refused", payload=b"refused file")
    queue.enqueue(job_id)
    queue.drain()
    job = _read(database, job_id)
    assert (job.status, job.attempts, job.error_code) == ("failed", 1, "invalid_state")
    assert queue.depth() == 0
    with database.session() as s:
        assert s.get(Job, job_id).payload is None  # a refused file is not kept


# --- the sweep ----------------------------------------------------------------------------------


def test_the_sweep_hands_out_what_was_lost_and_runs_the_minutes_slot(
    database, periodic, make_queue
):
    queue = make_queue(database)
    lost = _submit(database)
    with database.session() as s, s.begin():
        s.execute(update(Job).values(enqueued_at=utcnow() - dt.timedelta(minutes=5)))
    # A minute no real kind is scheduled for (stripe_sync runs every tenth, the daily ones
    # on the hour), so only the test's own periodic kind makes a slot
    handed = queue.sweep(unscheduled_minute(besides={periodic}))
    assert lost in handed
    with database.session() as s:
        slot = s.scalars(select(Job).where(Job.kind == periodic)).one()
    # The slot's job and the lost one both travel: the worker runs them
    assert slot.id in handed
    assert queue.drain() == 2
    assert _read(database, lost).status == "succeeded"
    assert _read(database, slot.id).status == "succeeded"


def test_two_sweeps_in_the_same_minute_make_one_job(database, periodic, make_queue):
    minute = dt.datetime(2026, 12, 5, 10, 0, 5, tzinfo=dt.UTC)
    make_queue(database).sweep(minute)
    make_queue(database).sweep(minute.replace(second=55))
    with database.session() as s:
        jobs = s.scalars(select(Job).where(Job.kind == periodic)).all()
    assert [j.dedupe_key for j in jobs] == ["slot:test_periodic@2026-12-05T10:00"]


def _beats(database, now: dt.datetime, **silent_for: dt.timedelta) -> None:
    """Heartbeat rows of workers, each last heard of ``silent_for`` before ``now``."""
    with database.session() as s, s.begin():
        for name, silence in silent_for.items():
            s.add(
                WorkerBeat(
                    name=name, started_at=now - silence, beat_at=now - silence, threads=2,
                    stopped_at=now - silence if name.startswith("stopped") else None,
                )
            )  # fmt: skip


def _workers(database) -> list[str]:
    with database.session() as s:
        return sorted(s.scalars(select(WorkerBeat.name)))


@pytest.mark.parametrize("db", ["database", pytest.param("pg", marks=pytest.mark.postgres)])
def test_the_sweep_forgets_workers_silent_for_a_day(request, db, make_queue):
    database = request.getfixturevalue(db)
    with database.session() as s, s.begin():
        s.execute(delete(WorkerBeat))  # PostgreSQL's schema lives for the whole session
    now = utcnow()
    day = records.FORGET_WORKERS_AFTER
    _beats(
        database, now,
        live=dt.timedelta(seconds=3),
        stopped_an_hour_ago=dt.timedelta(hours=1),
        killed_yesterday_evening=day - dt.timedelta(minutes=1),
        killed_two_days_ago=2 * day,
        stopped_last_week=7 * day,
        killed_a_year_ago=365 * day,
    )  # fmt: skip
    make_queue(database).sweep(now)
    assert _workers(database) == ["killed_yesterday_evening", "live", "stopped_an_hour_ago"]
    with database.session() as s:
        assert [w.name for w in records.workers_up(s, now)] == ["live"]
    # A minute later the one a day old goes too; the live one, beating, never does
    with database.session() as s, s.begin():
        records.beat(s, "live", [])
    make_queue(database).sweep(now + dt.timedelta(minutes=2))
    assert _workers(database) == ["live", "stopped_an_hour_ago"]
    with database.session() as s, s.begin():
        assert records.forget_workers(s, now + dt.timedelta(minutes=2)) == 0


def test_restarted_workers_do_not_pile_up(database, make_queue):
    """A worker restarted every few minutes for a week (a crash loop, a deploy script) leaves
    a day of rows, not a week's."""
    now = utcnow()
    restarts = {f"host:{pid}:1": dt.timedelta(minutes=5 * pid) for pid in range(1, 7 * 288)}
    _beats(database, now, **restarts)
    make_queue(database).sweep(now)
    kept = _workers(database)
    # The last day's, one every five minutes (one exactly a day silent is kept a minute more)
    assert len(kept) == 288
    assert "host:1:1" in kept and "host:288:1" in kept and "host:289:1" not in kept


@pytest.mark.postgres
def test_two_workers_sweeping_at_once_make_one_job_per_slot(pg, periodic, make_queue):
    minute = dt.datetime(2026, 12, 5, 10, 1, 0, tzinfo=dt.UTC)
    queues = [make_queue(pg) for _ in range(4)]
    barrier = threading.Barrier(len(queues))
    errors: list[BaseException] = []

    def sweep(queue: Queue) -> None:
        try:
            barrier.wait(timeout=30)
            queue.sweep(minute)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with pg.session() as s:
        count = s.scalar(select(func.count()).select_from(Job).where(Job.kind == periodic))
    assert count == 1
    # However many messages the sweeps sent, the slot runs once
    queues[0].drain()
    (job,) = _jobs_of(pg, periodic)
    assert (job.status, job.attempts) == ("succeeded", 1)


def _jobs_of(database, kind_name: str) -> list[Job]:
    with database.session() as s:
        jobs = list(s.scalars(select(Job).where(Job.kind == kind_name)))
        for job in jobs:
            s.expunge(job)
        return jobs


def test_a_message_for_an_unreachable_queue_is_left_to_the_sweep(database, tmp_path, make_queue):
    job_id = _submit(database)
    queue = make_queue(database, execute=False)
    queue.huey.storage.filename = str(tmp_path / "no" / "such" / "folder" / "q.db")
    queue.enqueue_quietly(job_id)  # logs, never raises
    assert _read(database, job_id).status == "queued"


def test_a_web_process_only_enqueues(database, make_queue):
    job_id = _submit(database)
    queue = make_queue(database, execute=False)  # a web process
    queue.enqueue(job_id)
    with pytest.raises(RuntimeError, match="placefund worker"):
        queue._run(job_id)
