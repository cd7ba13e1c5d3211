"""The jobs page (/console/jobs) as a fund manager meets it: jobs in words in both languages,
filters and keyset paging, a job's own page, Retry and Cancel where allowed (and a clear
refusal where not), progress as JSON for the page's script, and nothing for anyone else."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import func, select

from admin.console import PAGE
from identity.models import User
from jobs import records
from jobs.models import Job
from jobs.queue import Queue
from tests.admin.conftest import csrf_token, post_form
from tests.job_helpers import run_jobs

CODES = re.compile(r"\b(queued|running|succeeded|failed|cancelled|seal|internal_error)\b")


def _visible(html: str) -> str:
    """The text a reader sees: no tags, attributes, scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def _job(database, *, status="queued", actor=None, **values) -> int:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, "seal", actor_id=actor)
        for key, value in {"status": status, **values}.items():
            setattr(job, key, value)
        s.flush()
        return job.id


def _read(database, job_id: int) -> Job:
    with database.session() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


def _english(console, c):
    post_form(c, "/console/jobs", "/language", {"lang": "en", "next": "/console/jobs"})


def test_the_list_says_each_job_in_words_with_its_progress_and_who_started_it(console):
    ndc = console.ids["user_ndc"]
    created = dt.datetime(2026, 12, 5, 6, 3, tzinfo=dt.UTC)  # 14:03 in Taiwan
    running = _job(
        console.database,
        status="running",
        actor=ndc,
        phase="sealing",
        progress_done=12_345,
        progress_total=50_000,
        attempts=1,
        created_at=created,
    )
    failed = _job(
        console.database,
        status="failed",
        attempts=3,
        max_attempts=3,
        error_code="invalid_state",
        error_detail=json.dumps(
            {
                "detail": "Job 7 has already finished (succeeded).",
                "message_code": "invalid_state.job_finished",
                "params": {"id": 7, "status": "succeeded"},
            }
        ),
    )
    c = console.client("ndc")
    page = c.get("/console/jobs")
    assert page.status_code == 200
    text = _visible(page.text)
    assert "背景工作" in text and "帳簿封存" in text  # the page and the kind, in words
    assert "進行中" in text and "封存中" in text  # running, sealing
    assert "12,345" in text and "50,000" in text
    assert 'value="24"' in page.text  # the bar: 12,345 of 50,000
    assert "2026-12-05 14:03" in text  # Taiwan time
    with console.database.session() as s:
        assert s.get(User, ndc).name in text  # who started it, by name
    assert "排程" in text  # the failed job was nobody's: the schedule's
    assert "已結束" in text and "無法取消" in text  # its error in words
    assert CODES.findall(text) == [], CODES.findall(text)
    # Newest first; a running job can be cancelled, a failed one retried
    assert page.text.index(f'id="job-{failed}"') < page.text.index(f'id="job-{running}"')
    assert f"/console/jobs/{running}/cancel" in page.text
    assert f"/console/jobs/{running}/retry" not in page.text
    assert f"/console/jobs/{failed}/retry" in page.text
    assert f"/console/jobs/{failed}/cancel" not in page.text
    # Something runs: the page refreshes itself, with its script or without
    assert "job-progress.js" in page.text and 'http-equiv="refresh"' in page.text
    # The navigation links here for managers
    assert 'href="/console/jobs"' in page.text

    _english(console, c)
    english = _visible(c.get("/console/jobs").text)
    assert "Background jobs" in english and "Sealing the ledger" in english
    assert "Running" in english and "The schedule" in english
    assert "has already finished (Finished): it cannot be cancelled" in english
    assert not re.search(r"\b(queued|succeeded|seal|internal_error)\b", english)


def test_nothing_running_means_no_refresh(console):
    _job(console.database, status="succeeded", finished_at=dt.datetime.now(dt.UTC))
    page = console.client("ndc").get("/console/jobs")
    assert 'http-equiv="refresh"' not in page.text


