"""The jobs page in real headless Chromium, on a phone in Chinese and a laptop in English:
a running job's progress moves on screen while a worker reports it (the page's own script
polls; no reload), the page reloads itself once the job has finished, and Cancel works from
the phone without sideways scrolling. A company's "statement being prepared" page does the
same through its own status URL, then downloads the statement the worker made.
Screenshots: test-artifacts/screenshots/jobs-*.png, statement-job-*.png.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from foundation.db import utcnow
from jobs import records
from jobs.kinds import statements as statement_jobs
from jobs.models import Job
from tests.admin.browser_helpers import LAPTOP, PHONE, sideways_overflow
from tests.admin.test_browser import CHROMIUM, shot
from tests.admin.test_browser_payments import browser, open_as, served  # noqa: F401
from tests.job_helpers import worker_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's Chromium"),
]

WORDS = {
    "zh": {"title": "背景工作", "kind": "帳簿封存", "cancelled": "工作已取消。", "cancel": "取消"},
    "en": {
        "title": "Background jobs",
        "kind": "Sealing the ledger",
        "cancelled": "The job is cancelled.",
        "cancel": "Cancel",
    },
}


def _job(database, **values) -> int:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, "seal")
        if values:
            s.execute(update(Job).where(Job.id == job.id).values(**values))
        return job.id


def _report(database, job_id: int, **values) -> None:
    """What a worker writes as it goes."""
    with database.session() as s, s.begin():
        s.execute(update(Job).where(Job.id == job_id).values(**values))


@pytest.mark.parametrize(
    ("lang", "viewport"), [("zh", PHONE), ("en", LAPTOP)], ids=["zh-375", "en-1280"]
)
def test_progress_moves_by_itself_and_cancel_works(browser, served, lang, viewport):  # noqa: F811
    words = WORDS[lang]
    waiting = _job(served.database)
    running = _job(
        served.database,
        status="running",
        phase="sealing",
        attempts=1,
        progress_done=10,
        progress_total=20_000,
        heartbeat_at=utcnow(),
        worker="elsewhere:1:1",
    )
    context, page = open_as(browser, served, "ndc", lang=lang, viewport=viewport)
    try:
        page.goto("/console/jobs")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == words["title"]
        row = page.locator(f"#job-{running}")
        assert words["kind"] in row.inner_text()
        assert sideways_overflow(page) <= 0
        shot(page, f"jobs-list-{lang}-{viewport['width']}")

        # The worker reports progress: the row shows it without a reload
        page.evaluate("window.__notReloaded = true")
        _report(served.database, running, progress_done=12_345)
        row.locator('[data-field="done"]').filter(has_text="12,345").wait_for()
        assert page.evaluate("window.__notReloaded") is True
        assert row.locator("progress").evaluate("bar => bar.value") == 61

        # Cancel the waiting job from its row: a message, and it says so
        page.locator(f"#job-{waiting}").get_by_role("button", name=words["cancel"]).click()
        page.wait_for_load_state()
        page.get_by_text(words["cancelled"]).wait_for()
        assert page.url.endswith("/console/jobs")

        # The running job finishes: the page reloads itself to its final state
        with page.expect_navigation():
            _report(
                served.database, running, status="succeeded", phase="done", finished_at=utcnow()
            )
        page.wait_for_load_state()
        row = page.locator(f"#job-{running}")
        assert row.get_by_role("button").count() == 0
        assert sideways_overflow(page) <= 0
        shot(page, f"jobs-finished-{lang}-{viewport['width']}")
    finally:
        context.close()


STATEMENT_WORDS = {
    "zh": {
        "title": "您的年度明細製作中",
        "running": "進行中",
        "phase": "製作文件中",
        "ready": "您的年度明細已製作完成",
    },
    "en": {
        "title": "Your statement is being prepared",
        "running": "Running",
        "phase": "Making the documents",
        "ready": "Your statement is ready",
    },
}


@pytest.mark.parametrize(
    ("lang", "viewport"), [("zh", PHONE), ("en", LAPTOP)], ids=["zh-375", "en-1280"]
)
def test_a_statement_being_prepared_moves_by_itself_then_downloads(
    browser,  # noqa: F811
    served,  # noqa: F811
    lang,
    viewport,
):
    """The company's page polls its own job's status (not the managers' jobs URL): the
    progress moves without a reload; once the worker has kept the statement the page says
    so and the download starts."""
    words = STATEMENT_WORDS[lang]
    company = served.ids["company_a"]
    year = dt.date.today().year  # the console world's payments are this year's
    with served.database.session() as s, s.begin():
        job, _created = statement_jobs.submit_company(
            s, company_id=company, year=year, actor_id=None
        )
        job_id = job.id
    # Not handed to the worker beside the server yet: a worker elsewhere reports on it
    _report(
        served.database,
        job_id,
        status="running",
        phase="rendering",
        attempts=1,
        progress_done=0,
        progress_total=4,
        started_at=utcnow(),
        heartbeat_at=utcnow(),
        worker="elsewhere:1:1",
    )
    context, page = open_as(browser, served, "company_a", lang=lang, viewport=viewport)
    polled: list[str] = []
    page.on("request", lambda request: polled.append(request.url))
    try:
        page.goto(f"/console/organisations/{company}/statement-{year}/jobs/{job_id}")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == words["title"]
        follow = page.locator(f"#job-{job_id}")
        assert follow.locator('[data-field="status_label"]').inner_text() == words["running"]
        assert follow.locator('[data-field="phase_label"]').inner_text() == words["phase"]

        # The worker reports progress: the page shows it without a reload
        page.evaluate("window.__notReloaded = true")
        _report(served.database, job_id, progress_done=3, heartbeat_at=utcnow())
        follow.locator('[data-field="done"]').filter(has_text="3").wait_for()
        assert follow.locator('[data-field="total"]').inner_text() == "4"
        assert follow.locator("progress").evaluate("bar => bar.value") == 75
        assert page.evaluate("window.__notReloaded") is True
        status_url = f"/console/organisations/{company}/statement-{year}/jobs/{job_id}/status"
        assert any(url.endswith(status_url) for url in polled)
        assert not any("/console/jobs/" in url for url in polled)  # managers' only
        assert sideways_overflow(page) <= 0
        shot(page, f"statement-job-running-{lang}-{viewport['width']}")

        # The worker beside the server makes it for real: the page reloads itself, says it
        # is ready and the download of the kept statement starts
        _report(
            served.database,
            job_id,
            status="queued",
            phase="queued",
            attempts=0,
            progress_done=0,
            progress_total=None,
            started_at=None,
            heartbeat_at=None,
            worker=None,
        )
        queue = worker_for(served.app)[0]
        try:
            with page.expect_download(timeout=30_000) as download:
                queue.enqueue(job_id)
        finally:
            queue.close()
        page.locator("#statement-ready").filter(has_text=words["ready"]).wait_for()
        # The heading says so too, no longer "being prepared"
        assert page.locator("h1").inner_text() == words["ready"]
        assert page.locator("#statement-download").is_visible()
        assert download.value.suggested_filename.endswith(f"-{year}.pdf")
        assert page.locator("[data-job]").count() == 0
        assert sideways_overflow(page) <= 0
        shot(page, f"statement-job-ready-{lang}-{viewport['width']}")
    finally:
        context.close()


def test_the_yearly_statements_runs_move_by_themselves_then_show_their_figures(
    browser,  # noqa: F811
    served,  # noqa: F811
):
    """A manager's page that follows jobs in a table (through the jobs' status JSON): a run's
    row moves without a reload, and the page reloads to its figures once it finishes."""
    year = dt.date.today().year
    with served.database.session() as s, s.begin():
        job, _created = records.submit(s, "yearly_statements", params={"year": year})
        job_id = job.id
    _report(
        served.database,
        job_id,
        status="running",
        phase="rendering",
        attempts=1,
        progress_done=1,
        progress_total=2_000,
        started_at=utcnow(),
        heartbeat_at=utcnow(),
        worker="elsewhere:1:1",
    )
    context, page = open_as(browser, served, "ndc", lang="zh", viewport=PHONE)
    try:
        page.goto("/console/statements")
        page.wait_for_load_state()
        row = page.locator(f"#job-{job_id}")
        page.evaluate("window.__notReloaded = true")
        _report(served.database, job_id, progress_done=1_500, heartbeat_at=utcnow())
        row.locator('[data-field="done"]').filter(has_text="1,500").wait_for()
        assert row.locator('[data-field="total"]').inner_text() == "2,000"
        assert row.locator("progress").evaluate("bar => bar.value") == 75
        assert page.evaluate("window.__notReloaded") is True
        assert sideways_overflow(page) <= 0
        with page.expect_navigation():
            _report(
                served.database,
                job_id,
                status="succeeded",
                phase="done",
                progress_done=2_000,
                finished_at=utcnow(),
                result='{"companies": 2000, "rendered": 1500, "already_current": 500}',
            )
        page.wait_for_load_state()
        cells = page.locator("#statement-jobs tbody tr").first.locator("td")
        assert cells.nth(3).inner_text() == "1,500"
        assert cells.nth(4).inner_text() == "500"
        assert page.locator(f"#job-{job_id}").get_attribute("data-finished") == "true"
        # On the phone the runs stack, each figure with its heading: nothing cut off
        table = page.locator("#statement-jobs")
        assert table.evaluate("t => t.scrollWidth - t.clientWidth") <= 0
        assert sideways_overflow(page) <= 0
        assert cells.nth(3).get_attribute("data-label") == "已製作"
        shot(page, "statement-runs-finished-zh-375")
    finally:
        context.close()
