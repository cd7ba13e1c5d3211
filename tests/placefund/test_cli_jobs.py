"""``placefund jobs list|retry|cancel`` and ``placefund worker``'s arguments: what a person
types, good and bad. A bad argument is one line naming it and exit status 2; a job that
cannot be retried or cancelled says why, exits non-zero and changes nothing."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from jobs import records
from jobs.models import Job
from jobs.queue import Queue
from placefund.app import Database
from placefund.cli import main


@pytest.fixture
def db(sqlite_template, tmp_path):
    path = tmp_path / "placefund.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    database.url = f"sqlite:///{path}"
    yield database
    database.engine.dispose()


def _cli(db, *args: str):
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": db.url})


def _job(db, status: str = "queued", **values) -> int:
    with db.session() as s, s.begin():
        job, _ = records.submit(s, "seal")
        s.execute(update(Job).where(Job.id == job.id).values(status=status, **values))
        return job.id


def _status(db, job_id: int) -> str:
    with db.session() as s:
        return s.get(Job, job_id).status


def test_list_shows_the_newest_jobs_and_filters_them(db):
    failed = _job(db, "failed", error_code="ConnectionError", attempts=3, progress_done=1234)
    queued = _job(db)
    result = _cli(db, "jobs", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["id", "kind", "status", "phase", "progress"]
    assert lines[1].split()[:3] == [str(queued), "seal", "queued"]
    assert lines[2].split()[:3] == [str(failed), "seal", "failed"]
    assert "1,234" in lines[2] and "3/3" in lines[2] and lines[2].endswith("ConnectionError")
    only = _cli(db, "jobs", "list", "--status", "failed").output.splitlines()
    assert [line.split()[0] for line in only[1:]] == [str(failed)]
    none = _cli(db, "jobs", "list", "--kind", "bank_import")
    assert none.exit_code == 0 and none.output.splitlines()[-1] == "No jobs."
    assert len(_cli(db, "jobs", "list", "--limit", "1").output.splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("jobs", "list", "--status", "exploded"), "'--status'"),
        (("jobs", "list", "--limit", "0"), "'--limit'"),
        (("jobs", "retry", str(2**70)), "'JOB_ID'"),
        (("jobs", "cancel", str(2**70)), "'JOB_ID'"),
        (("jobs", "retry", "0"), "'JOB_ID'"),
        (("jobs", "cancel", "twelve"), "'JOB_ID'"),
        (("worker", "--threads", "0"), "--threads"),
        (("worker", "--threads", "-3"), "--threads"),
    ],
)
def test_a_bad_argument_is_exit_2_naming_it(db, args, names):
    before = _job(db)
    result = _cli(db, *args)
    assert result.exit_code == 2, result.output
    assert names in result.output and "Traceback" not in result.output
    assert _status(db, before) == "queued"


def test_retry_runs_a_failed_job_again_and_hands_it_to_the_queue(db):
    failed = _job(db, "failed", attempts=3, error_code="boom", finished_at=dt.datetime.now(dt.UTC))
    result = _cli(db, "jobs", "retry", str(failed))
    assert result.exit_code == 0, result.output
    assert result.output.split()[:3] == [str(failed), "seal", "queued"]
    with db.session() as s:
        job = s.get(Job, failed)
        assert (job.status, job.attempts, job.error_code) == ("queued", 0, None)
    queue = Queue(db)
    try:
        assert queue.depth() == 1  # a worker will run it
    finally:
        queue.close()


def test_retry_of_a_succeeded_job_is_refused(db):
    done = _job(db, "succeeded")
    result = _cli(db, "jobs", "retry", str(done))
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: Only a failed or cancelled job can be retried; job {done} is succeeded."
    )
    assert _status(db, done) == "succeeded"


def test_cancel_a_queued_job_and_refuse_a_finished_one(db):
    queued = _job(db)
    result = _cli(db, "jobs", "cancel", str(queued))
    assert result.exit_code == 0, result.output
    assert result.output.split()[2] == "cancelled"
    again = _cli(db, "jobs", "cancel", str(queued))
    assert again.exit_code == 1
    assert again.output.strip() == f"Error: Job {queued} has already finished (cancelled)."


@pytest.mark.parametrize("command", ["retry", "cancel"])
def test_an_unknown_job_is_a_clear_message(db, command):
    result = _cli(db, "jobs", command, "424242")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: There is no job 424242."
