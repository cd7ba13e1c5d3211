"""The ``bank_import`` job kind, through the worker's own Runner, on SQLite and PostgreSQL:
a statement imported and matched, a job run again after its import committed (nothing
imported twice), a cancel in the middle of the import (rolled back), a bad file (failed at
once, file dropped, never retried), a transient error (retried after a backoff), and a real
``placefund worker`` killed with SIGKILL in the middle of an import (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from foundation.db import utcnow
from foundation.errors import InvalidState
from jobs import records
from jobs.kinds import bank_import
from jobs.models import Job
from jobs.runner import JobContext, Runner
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.models import ReconciliationRun, StatementImport, StatementLine
from tests import factories

ROOT = Path(__file__).resolve().parents[3]
DISTINCT_LINES = text("SELECT count(*), count(DISTINCT fingerprint) FROM statement_lines")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request):
    return request.getfixturevalue("database" if request.param == "sqlite" else "pg")


@pytest.fixture
def manager_id(db) -> int:
    with db.session() as s, s.begin():
        return factories.manager(s, "NDC").id


def statement(n: int, *, bad: tuple[int, ...] = (), start: int = 0) -> bytes:
    """A generic-layout statement of ``n`` lines (line numbers in ``bad`` malformed)."""
    rows = ["date,description,amount,balance"]
    for i in range(start, start + n):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=i % 300)
        rows.append(f"{'not a date' if i in bad else day},transfer {i},{100 + i},")
    return ("\n".join(rows) + "\n").encode()


def submit(db, data: bytes, actor_id: int, *, skip_bad_lines: bool = False) -> int:
    with db.session() as s, s.begin():
        job, created = bank_import.submit(
            s,
            data=data,
            filename="november.csv",
            mapping="generic",
            encoding=None,
            skip_bad_lines=skip_bad_lines,
            actor_id=actor_id,
        )
        assert created
        return job.id


def row(db, job_id: int) -> Job:
    with db.session() as s:
        job = s.get(Job, job_id)
        _ = job.payload  # deferred: loaded before the session closes
        s.expunge(job)
        return job


def result(db, job_id: int) -> dict:
    return json.loads(row(db, job_id).result or "{}")


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_statement_is_imported_and_matched(db, manager_id):
    job_id = submit(db, statement(12), manager_id)
    assert Runner(db, {}).run(job_id) is None
    job = row(db, job_id)
    assert (job.status, job.phase, job.attempts) == ("succeeded", "done", 1)
    assert (job.progress_done, job.progress_total) == (12, 12)
    assert job.payload is None and job.dedupe_key is None  # the file is not kept twice
    r = json.loads(job.result)
    assert set(r) == {
        "import_id", "run_id", "lines_read", "lines_new", "duplicates", "matched", "suggested",
        "unmatched", "donations_recorded", "bad_line_count", "bad_lines",
    }  # fmt: skip
    assert (r["lines_read"], r["lines_new"], r["duplicates"]) == (12, 12, 0)
    assert (r["unmatched"], r["bad_line_count"], r["bad_lines"]) == (12, 0, [])
    with db.session() as s:
        imported = s.get(StatementImport, r["import_id"])
        assert (imported.name, imported.created_by_id) == ("november.csv", manager_id)
        assert s.get(ReconciliationRun, r["run_id"]).import_id == r["import_id"]
    assert count(db, StatementLine) == 12


def parses(monkeypatch) -> list[int]:
    """Every parse of a statement file from now on (its size in bytes, per parse)."""
    real = reconciliation_runs.parse_statement
    seen = []

    def counted(data, *args, **kwargs):
        seen.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(reconciliation_runs, "parse_statement", counted)
    return seen


def test_the_file_is_parsed_once_per_attempt(db, manager_id, monkeypatch):
    seen = parses(monkeypatch)
    data = statement(40, bad=(7,))
    job_id = submit(db, data, manager_id, skip_bad_lines=True)
    Runner(db, {}).run(job_id)
    r = result(db, job_id)
    assert row(db, job_id).status == "succeeded"
    assert (r["lines_read"], r["lines_new"], r["bad_line_count"]) == (39, 39, 1)
    assert seen == [len(data)]  # read for the page, and that reading imported


def test_the_same_file_while_unfinished_is_the_same_job(db, manager_id):
    data = statement(3)
    first = submit(db, data, manager_id)
    with db.session() as s, s.begin():
        again, created = bank_import.submit(
            s, data=data, filename="again.csv", mapping="generic", encoding=None,
            skip_bad_lines=False, actor_id=manager_id,
        )  # fmt: skip
        assert (again.id, created) == (first, False)
    Runner(db, {}).run(first)
    # Finished: the key is free, the same file is a new job (its lines then duplicates)
    later = submit(db, data, manager_id)
    Runner(db, {}).run(later)
    assert (result(db, later)["lines_new"], result(db, later)["duplicates"]) == (0, 3)


class Crash(BaseException):
    """The process dying where the test says (not an Exception: the Runner cannot catch it,
    as it could not catch SIGKILL)."""


def test_a_job_run_again_after_its_import_committed_imports_nothing_twice(
    db, manager_id, monkeypatch
):
    job_id = submit(db, statement(20), manager_id)

    def crash(_context, _state):
        raise Crash()

    monkeypatch.setattr(bank_import, "_match", crash)
    with pytest.raises(Crash):
        Runner(db, {}).run(job_id)
    monkeypatch.undo()
    job = row(db, job_id)
    assert (job.status, job.phase) == ("running", "matching")
    imported = json.loads(job.result)["import_id"]  # recorded with the lines
    assert count(db, StatementLine) == 20
    # The worker is gone (another machine's, silent): the next claim takes the job over
    with db.session() as s, s.begin():
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(worker="elsewhere:1:1", heartbeat_at=utcnow() - records.STALE_AFTER * 2)
        )
    Runner(db, {}).run(job_id)
    job = row(db, job_id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert json.loads(job.result)["import_id"] == imported
    assert count(db, StatementImport) == 1 and count(db, StatementLine) == 20
    assert count(db, ReconciliationRun) == 1


def test_a_job_killed_in_the_middle_of_storing_imports_each_line_once(db, manager_id, monkeypatch):
    monkeypatch.setattr(reconciliation_runs, "CHUNK", 4)
    seen = parses(monkeypatch)
    job_id = submit(db, statement(30), manager_id)
    original = JobContext.progress

    def dies(self, done=None, total=None, phase=None):
        original(self, done, total, phase)
        if self.in_write and done and done >= 8:
            raise Crash()  # the worker killed with chunks stored, the import uncommitted

    monkeypatch.setattr(JobContext, "progress", dies)
    with pytest.raises(Crash):
        Runner(db, {}).run(job_id)
    monkeypatch.setattr(JobContext, "progress", original)
    assert count(db, StatementImport) == 0 and count(db, StatementLine) == 0
    assert "import_id" not in result(db, job_id)
    with db.session() as s, s.begin():
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(worker="elsewhere:1:1", heartbeat_at=utcnow() - records.STALE_AFTER * 2)
        )
    Runner(db, {}).run(job_id)
    job = row(db, job_id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert count(db, StatementImport) == 1 and count(db, StatementLine) == 30
    with db.engine.connect() as conn:
        lines, distinct = conn.execute(DISTINCT_LINES).one()
    assert lines == distinct == 30
    assert len(seen) == 2  # once per attempt: the second read the file again, not twice


def test_a_cancel_in_the_middle_of_the_import_rolls_it_back(db, manager_id, monkeypatch):
    monkeypatch.setattr(reconciliation_runs, "CHUNK", 3)
    job_id = submit(db, statement(30), manager_id)
    runner = Runner(db, {})
    original = JobContext.progress
    asked = []

    def progress(self, done=None, total=None, phase=None):
        original(self, done, total, phase)
        if self.in_write and done and done >= 6 and not asked:
            asked.append(done)
            if db.engine.dialect.name == "postgresql":
                # A manager's cancel, seen by the worker's next heartbeat
                with db.session() as s, s.begin():
                    records.cancel(s, job_id)
                runner.beat_once()
            else:
                # SQLite: the import holds the one write lock, so nobody can record the
                # request until it ends; this is the flag the heartbeat would set
                self.stop.set()

    monkeypatch.setattr(JobContext, "progress", progress)
    runner.run(job_id)
    job = row(db, job_id)
    assert asked and (job.status, job.phase) == ("cancelled", "cancelled")
    assert "import_id" not in json.loads(job.result)
    assert count(db, StatementImport) == 0 and count(db, StatementLine) == 0
    assert job.payload is not None  # kept: a cancelled import can run again
    monkeypatch.undo()
    with db.session() as s, s.begin():
        records.retry(s, job_id)
    Runner(db, {}).run(job_id)
    assert row(db, job_id).status == "succeeded"
    assert count(db, StatementLine) == 30


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (statement(5, bad=(2, 4)), "bank_statement_invalid"),
        (b"hello,world\n1,2\n", "bank_statement_unreadable"),
    ],
)
def test_a_bad_file_fails_at_once_and_is_never_retried(db, manager_id, data, code):
    job_id = submit(db, data, manager_id)
    assert Runner(db, {}).run(job_id) is None  # no retry scheduled
    job = row(db, job_id)
    assert (job.status, job.error_code, job.attempts) == ("failed", code, 1)
    assert job.payload is None and job.dedupe_key is None
    assert count(db, StatementImport) == 0 and count(db, StatementLine) == 0
    if code == "bank_statement_invalid":
        r = json.loads(job.result)
        assert r["bad_line_count"] == 2
        assert [b["line"] for b in r["bad_lines"]] == [4, 6]  # the header is line 1
        assert {"line", "field", "message", "message_zh"} == set(r["bad_lines"][0])
        detail = json.loads(job.error_detail)
        assert detail["message_code"] == "bank_statement_invalid"
    with db.session() as s, s.begin(), pytest.raises(InvalidState):
        records.retry(s, job_id)


def test_malformed_lines_with_skip_import_the_rest(db, manager_id):
    job_id = submit(db, statement(5, bad=(2,)), manager_id, skip_bad_lines=True)
    Runner(db, {}).run(job_id)
    r = result(db, job_id)
    assert (r["lines_new"], r["bad_line_count"]) == (4, 1)


def test_a_transient_error_is_retried_after_a_backoff(db, manager_id, monkeypatch):
    real = reconciliation_runs.import_bank_statement
    calls = []

    def dropped(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(reconciliation_runs, "import_bank_statement", dropped)
    job_id = submit(db, statement(8), manager_id)
    delay = Runner(db, {}).run(job_id)
    assert delay == records.backoff(1)
    job = row(db, job_id)
    assert (job.status, job.phase, job.error_code) == ("queued", "waiting", "OperationalError")
    assert job.run_after > utcnow() and job.payload is not None
    assert count(db, StatementLine) == 0
    assert Runner(db, {}).run(job_id) is None and row(db, job_id).status == "queued"  # not due
    with db.session() as s, s.begin():
        s.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
    Runner(db, {}).run(job_id)
    job = row(db, job_id)
    assert (job.status, job.attempts, job.error_code) == ("succeeded", 2, None)
    assert count(db, StatementLine) == 8 and len(calls) == 2


# --- a real worker, killed -------------------------------------------------------------------


def _worker_env(db) -> dict[str, str]:
    url = db.engine.url.render_as_string(hide_password=False)
    schema = db.connect_args["options"].split("=", 1)[1]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{url}?options=-csearch_path%3D{schema}",
        PYTHONPATH=str(ROOT),
        SECRET_KEY="worker-test",
    )
    return env


def start_worker(db, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "placefund.cli", "worker", "--no-seal", "--threads", "1"],
            cwd=ROOT,
            env=_worker_env(db),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
def test_a_worker_killed_in_the_middle_of_an_import_leaves_it_to_the_next(pg, tmp_path):
    from jobs.queue import Queue

    with pg.session() as s, s.begin():
        actor = factories.manager(s, "NDC").id
    job_id = submit(pg, statement(8000), actor)
    queue = Queue(pg)
    queue.enqueue(job_id)
    queue.huey.storage.close()
    log = tmp_path / "worker.log"
    first = start_worker(pg, log)
    try:

        def importing():
            job = row(pg, job_id)
            return job.phase == "importing" and job

        seen = wait_for(importing, 40, "the import to start")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    at_kill = row(pg, job_id)
    assert seen.status == "running" and at_kill.status == "running", log.read_text()
    print(
        f"killed at {seen.phase} {seen.progress_done}/{seen.progress_total}; "
        f"import committed before the kill: {'import_id' in json.loads(at_kill.result or '{}')}"
    )
    second = start_worker(pg, log)
    try:
        done = wait_for(
            lambda: row(pg, job_id).status in ("succeeded", "failed"), 45, "the job to finish"
        )
        assert done
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=20)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait()
    job = row(pg, job_id)
    assert job.status == "succeeded", (job.error_code, job.error_detail, log.read_text()[-3000:])
    assert job.attempts == 2  # the killed attempt and the one that finished
    r = json.loads(job.result)
    assert (r["lines_read"], r["lines_new"]) == (8000, 8000)
    with pg.engine.connect() as conn:
        lines = conn.execute(DISTINCT_LINES).one()
        imports = conn.execute(text("SELECT count(*) FROM statement_imports")).scalar()
    assert tuple(lines) == (8000, 8000) and imports == 1  # once each, no duplicates
    verified = subprocess.run(
        [sys.executable, "-m", "placefund.cli", "ledger", "verify"],
        cwd=ROOT,
        env=_worker_env(pg),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
