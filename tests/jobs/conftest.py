"""Kinds of job that exist only in these tests, registered for one test and removed after.

They do what a real kind does (work in the job's transaction, report progress, stop at a
checkpoint, fail on purpose or by accident) on a table every database has (``job_workers``),
so the framework is tried without depending on another area's kinds.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from foundation.db import utcnow
from foundation.errors import InvalidState
from jobs.models import WorkerBeat
from jobs.registry import KINDS, kind

#: Set by a test to let ``test_wait`` go on; ``test_wait`` sets ``holding`` once it waits
gate = threading.Event()
holding = threading.Event()


def _mark(session, name: str) -> None:
    """A row that shows the job's work was committed (or, when absent, rolled back)."""
    now = utcnow()
    session.add(WorkerBeat(name=name, started_at=now, beat_at=now, threads=1))
    session.flush()


def marked(database, name: str) -> bool:
    with database.session() as s:
        return s.scalar(select(WorkerBeat.name).where(WorkerBeat.name == name)) is not None


def _ok(context):
    with context.database.session() as s, s.begin():
        _mark(s, f"done:{context.job_id}")
    context.progress(done=1, total=1, phase="done")
    return {"n": context.params.get("n", 0), "attempt": context.attempt}


def _flaky(context):
    # Fails the first ``fails`` attempts with an accident (a dropped connection, say)
    if context.attempt <= context.params.get("fails", 0):
        raise ConnectionError("the database went away")
    return {"attempt": context.attempt}


def _refused(context):
    raise InvalidState("Pledge 5 is fully paid.", reason="pledge_paid", params={"id": 5})


def _wait(context):
    """Writes inside its transaction, then waits (transaction open where the database lets
    a second writer in) until asked to stop or let go; a checkpoint before the commit."""
    hold_open = context.params.get("hold_open", False)
    with context.database.session() as s:
        if hold_open:
            s.begin()
            _mark(s, f"work:{context.job_id}")
        context.progress(done=1, total=10, phase="waiting")
        holding.set()
        while not context.stop.is_set() and not gate.is_set():
            context.stop.wait(0.05)
        if not hold_open:
            s.begin()
            _mark(s, f"work:{context.job_id}")
        context.check_cancelled()
        s.commit()
    return {"finished": True}


TEST_KINDS = {
    "test_ok": dict(run=_ok, max_attempts=3),
    "test_flaky": dict(run=_flaky, max_attempts=3),
    "test_refused": dict(run=_refused, max_attempts=3),
    "test_wait": dict(run=_wait, max_attempts=1),
    "test_once": dict(run=_ok, max_attempts=1, retryable=lambda job: job.error_code != "gone"),
}


@pytest.fixture(autouse=True)
def test_kinds():
    gate.clear()
    holding.clear()
    for name, options in TEST_KINDS.items():
        kind(name, **{k: v for k, v in options.items() if k != "run"})(options["run"])
    yield
    gate.set()
    for name in TEST_KINDS:
        KINDS.pop(name, None)


@pytest.fixture
def make_queue():
    """``make_queue(database)``: a worker's queue (a web process's with ``execute=False``),
    its huey connections closed after the test."""
    from jobs.queue import Queue
    from jobs.runner import Runner

    made = []

    def make(database, *, execute: bool = True) -> Queue:
        queue = Queue(database, execute=Runner(database).run if execute else None)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.close()
