"""The managers' yearly statements page (start, follow, twice is once) and the company's
statement download serving the statement the job kept while it is current."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from jobs import records
from jobs.models import Job
from ledger.fund.receipt_models import ReceiptNumber, YearlyStatement
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
    # A refund-free late payment: the kept one no longer says the same, so it is not served;
    # a job makes a fresh one (not the request) and the download then serves that
    give(database, ids["company_a"], "late:a", amount=70_000, received_on=dt.date(year, 1, 2))
    stale = c.get(url)
    assert stale.status_code == 303 and "/jobs/" in stale.headers["Location"]
    assert kept(database, ids["company_a"], year) == b"%PDF-1.7 kept by the job"
    run_jobs(console.app)
    fresh = c.get(url)
    assert fresh.status_code == 200 and fresh.data != b"%PDF-1.7 kept by the job"
    assert "NT$5,700" in pdf_text(fresh.data)
    assert fresh.data == kept(database, ids["company_a"], year)


def kept(database, company_id: int, year: int) -> bytes | None:
    with database.session() as s:
        return s.scalar(
            select(YearlyStatement.pdf).where(
                YearlyStatement.organisation_id == company_id, YearlyStatement.year == year
            )
        )


def receipt_numbers(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(ReceiptNumber))


def company_jobs(database) -> list[Job]:
    with database.session() as s:
        return list(s.scalars(select(Job).where(Job.kind == "company_statement").order_by(Job.id)))


@pytest.mark.parametrize("lang", ["zh_Hant_TW", "en"])
def test_a_download_not_kept_is_made_by_a_job_and_the_page_follows_it(console, lang):
    database, ids = console.database, console.ids
    year = dt.date.today().year
    url = f"/console/organisations/{ids['company_a']}/statement-{year}.pdf"
    c = console.client("company_a")
    if lang == "en":
        # (from a page that lists no payments, so that none is numbered before the download)
        post_form(c, "/console/profile", "/language", {"lang": "en", "next": "/"})
    numbered = receipt_numbers(database)
    first = c.get(url)
    # Not rendered in the request: the answer is the way to the preparing page, and no
    # statement is kept until the job runs; nor numbered there (a write, the job's work)
    assert first.status_code == 303
    follow = first.headers["Location"]
    assert kept(database, ids["company_a"], year) is None
    assert receipt_numbers(database) == numbered
    (made,) = company_jobs(database)
    assert made.status == "queued"
    assert made.dedupe_key == f"company_statement:{ids['company_a']}:{year}"
    page = c.get(follow)
    words = {
        "zh_Hant_TW": ("您的年度明細製作中", "正在背景製作", "甲公司", "已製作完成",
                       "您的年度明細已製作完成"),
        "en": ("Your statement is being prepared", "being made in the background", "甲公司",
               "Your statement is ready;", "Your statement is ready"),
    }[lang]  # fmt: skip
    assert page.status_code == 200
    assert words[0] in page.text and words[1] in page.text and words[2] in page.text
    # Followed live by the page's script through the company's own status URL (the jobs
    # page's is managers' only); without scripts the page refreshes itself
    status_url = f"{follow}/status"
    assert f'data-status-url="{status_url}"' in page.text and "job-progress.js" in page.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.text
    waiting = c.get(status_url)
    assert waiting.status_code == 200 and waiting.is_json
    st = waiting.get_json()
    assert st["status"] == "queued" and st["finished"] is False
    assert st["status_label"] == {"zh_Hant_TW": "等待中", "en": "Waiting"}[lang]
    assert "company_statement" not in page.text  # the kind in words, never its code
    # A second click (or a reload) while it waits finds the same job
    again = c.get(url)
    assert again.status_code == 303 and again.headers["Location"] == follow
    assert len(company_jobs(database)) == 1
    run_jobs(console.app)
    (made,) = company_jobs(database)
    assert made.status == "succeeded"
    assert kept(database, ids["company_a"], year) is not None
    # The page says it is ready, links to the PDF and starts the download
    assert c.get(status_url).get_json()["finished"] is True
    ready = c.get(follow)
    assert words[3] in ready.text and "data-job" not in ready.text
    # Its heading and title say so too, no longer "being prepared"
    assert words[0] not in ready.text and f"<h1>{words[4]}</h1>" in ready.text
    assert f'content="0; url={url}"' in ready.text and f'href="{url}"' in ready.text
    pdf = c.get(url)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data == kept(database, ids["company_a"], year)
    assert "NT$5,000" in pdf_text(pdf.data)
    assert receipt_numbers(database) > numbered  # the job numbered the payments
    assert len(company_jobs(database)) == 1  # served kept: no further job


def test_only_the_company_and_managers_see_its_statement_and_its_job(console):
    ids = console.ids
    year = dt.date.today().year
    url = f"/console/organisations/{ids['company_a']}/statement-{year}.pdf"
    follow = console.client("company_a").get(url).headers["Location"]
    other = console.client("company_b")
    assert other.get(url).status_code == 404
    assert other.get(follow).status_code == 404
    assert len(company_jobs(console.database)) == 1
    # Nor its job's status, nor any job's through the managers' jobs status URL
    job_id = follow.rsplit("/", 1)[1]
    assert other.get(f"{follow}/status").status_code == 404
    assert other.get(f"/console/jobs/{job_id}/status").status_code in (302, 403)
    assert console.client("company_a").get(f"/console/jobs/{job_id}/status").status_code in (
        302,
        403,
    )
    # Its own job's, through its own page's URL only: another company's URL with its job
    # id is a 404 too, as is a job that is not a company statement
    other_company = f"/console/organisations/{ids['company_b']}/statement-{year}/jobs/{job_id}"
    assert other.get(f"{other_company}/status").status_code == 404
    assert console.client("company_a").get(f"{other_company}/status").status_code == 404
    assert console.client("company_a").get(f"{follow}/status").status_code == 200
    with console.database.session() as s, s.begin():
        seal, _ = records.submit(s, "seal")
    own_url = follow.rsplit("/", 1)[0]
    assert console.client("company_a").get(f"{own_url}/{seal.id}/status").status_code == 404
    assert console.client("company_a").get(f"{own_url}/999999/status").status_code == 404
    manager = console.client("ndc")
    assert manager.get(follow).status_code == 200
    assert manager.get(f"{follow}/status").get_json()["id"] == int(job_id)
    assert manager.get(url).headers["Location"] == follow  # the same job, whoever asks
    assert (
        console.client("company_a")
        .get("/console/organisations/999999/statement-2026.pdf")
        .status_code
        == 404
    )
    # A job of another company or year is not this page's
    wrong = f"/console/organisations/{ids['company_b']}/statement-{year}/jobs/"
    assert manager.get(wrong + follow.rsplit("/", 1)[1]).status_code == 404
    assert (
        manager.get(follow.replace(f"statement-{year}", f"statement-{year - 1}")).status_code == 404
    )
    assert manager.get(follow.rsplit("/", 1)[0] + "/999999").status_code == 404
    # Out-of-range years and non-companies as before
    assert (
        manager.get(f"/console/organisations/{ids['company_a']}/statement-1999.pdf").status_code
        == 404
    )
    assert len(company_jobs(console.database)) == 1


def test_a_failed_job_says_so_and_the_download_tries_again(console):
    database, ids = console.database, console.ids
    year = dt.date.today().year
    url = f"/console/organisations/{ids['company_a']}/statement-{year}.pdf"
    c = console.client("company_a")
    follow = c.get(url).headers["Location"]
    (made,) = company_jobs(database)
    with database.session() as s, s.begin():
        records.cancel(s, made.id)
    page = c.get(follow)
    assert 'id="statement-failed"' in page.text and f'href="{url}"' in page.text
    assert 'http-equiv="refresh"' not in page.text
    retry = c.get(url)
    assert retry.status_code == 303 and retry.headers["Location"] != follow
    assert len(company_jobs(database)) == 2


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
    assert words[2] in page.text
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page.text
    # Each run in the table is followed live through the jobs' status JSON
    with console.database.session() as s:
        running = s.scalars(select(Job.id)).one()
    assert f'data-status-url="/console/jobs/{running}/status"' in page.text
    assert "job-progress.js" in page.text
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
        job_id = s.scalars(select(Job.id).where(Job.parent_id.is_(None))).one()
    outcome = c.get(f"/console/jobs/{job_id}").text
    assert ("Statements made" if lang == "en" else "已製作的明細") in outcome
    assert "already_current" not in outcome and "already current" not in outcome
    assert console.client("company_a").get("/console/statements").status_code in (302, 403)
    assert "/console/statements" in c.get("/console/dashboard").text
