"""The console on PostgreSQL: sign-in, lockout counting and the pages' queries."""

from __future__ import annotations

import pytest

from foundation.settings import Settings
from placefund.app import create_app
from tests.admin.conftest import PASSWORD, build_console_world, sign_in

pytestmark = pytest.mark.postgres


def test_console_pages_on_postgres(pg):
    ids, emails, _tokens = build_console_world(pg)
    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="pg"), database=pg)
    c = app.test_client()
    assert sign_in(c, emails["ndc"], "wrong password").status_code == 401
    assert sign_in(c, emails["ndc"], PASSWORD).status_code == 302
    for url in (
        "/console/dashboard",
        "/console/ledger/entries",
        "/console/ledger/trial-balance",
        f"/console/organisations/{ids['business_x']}",
        "/transparency",
    ):
        assert c.get(url).status_code == 200, url
    company = app.test_client()
    assert sign_in(company, emails["company_a"], PASSWORD).status_code == 302
    page = company.get("/console/company")
    assert "NT$10,000" in page.text and "NT$20,000" not in page.text


def test_import_jobs_on_postgres_show_progress_while_the_import_runs(pg, monkeypatch):
    """PostgreSQL takes a second writer: each stored chunk is visible to others before the
    import commits (SQLite shows the figures at each step's commit)."""
    import json

    from sqlalchemy import select

    from jobs.kinds import bank_import
    from jobs.models import Job
    from jobs.runner import JobContext, Runner
    from ledger.reconciliation import runs
    from tests.admin.conftest import bank_csv

    ids, _emails, _tokens = build_console_world(pg)
    monkeypatch.setattr(runs, "CHUNK", 1)
    seen = []
    original = JobContext.flush_progress

    def spy(self):
        original(self)
        if not self.in_write:
            return
        with pg.engine.connect() as conn:  # another connection, as the status page has
            seen.append(
                conn.execute(
                    select(Job.progress_done, Job.result).where(Job.id == self.job_id)
                ).one()
            )

    monkeypatch.setattr(JobContext, "flush_progress", spy)
    content = bank_csv(("2026-11-02", "利息", "12"), ("2026-11-03", "費用", "-30"),
                       ("2026-11-04", "利息", "8"))  # fmt: skip
    with pg.session() as s, s.begin():
        job, _created = bank_import.submit(
            s,
            data=content,
            filename="pg.csv",
            mapping="generic",
            encoding=None,
            skip_bad_lines=False,
            actor_id=ids["user_ndc"],
        )
    Runner(pg, {}).run(job.id)
    assert [done for done, _ in seen][:3] == [1, 2, 3]
    # not committed yet: the job does not know the import's id
    assert all("import_id" not in json.loads(result) for _, result in seen[:3])
    with pg.session() as s:
        row = s.get(Job, job.id)
        result = json.loads(row.result)
        assert (row.status, result["lines_new"], result["unmatched"]) == ("succeeded", 3, 3)


def test_the_upload_page_and_its_job_on_postgres(pg):
    import io

    from tests.admin.conftest import bank_csv, csrf_token
    from tests.job_helpers import close_queue, run_jobs

    ids, emails, _tokens = build_console_world(pg)
    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="pg"), database=pg)
    c = app.test_client()
    assert sign_in(c, emails["ndc"], PASSWORD).status_code == 302
    page = c.get("/console/reconciliation")
    response = c.post(
        "/console/reconciliation/upload",
        data={
            "csrf_token": csrf_token(page.text),
            "mapping": "generic",
            "encoding": "auto",
            "statement": (io.BytesIO(bank_csv(("2026-11-02", "利息", "12"))), "s.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert run_jobs(app) >= 1
    st = c.get(f"/console/reconciliation/imports/{job_id}/status").json
    assert st["status"] == "succeeded" and st["lines_new"] == 1
    assert ids  # the world was built in this schema
    close_queue(app)
