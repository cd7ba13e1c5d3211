"""The overdue reminders: one job a day at 01:00 UTC (09:00 in Taiwan) whatever the number of
workers sweeping, the day's list kept as its result, and a manager's "make it now"."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import func, select

from jobs import records
from jobs.kinds import reminders
from jobs.models import Job
from jobs.queue import Queue
from jobs.registry import KINDS
from jobs.runner import Runner
from ledger.fund import common, donations, pledges
from placefund.app import job_services
from tests import factories
from tests.job_helpers import run_jobs

UTC = dt.UTC


def overdue_world(database) -> int:
    """A company with a member and a pledge whose second instalment is overdue by now."""
    with database.session() as s, s.begin():
        company = factories.organisation(s, "company", name="遲繳企業")
        member = factories.user(s, "company_member", company, email="lin@example.tw")
        member.name = "林會計"
        pledge = pledges.record_pledge(
            s,
            key="late",
            company_id=company.id,
            amount=300_000,
            instalments=3,
            pledged_on=common.today() - dt.timedelta(days=40),
        )
        donations.record_donation(
            s, key="late:d", channel="bank_transfer", amount=150_000, pledge_id=pledge.id
        )
        return company.id


def count_jobs(database) -> int:
    with database.session() as s:
        return s.scalar(
            select(func.count()).select_from(Job).where(Job.kind == "overdue_reminders")
        )


def test_it_is_scheduled_at_nine_in_taiwan():
    schedule = KINDS["overdue_reminders"].schedule
    assert schedule(dt.datetime(2026, 12, 5, 1, 0, tzinfo=UTC))
    assert not schedule(dt.datetime(2026, 12, 5, 1, 1, tzinfo=UTC))
    assert not schedule(dt.datetime(2026, 12, 5, 9, 0, tzinfo=UTC))


def test_the_sweeps_of_a_day_make_one_job_and_it_keeps_the_list(app, database):
    company_id = overdue_world(database)
    nine = dt.datetime(2026, 12, 5, 1, 0, 20, tzinfo=UTC)
    # Two workers' schedulers fire in the same minute; each sweeps
    Queue(database).sweep(nine)
    Queue(database).sweep(nine.replace(second=50))
    Queue(database).sweep(nine.replace(minute=1))  # the next minute is not a slot
    assert count_jobs(database) == 1
    run_jobs(app)
    with database.session() as s:
        job = s.scalars(select(Job).where(Job.kind == "overdue_reminders")).one()
        assert job.status == "succeeded"
        assert job.dedupe_key == "slot:overdue_reminders@2026-12-05T01:00"
        result = json.loads(job.result)
    assert result["date"] == common.today().isoformat()
    assert result["count"] >= 1 and result["amounts"]["TWD"] >= 50_000
    (mine,) = [r for r in result["reminders"] if r["company_id"] == company_id]
    assert (mine["instalment"], mine["instalments"], mine["unpaid"]) == (2, 3, 50_000)
    assert mine["contacts"] == [{"name": "林會計", "email": "lin@example.tw"}]
    assert mine["company"] == "遲繳企業" and mine["days_overdue"] > 0
    # The slot is kept after the job finished: a late sweep of the same minute adds none
    Queue(database).sweep(nine.replace(second=59))
    assert count_jobs(database) == 1


def test_make_it_now_twice_is_one_job_until_it_has_run(app, database):
    with database.session() as s, s.begin():
        first, created = reminders.submit_now(s, None)
        again, created_again = reminders.submit_now(s, None)
    assert created and not created_again and again.id == first.id
    Queue(database).enqueue(first.id)
    run_jobs(app)
    with database.session() as s, s.begin():
        later, created = reminders.submit_now(s, None)
    assert created and later.id != first.id
    with database.session() as s:
        newest, result = reminders.latest(s)
        assert newest.id == later.id and result["date"] == common.today().isoformat()


@pytest.mark.postgres
def test_on_postgres_workers_sweeping_at_once_make_one_job(pg):
    overdue_world(pg)
    nine = dt.datetime(2026, 12, 6, 1, 0, 5, tzinfo=UTC)
    queues = [Queue(pg) for _ in range(4)]
    barrier = threading.Barrier(len(queues))
    errors = []

    def sweep(queue):
        try:
            barrier.wait()
            queue.sweep(nine)
        except Exception as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)
        finally:
            queue.huey.storage.close()  # huey's own connection, in the thread that used it

    threads = [threading.Thread(target=sweep, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert count_jobs(pg) == 1
    runner = Runner(pg, job_services(_settings(pg)))
    worker = Queue(pg, execute=runner.run)
    try:
        assert worker.drain() >= 1
    finally:
        worker.huey.storage.close()
    with pg.session() as s:
        job = s.scalars(select(Job).where(Job.kind == "overdue_reminders")).one()
        assert job.status == "succeeded"
        assert json.loads(job.result)["count"] >= 1
    with pg.session() as s, s.begin():
        assert records.submit_slot(s, "overdue_reminders", nine)[1] is False


def _settings(database):
    from foundation.settings import Settings

    return Settings(database_url=str(database.engine.url), secret_key="t")
