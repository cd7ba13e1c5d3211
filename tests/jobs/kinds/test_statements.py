"""The yearly-statements job: every donor company's statement rendered once, kept, served by
the company's download while current; cancellable between companies and resumable."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import threading
import time

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from jobs import records
from jobs.kinds import statements as statement_jobs
from jobs.models import Job
from jobs.runner import Runner
from ledger.fund import donations
from ledger.fund.receipt_models import ReceiptNumber, YearlyStatement
from placefund.app import job_services
from tests import factories
from tests.job_helpers import run_jobs, worker_for

YEAR = 2025


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def give(database, company_id: int, key: str, amount: int = 100_000, **kw) -> int:
    with database.session() as s, s.begin():
        return donations.record_donation(
            s,
            key=key,
            channel="bank_transfer",
            amount=amount,
            company_id=company_id,
            received_on=kw.pop("received_on", dt.date(YEAR, 3, 1)),
            **kw,
        ).id


def companies(database, n: int) -> list[int]:
    ids = []
    with database.session() as s, s.begin():
        for i in range(n):
            ids.append(factories.organisation(s, "company", name=f"年度企業{i}").id)
    for i, company_id in enumerate(ids):
        give(database, company_id, f"y:{i}:a", restriction="county:10008")
        give(database, company_id, f"y:{i}:b", amount=250_000, received_on=dt.date(YEAR, 9, 9))
    return ids


def submit(app, year: int = YEAR) -> int:
    database = app.extensions["placefund.db"]
    with database.session() as s, s.begin():
        job, created = records.submit(
            s, "yearly_statements", params={"year": year}, dedupe_key=f"yearly_statements:{year}"
        )
    assert created
    worker_for(app)[0].enqueue(job.id)  # as a view does after its commit
    return job.id


def job(database, job_id: int) -> Job:
    with database.session() as s:
        found = s.get(Job, job_id)
        s.expunge(found)
        return found


def parts_of(database, job_id: int) -> list[Job]:
    with database.session() as s:
        found = list(s.scalars(select(Job).where(Job.parent_id == job_id).order_by(Job.id)))
        for part in found:
            s.expunge(part)
        return found


def kept(database) -> dict[int, YearlyStatement]:
    with database.session() as s:
        rows = s.scalars(
            select(YearlyStatement)
            .where(YearlyStatement.year == YEAR)
            .execution_options(populate_existing=True)
        ).all()
        for r in rows:
            r.pdf  # noqa: B018  (load the deferred column before detaching)
            s.expunge(r)
        return {r.organisation_id: r for r in rows}


def test_every_donor_company_gets_its_statement_once(app, database):
    ids = companies(database, 3)
    with database.session() as s, s.begin():  # it gave the year before: no statement
        other_year = factories.organisation(s, "company", name="別年企業").id
    give(database, other_year, "y:other", received_on=dt.date(YEAR - 1, 5, 5))

    first = submit(app)
    assert run_jobs(app) >= 1
    done = job(database, first)
    assert done.status == "succeeded"
    result = json.loads(done.result)
    assert result == {
        "companies": 3,
        "rendered": 3,
        "already_current": 0,
        "numbered": 6,
        "parts": 1,
    }
    assert (done.progress_done, done.progress_total) == (3, 3)
    stored = kept(database)
    assert set(stored) == set(ids)
    (part,) = parts_of(database, first)
    for row in stored.values():
        assert row.sha256 == hashlib.sha256(row.pdf).hexdigest()
        assert row.job_id == part.id  # the part that rendered it, a part of the yearly job
        text = pdf_text(row.pdf)
        assert "年度捐款明細" in text and str(YEAR) in text
        assert "NT$3,500" in text and "南投縣" in text  # the total, the county restriction
    # Every payment of the year got its receipt number, in the order received
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ReceiptNumber)) == 6

    # The same year again: everything is current, nothing is rendered
    again = submit(app)
    run_jobs(app)
    assert json.loads(job(database, again).result)["already_current"] == 3
    assert kept(database)[ids[0]].job_id == part.id

    # A late payment changes one company's statement: only that one is made again
    give(database, ids[1], "y:late", amount=50_000, received_on=dt.date(YEAR, 12, 30))
    third = submit(app)
    run_jobs(app)
    assert json.loads(job(database, third).result)["rendered"] == 1
    after = kept(database)
    assert after[ids[1]].job_id == parts_of(database, third)[0].id
    assert after[ids[0]].job_id == part.id
    assert "NT$4,000" in pdf_text(after[ids[1]].pdf)


def test_a_second_request_for_the_same_year_finds_the_unfinished_job(app, database):
    companies(database, 1)
    first = submit(app)
    with database.session() as s, s.begin():
        same, created = records.submit(
            s, "yearly_statements", params={"year": YEAR}, dedupe_key=f"yearly_statements:{YEAR}"
        )
    assert (same.id, created) == (first, False)


def test_cancelled_between_companies_keeps_what_was_made_and_resumes(app, database):
    ids = companies(database, 6)
    job_id = submit(app)
    runner = Runner(database, job_services(app.config["SETTINGS"]))
    worker = threading.Thread(target=runner.run, args=(job_id,))
    worker.start()
    # Once the first statement is kept, a manager cancels; the worker's heartbeat tells the
    # job, which stops before its next company
    while True:
        with database.session() as s, s.begin():
            running = s.get(Job, job_id)
            if running.status != "queued" and running.progress_done >= 1:
                records.cancel(s, job_id)
                break
            assert running.status in ("queued", "running")
        time.sleep(0.01)
    runner.beat_once()
    worker.join(timeout=120)
    stopped = job(database, job_id)
    assert stopped.status == "cancelled"
    made = len(kept(database))
    assert 1 <= made < len(ids)

    # Run again: the companies already done are not made again
    with database.session() as s, s.begin():
        records.retry(s, job_id)
    runner.run(job_id)
    result = json.loads(job(database, job_id).result)
    assert (result["already_current"], result["rendered"]) == (made, len(ids) - made)
    assert len(kept(database)) == len(ids)


def test_one_companys_statement_is_made_and_kept_alone(app, database):
    ids = companies(database, 2)
    # A payment with no receipt number yet: the job gives it one before rendering
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ReceiptNumber)) == 0
    with database.session() as s, s.begin():
        made, created = statement_jobs.submit_company(
            s, company_id=ids[0], year=YEAR, actor_id=None
        )
        again, created_again = statement_jobs.submit_company(
            s, company_id=ids[0], year=YEAR, actor_id=None
        )
        other, created_other = statement_jobs.submit_company(
            s, company_id=ids[1], year=YEAR - 1, actor_id=None
        )
    assert created and not created_again and again.id == made.id
    assert created_other and other.id != made.id  # another company and year: its own job
    worker_for(app)[0].enqueue(made.id)
    run_jobs(app)
    done = job(database, made.id)
    assert done.status == "succeeded" and json.loads(done.result) == {
        "rendered": 1,
        "already_current": 0,
    }
    rows = kept(database)
    assert set(rows) == {ids[0]}  # that company only, not every donor of the year
    row = rows[ids[0]]
    assert row.job_id == made.id and row.sha256 == hashlib.sha256(row.pdf).hexdigest()
    text = pdf_text(row.pdf)
    assert "年度企業0" in text and "NT$3,500" in text and f"PF-{YEAR}-" in text
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ReceiptNumber)) == 2
    # Asked again while the kept one is current: nothing is rendered
    with database.session() as s, s.begin():
        second, created = statement_jobs.submit_company(
            s, company_id=ids[0], year=YEAR, actor_id=None
        )
    assert created  # the first finished: its key is free again
    worker_for(app)[0].enqueue(second.id)
    run_jobs(app)
    assert json.loads(job(database, second.id).result) == {"rendered": 0, "already_current": 1}
    assert kept(database)[ids[0]].job_id == made.id


@pytest.mark.postgres
def test_on_postgres_the_statements_are_made_and_kept(pg):
    from foundation.settings import Settings
    from jobs.queue import Queue

    ids = companies(pg, 2)
    settings = Settings(database_url=str(pg.engine.url), secret_key="t")
    with pg.session() as s, s.begin():
        made, _ = statement_jobs.submit(s, year=YEAR, actor_id=None)
    worker = Queue(pg, execute=Runner(pg, job_services(settings)).run)
    try:
        worker.enqueue(made.id)
        assert worker.drain() >= 1
    finally:
        worker.huey.storage.close()
    assert json.loads(job(pg, made.id).result)["rendered"] == 2
    assert set(kept(pg)) == set(ids)


def test_split_covers_every_company_id_once():
    assert statement_jobs.split([], size=2) == []
    assert statement_jobs.split([3, 5, 8, 9, 12], size=2) == [
        {"after": None, "through": 5},
        {"after": 5, "through": 9},
        {"after": 9, "through": None},  # the last part has no upper end
    ]


def test_the_year_is_rendered_in_parts_each_company_once(app, database, monkeypatch):
    monkeypatch.setattr(statement_jobs, "PART_SIZE", 2)
    ids = companies(database, 5)
    first = submit(app)
    run_jobs(app)
    done = job(database, first)
    assert done.status == "succeeded"
    assert json.loads(done.result) == {
        "companies": 5,
        "rendered": 5,
        "already_current": 0,
        "numbered": 10,
        "parts": 3,
    }
    # The parent's progress is its parts' summed
    assert (done.progress_done, done.progress_total) == (5, 5)
    parts = parts_of(database, first)
    assert [p.kind for p in parts] == ["yearly_statements_part"] * 3
    assert [p.status for p in parts] == ["succeeded"] * 3
    assert [json.loads(p.result)["rendered"] for p in parts] == [2, 2, 1]
    assert [p.progress_done for p in parts] == [2, 2, 1]
    stored = kept(database)
    assert set(stored) == set(ids)
    # Each company by the part whose range holds it
    for part in parts:
        params = json.loads(part.params)
        mine = {c for c, row in stored.items() if row.job_id == part.id}
        assert len(mine) == json.loads(part.result)["rendered"]
        assert all(
            (params["after"] is None or c > params["after"])
            and (params["through"] is None or c <= params["through"])
            for c in mine
        )


def test_a_failed_part_runs_again_with_the_job_and_only_its_companies_render(
    app, database, monkeypatch
):
    monkeypatch.setattr(statement_jobs, "PART_SIZE", 2)
    monkeypatch.setattr(records, "BACKOFF", (0.0, 0.0))  # retries due at once
    ids = companies(database, 4)
    real = statement_jobs.statements.render
    broken = {ids[3]}

    def render(prepared, settings, issued_on):
        if prepared.statement.company.id in broken:
            raise ConnectionError("the disk went away")
        return real(prepared, settings, issued_on)

    monkeypatch.setattr(statement_jobs.statements, "render", render)
    job_id = submit(app)
    runner = Runner(database, job_services(app.config["SETTINGS"]))
    # Each attempt of the job runs the failed part again until both are out of attempts
    for _ in range(3):
        runner.run(job_id)
    stopped = job(database, job_id)
    assert stopped.status == "failed" and stopped.error_code == "PartsUnfinished"
    # Said in words on the jobs page, not as "an unexpected error"
    said = json.loads(stopped.error_detail)
    assert said["message_code"] == "jobs.parts_unfinished"
    assert said["params"] == {"stopped": 1, "total": 2}
    from admin import job_pages

    with app.test_request_context(headers={"Accept-Language": "zh-TW"}):
        assert job_pages.status(stopped)["error"] == (
            "2 個分段中有 1 個未完成。已完成的企業明細會保留，再試一次只會製作其餘的部分。"
        )
    assert [p.status for p in parts_of(database, job_id)] == ["succeeded", "failed"]
    assert set(kept(database)) == set(ids[:3])  # the failed part kept what it made

    # Mended, the job is retried: the failed part runs again, the finished one does not
    broken.clear()
    with database.session() as s, s.begin():
        records.retry(s, job_id)
    runner.run(job_id)
    done = job(database, job_id)
    assert done.status == "succeeded"
    result = json.loads(done.result)
    # Each part's last run: the first rendered its 2, the second 1 (its other was kept)
    assert (result["rendered"], result["already_current"], result["parts"]) == (3, 1, 2)
    second = parts_of(database, job_id)[1]
    assert json.loads(second.result) == {"companies": 2, "rendered": 1, "already_current": 1}
    assert set(kept(database)) == set(ids)


def test_cancelling_the_year_cancels_the_parts_nobody_started(app, database, monkeypatch):
    monkeypatch.setattr(statement_jobs, "PART_SIZE", 1)
    companies(database, 3)
    job_id = submit(app)
    runner = Runner(database, job_services(app.config["SETTINGS"]))
    stop_after_first, cancelled = threading.Event(), threading.Event()
    real = statement_jobs.statements.render

    def render(*args):
        # The first part renders its company while the manager cancels (no transaction open)
        stop_after_first.set()
        assert cancelled.wait(timeout=120)
        return real(*args)

    monkeypatch.setattr(statement_jobs.statements, "render", render)
    worker = threading.Thread(target=runner.run, args=(job_id,))
    worker.start()
    assert stop_after_first.wait(timeout=120)
    with database.session() as s, s.begin():
        records.cancel(s, job_id)
    runner.beat_once()
    cancelled.set()
    worker.join(timeout=120)
    assert job(database, job_id).status == "cancelled"
    # The first part had rendered its company; the others, queued, never ran
    statuses = [p.status for p in parts_of(database, job_id)]
    assert statuses == ["succeeded", "cancelled", "cancelled"]
    assert len(kept(database)) == 1

    # Retried, the job takes up its cancelled parts and finishes the year
    with database.session() as s, s.begin():
        records.retry(s, job_id)
    runner.run(job_id)
    result = json.loads(job(database, job_id).result)
    assert result["companies"] == 3 and len(kept(database)) == 3
    assert [p.status for p in parts_of(database, job_id)] == ["succeeded"] * 3


@pytest.mark.postgres
def test_on_postgres_a_second_worker_takes_the_parts_handed_out(pg):
    """The job hands its parts to the queue: a worker draining it renders parts while the
    job's own worker does too; every company once, the parts' progress on the job."""
    from foundation.settings import Settings
    from jobs.queue import Queue

    ids = companies(pg, 4)
    settings = Settings(database_url=str(pg.engine.url), secret_key="t")
    with pg.session() as s, s.begin():
        made, _ = statement_jobs.submit(s, year=YEAR, actor_id=None)
    statement_jobs.PART_SIZE, size = 1, statement_jobs.PART_SIZE
    other = Queue(pg, execute=Runner(pg, job_services(settings)).run)
    mine = Runner(pg, job_services(settings))
    handed = []
    mine.hand_out = lambda job_id: (handed.append(job_id), other.enqueue(job_id))
    try:
        first = threading.Thread(target=mine.run, args=(made.id,))
        first.start()
        while first.is_alive():
            other.drain()
            time.sleep(0.05)
        first.join()
        other.drain()
    finally:
        statement_jobs.PART_SIZE = size
        other.huey.storage.close()
    done = job(pg, made.id)
    assert done.status == "succeeded"
    assert json.loads(done.result)["rendered"] == 4
    assert sorted(handed) == [p.id for p in parts_of(pg, made.id)]
    assert (done.progress_done, done.progress_total) == (4, 4)
    assert set(kept(pg)) == set(ids)