def test_filters_by_status_and_kind_and_pages_by_key(console):
    failed = _job(console.database, status="failed", error_code="RuntimeError")
    ids = [_job(console.database) for _ in range(PAGE + 2)]
    c = console.client("ndc")

    only_failed = c.get("/console/jobs?status=failed").text
    assert f'id="job-{failed}"' in only_failed
    assert not any(f'id="job-{i}"' in only_failed for i in ids)
    assert "發生未預期的錯誤" in only_failed  # an exception, not the domain's refusal

    first = c.get("/console/jobs?status=queued&kind=seal").text
    shown = [int(i) for i in re.findall(r'id="job-(\d+)"', first)]
    assert shown == sorted(ids, reverse=True)[:PAGE]
    older = re.search(r'href="(/console/jobs\?[^"]*after=\d+)"', first.replace("&amp;", "&"))
    assert older, "no link to the older jobs"
    rest = c.get(older.group(1)).text
    assert [int(i) for i in re.findall(r'id="job-(\d+)"', rest)] == sorted(ids, reverse=True)[PAGE:]

    # A kind nobody knows, or a status that is none, is no filter at all (never an error)
    for query in ("kind=nonesuch", "status=exploded", "after=99999999999999999999", "after=x"):
        response = c.get(f"/console/jobs?{query}")
        assert response.status_code == 200, query
    assert c.get("/console/jobs?kind=bank_import").text.count('<tr id="job-') == 0


def test_a_jobs_page_shows_its_outcome_and_its_progress_as_json(console):
    done = _job(
        console.database,
        status="succeeded",
        phase="done",
        progress_done=3,
        progress_total=3,
        attempts=1,
        result=json.dumps({"sealed": 1234}),
        finished_at=dt.datetime.now(dt.UTC),
    )
    c = console.client("ndc")
    page = c.get(f"/console/jobs/{done}")
    assert page.status_code == 200
    text = _visible(page.text)
    assert "帳簿封存" in text and "完成" in text and "1,234" in text
    # Finished, its last phase is no news: the status is said once, not 完成 · 完成
    assert "完成 · 完成" not in text and 'class="phase"' not in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert "retry-form" not in page.text and "cancel-form" not in page.text
    status = c.get(f"/console/jobs/{done}/status").get_json()
    assert status["finished"] is True and status["percent"] == 100
    assert status["done"] == "3" and status["total"] == "3"
    assert not CODES.search(status["status_label"] + status["phase_label"])

    assert c.get("/console/jobs/999999").status_code == 404
    assert c.get(f"/console/jobs/{2**70}").status_code == 404
    assert c.get("/console/jobs/999999/status").status_code == 404


def test_retry_runs_a_failed_job_again(console):
    failed = _job(console.database, status="failed", attempts=3, error_code="OperationalError")
    c = console.client("ndc")
    response = post_form(c, f"/console/jobs/{failed}", f"/console/jobs/{failed}/retry")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/jobs/{failed}"
    page = c.get(f"/console/jobs/{failed}").text
    assert "工作將重新執行" in page
    job = _read(console.database, failed)
    assert (job.status, job.attempts, job.error_code) == ("queued", 0, None)
    # Its message went to the queue: a worker runs it to the end
    assert run_jobs(console.app) >= 1
    assert _read(console.database, failed).status == "succeeded"


