"""The managers' yearly statements page (start, follow, twice is once) and the company's
statement download serving the statement the job kept while it is current."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from jobs import records
from jobs.models import Job
from ledger.fund.receipt_models import YearlyStatement
from tests.admin.conftest import post_form
from tests.job_helpers import run_jobs, worker_for
from tests.jobs.kinds.test_statements import give, job, pdf_text


def test_the_download_serves_the_kept_statement_while_it_is_current(console):
    database, ids = console.database, console.ids
    year = dt.date.today().year  # the console world's payments are this year's
    with database.session() as s, s.begin():
        job_row, _ = records.submit(s, "yearly_statements", params={"year": year})
    worker_for(console.app)[0].enqueue(job_row.id)
    run_jobs(console.app)
    assert job(database, job_row.id).status == "succeeded"
    # Mark the kept PDF so that serving it is visible
    with database.session() as s, s.begin():
        s.execute(
            update(YearlyStatement)
            .where(YearlyStatement.organisation_id == ids["company_a"])
            .values(pdf=b"%PDF-1.7 kept by the job")
        )
    url = f"/console/organisations/{ids['company_a']}/statement-{year}.pdf"
    c = console.client("company_a")
    assert c.get(url).data == b"%PDF-1.7 kept by the job"
    # A refund-free late payment: the kept one no longer says the same, a fresh one is made
    give(database, ids["company_a"], "late:a", amount=70_000, received_on=dt.date(year, 1, 2))
    fresh = c.get(url)
    assert fresh.status_code == 200 and fresh.data != b"%PDF-1.7 kept by the job"
    assert "NT$5,700" in pdf_text(fresh.data)


@pytest.mark.parametrize("lang", ["zh_Hant_TW", "en"])
def test_managers_start_and_follow_it_from_the_console(console, lang):
    c = console.client("ndc")
    if lang == "en":
        post_form(c, "/console/statements", "/language", {"lang": "en", "next": "/"})
    page = c.get("/console/statements")
    assert page.status_code == 200
    words = {
        "zh_Hant_TW": ("年度明細", "製作年度明細", "等待中", "已保存的年度明細"),
        "en": ("Yearly statements", "Make the statements", "Waiting", "Statements kept"),
    }[lang]
    assert words[0] in page.text and words[1] in page.text
    assert f'value="{dt.date.today().year - 1}"' in page.text
    bad = post_form(c, "/console/statements", "/console/statements", {"year": "1999"})
    assert bad.status_code == 422 and 'id="year-error"' in bad.text
    year = dt.date.today().year
    started = post_form(c, "/console/statements", "/console/statements", {"year": str(year)})
    assert started.status_code == 303
    page = c.get("/console/statements")
    assert words[2] in page.text and 'http-equiv="refresh"' in page.text
    twice = post_form(c, "/console/statements", "/console/statements", {"year": str(year)})
    assert twice.status_code == 303
    with console.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1
    run_jobs(console.app)
    page = c.get("/console/statements")
    assert 'http-equiv="refresh"' not in page.text
    assert words[3] in page.text
    assert f"<td>{year}</td>" in page.text
    # The jobs page names the outcome's figures in words
    with console.database.session() as s:
        job_id = s.scalars(select(Job.id)).one()
    outcome = c.get(f"/console/jobs/{job_id}").text
    assert ("Statements made" if lang == "en" else "已製作的明細") in outcome
    assert "already_current" not in outcome and "already current" not in outcome
    assert console.client("company_a").get("/console/statements").status_code in (302, 403)
    assert "/console/statements" in c.get("/console/dashboard").text
