"""The jobs page in real headless Chromium, on a phone in Chinese and a laptop in English:
a running job's progress moves on screen while a worker reports it (the page's own script
polls; no reload), the page reloads itself once the job has finished, and Cancel works from
the phone without sideways scrolling. Screenshots: test-artifacts/screenshots/jobs-*.png.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from foundation.db import utcnow
from jobs import records
from jobs.models import Job
from tests.admin.browser_helpers import LAPTOP, PHONE, sideways_overflow
from tests.admin.test_browser import CHROMIUM, shot
from tests.admin.test_browser_payments import browser, open_as, served  # noqa: F401

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