def test_a_refused_retry_or_cancel_says_why_and_changes_nothing(console):
    done = _job(console.database, status="succeeded", finished_at=dt.datetime.now(dt.UTC))
    c = console.client("ndc")
    page = c.get("/console/jobs")
    token = csrf_token(page.text)
    retried = c.post(
        f"/console/jobs/{done}/retry", data={"csrf_token": token, "next": "/console/jobs"}
    )
    assert retried.status_code == 303 and retried.headers["Location"] == "/console/jobs"
    text = c.get("/console/jobs").text
    assert f"只有失敗或已取消的工作可以重新執行；工作 {done} 目前為「完成」" in text
    cancelled = c.post(f"/console/jobs/{done}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 303
    assert f"工作 {done} 已結束（完成），無法取消。" in c.get(cancelled.headers["Location"]).text
    assert _read(console.database, done).status == "succeeded"
    # Somewhere else than the jobs pages is no place to go back to
    away = c.post(
        f"/console/jobs/{done}/cancel", data={"csrf_token": token, "next": "//evil.example/"}
    )
    assert away.headers["Location"] == f"/console/jobs/{done}"
    assert c.post("/console/jobs/999999/retry", data={"csrf_token": token}).status_code == 404


def test_cancel_stops_a_queued_job_and_asks_a_running_one(console):
    queued = _job(console.database)
    running = _job(console.database, status="running", attempts=1)
    c = console.client("ndc")
    post_form(c, "/console/jobs", f"/console/jobs/{queued}/cancel")
    assert _read(console.database, queued).status == "cancelled"
    response = post_form(c, f"/console/jobs/{running}", f"/console/jobs/{running}/cancel")
    page = c.get(response.headers["Location"]).text
    assert "工作將在下一個檢查點停止" in page and "停止中" in page
    job = _read(console.database, running)
    assert (job.status, job.cancel_requested) == ("running", True)
    # Asked once: no second Cancel button, and the cancelled one can be retried
    assert f"/console/jobs/{running}/cancel" not in page
    assert f"/console/jobs/{queued}/retry" in c.get("/console/jobs").text


def test_buttons_need_the_forms_csrf_token(console):
    queued = _job(console.database)
    c = console.client("ndc")
    c.get("/console/jobs")
    assert c.post(f"/console/jobs/{queued}/cancel").status_code == 400
    assert _read(console.database, queued).status == "queued"


@pytest.mark.parametrize("actor", ["company_a", "business_x"])
def test_members_cannot_see_or_touch_jobs(console, actor):
    job = _job(console.database, status="failed")
    c = console.client(actor)
    for url in ("/console/jobs", f"/console/jobs/{job}", f"/console/jobs/{job}/status"):
        assert c.get(url).status_code == 403, url
    token = csrf_token(c.get("/console/security").text)
    assert c.post(f"/console/jobs/{job}/retry", data={"csrf_token": token}).status_code == 403
    assert 'href="/console/jobs"' not in c.get("/console/security").text
    assert _read(console.database, job).status == "failed"


def test_signed_out_readers_are_sent_to_sign_in(console):
    response = console.client().get("/console/jobs")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in")


def test_a_job_made_by_the_schedule_and_enqueued_by_the_page_runs_once(console):
    """Retry from the page twice (two tabs): the second is refused, one run happens."""
    failed = _job(console.database, status="failed")
    c = console.client("ndc")
    token = csrf_token(c.get(f"/console/jobs/{failed}").text)
    c.post(f"/console/jobs/{failed}/retry", data={"csrf_token": token})
    c.post(f"/console/jobs/{failed}/retry", data={"csrf_token": token})
    Queue(console.database).enqueue(failed)  # and a stray duplicate message
    run_jobs(console.app)
    with console.database.session() as s:
        job = s.get(Job, failed)
        assert (job.status, job.attempts) == ("succeeded", 1)
        assert s.scalar(select(func.count()).select_from(Job)) == 1


def test_a_job_waiting_to_try_again_says_why_and_when_in_english(console):
    later = dt.datetime(2026, 12, 5, 7, 30, tzinfo=dt.UTC)  # 15:30 in Taiwan
    waiting = _job(
        console.database,
        phase="waiting",
        attempts=2,
        run_after=later,
        error_code="ConnectionError",
        error_detail=json.dumps({"detail": "x", "message_code": "internal_error", "params": {}}),
        created_by_id=console.ids["user_ndc"],
    )
    c = console.client("ndc")
    _english(console, c)
    page = c.get(f"/console/jobs/{waiting}")
    text = _visible(page.text)
    assert "Sealing the ledger" in text and f"Job {waiting}" in text
    assert "Waiting to try again" in text and "2 of 3" in text
    assert "Tries again after" in text and "2026-12-05 15:30" in text
    assert "An unexpected error stopped the job" in text
    assert "cancel-form" in page.text and "retry-form" not in page.text
    assert not re.search(r"\b(queued|waiting|ConnectionError|internal_error)\b", text)
