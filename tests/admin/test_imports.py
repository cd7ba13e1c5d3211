"""Bank statement uploads as ``bank_import`` jobs: the upload queues a job, a worker (here
``tests.job_helpers.run_jobs``, the worker's own Runner) runs it; the progress page and its
JSON status, bad files, failed and resumed jobs, and who may see them."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from sqlalchemy import func, select

from jobs import records
from jobs.kinds import bank_import
from jobs.models import Job
from jobs.runner import Runner
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.models import ReconciliationRun, StatementImport, StatementLine
from tests.admin.conftest import bank_csv, csrf_token
from tests.job_helpers import run_jobs

BANK = Path(__file__).parents[1] / "fixtures" / "bank"


def upload(c, content: bytes, **fields):
    page = c.get("/console/reconciliation")
    data = {
        "csrf_token": csrf_token(page.text),
        "mapping": "generic",
        "encoding": "auto",
        "statement": (io.BytesIO(content), "statement.csv"),
        **fields,
    }
    return c.post("/console/reconciliation/upload", data=data, content_type="multipart/form-data")


def finished(console, response) -> int:
    """Wait for the job the upload started; its id."""
    assert response.status_code == 303, response.text
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    run_jobs(console.app)
    return job_id


def job(console, job_id: int) -> Job:
    with console.database.session() as s:
        row = s.get(Job, job_id)
        _ = row.payload  # deferred: load it before the session closes
        s.expunge(row)
        return row


def result(row: Job) -> dict:
    return json.loads(row.result or "{}")


def queued_job(console, content: bytes, filename: str = "a.csv") -> Job:
    """A job recorded as the upload records it, with no worker to run it yet."""
    with console.database.session() as s, s.begin():
        row, _created = bank_import.submit(
            s,
            data=content,
            filename=filename,
            mapping="generic",
            encoding=None,
            skip_bad_lines=False,
            actor_id=console.ids["user_ndc"],
        )
        s.flush()
        s.expunge(row)
    return row


def count(console, model) -> int:
    with console.database.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_an_upload_runs_as_a_job_and_its_page_shows_the_outcome(console):
    c = console.client("ndc")
    content = bank_csv(("2026-11-02", "利息", "12"), ("2026-11-03", "手續費", "-30"))
    response = upload(c, content)
    assert response.status_code == 303
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    waiting = c.get(f"/console/reconciliation/imports/{job_id}/status").json
    assert (waiting["status"], waiting["status_label"]) == ("queued", "等待中")
    assert count(console, StatementLine) == 0  # nothing happens in the web process
    run_jobs(console.app)
    row = job(console, job_id)
    assert (row.kind, row.status, row.phase) == ("bank_import", "succeeded", "done")
    assert (row.progress_total, row.progress_done) == (2, 2)
    r = result(row)
    assert (r["lines_read"], r["lines_new"], r["duplicates"]) == (2, 2, 0)
    assert r["unmatched"] == 2 and r["matched"] == 0 and r["bad_line_count"] == 0
    assert row.payload is None  # the lines are stored; the file is not kept twice
    assert r["import_id"] is not None and r["run_id"] is not None
    assert row.attempts == 1 and row.created_by_id == console.ids["user_ndc"]

    page = c.get(f"/console/reconciliation/imports/{job_id}")
    assert page.status_code == 200
    assert 'id="job-status" class="status succeeded">完成<' in page.text
    assert 'id="count-lines-new">2<' in page.text
    assert f'href="/console/reconciliation/runs/{r["run_id"]}"' in page.text
    assert 'http-equiv="refresh"' not in page.text  # finished: nothing left to refresh
    assert c.get(f"/console/reconciliation/runs/{r['run_id']}").status_code == 200

    status = c.get(f"/console/reconciliation/imports/{job_id}/status")
    assert status.mimetype == "application/json"
    assert status.headers["Cache-Control"] == "no-store"
    st = status.json
    assert st["finished"] is True and st["percent"] == 100
    assert (st["lines_done"], st["lines_total"], st["unmatched"]) == (2, 2, 2)
    assert st["status_label"] == "完成" and st["error"] is None

    queue = c.get("/console/reconciliation")
    assert f'id="import-{job_id}"' in queue.text and "statement.csv" in queue.text

    # The jobs page names the import's figures in words too, never by their keys
    on_jobs_page = c.get(f"/console/jobs/{job_id}").text
    assert "新增筆數" in on_jobs_page and "檔案中的筆數" in on_jobs_page
    assert "lines_new" not in on_jobs_page and "lines new" not in on_jobs_page


def test_the_progress_page_polls_with_its_own_script_and_refreshes_without_it(console):
    queued = queued_job(console, bank_csv(("2026-11-02", "利息", "12")), "waiting.csv")
    page = console.client("ndc").get(f"/console/reconciliation/imports/{queued.id}")
    assert page.status_code == 200
    assert "waiting.csv" in page.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.text
    # The one script of every page that follows a job (the jobs pages' too)
    assert '<script src="/console/static/job-progress.js" defer></script>' in page.text
    assert "import-progress.js" not in page.text
    assert f'data-status-url="/console/reconciliation/imports/{queued.id}/status"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp
    script = console.client("ndc").get("/console/static/job-progress.js")
    assert script.status_code == 200 and "fetch(" in script.text
    script.close()
    gone = console.client("ndc").get("/console/static/import-progress.js")
    assert gone.status_code == 404
    gone.close()


def test_every_figure_of_the_progress_page_is_one_the_status_json_has(console):
    """job-progress.js fills each marked element from the key it names: each the page marks
    must be in the JSON, and the figures the page shows must all be marked."""
    content = bank_csv(("2026-11-02", "利息", "12"), ("11/31", "壞行", "abc"))
    queued = queued_job(console, content, "marked.csv")
    c = console.client("ndc")
    page = c.get(f"/console/reconciliation/imports/{queued.id}").text
    st = c.get(f"/console/reconciliation/imports/{queued.id}/status").get_json()
    assert re.search(r'<section class="job" id="job" data-job [^>]*data-finished="false"', page)
    fields = set(re.findall(r'data-field="([a-z_]+)"', page))
    assert fields == {
        "status_label", "phase_label", "percent", "lines_done", "lines_total", "lines_new",
        "duplicates", "matched", "suggested", "unmatched", "donations_recorded",
        "bad_line_count", "error",
    }  # fmt: skip
    assert fields <= set(st)
    assert 'data-rows="bad_lines" data-columns="line message"' in page
    assert 'data-shown-with="bad_lines"' in page
    assert isinstance(st["bad_lines"], list)

    # Finished with a bad line: the page shows the same figures as the JSON, in words
    Runner(console.database, {}).run(queued.id)
    page = c.get(f"/console/reconciliation/imports/{queued.id}").text
    st = c.get(f"/console/reconciliation/imports/{queued.id}/status").get_json()
    assert st["finished"] is True and 'data-finished="true"' in page
    assert f'data-field="bad_line_count" id="count-bad-line-count">{st["bad_line_count"]}<' in page
    assert st["bad_line_count"] == 1 and {b["line"] for b in st["bad_lines"]} == {3}
    assert '<tbody data-rows="bad_lines" data-columns="line message"><tr><td>3</td>' in page


def test_large_counts_are_shown_with_thousands_separators(console):
    queued = queued_job(console, bank_csv(("2026-11-02", "利息", "12")), "big.csv")
    with console.database.session() as s, s.begin():
        s.get(Job, queued.id).progress_done = 12_345
        s.get(Job, queued.id).progress_total = 100_000
    page = console.client("ndc").get(f"/console/reconciliation/imports/{queued.id}").text
    assert 'id="lines-done" data-field="lines_done">12,345</strong>' in page
    assert 'id="lines-total" data-field="lines_total">100,000</strong>' in page


def test_bad_lines_fail_the_job_with_their_numbers_and_import_nothing(console):
    c = console.client("ndc")
    content = bank_csv(("2026-11-02", "利息", "12"), ("not a date", "壞行", "abc"))
    job_id = finished(console, upload(c, content))
    row = job(console, job_id)
    assert row.status == "failed" and row.error_code == "bank_statement_invalid"
    assert row.attempts == 1  # the file's fault: no retry
    r = result(row)
    assert r["bad_line_count"] == 1 and {b["line"] for b in r["bad_lines"]} == {3}
    assert "import_id" not in r and row.payload is None
    assert count(console, StatementImport) == 0 and count(console, StatementLine) == 0
    page = c.get(f"/console/reconciliation/imports/{job_id}")
    assert "1 行格式錯誤，未匯入任何資料。" in page.text
    assert '<table id="bad-lines">' in page.text and "<td>3</td>" in page.text
    assert 'id="resume-form"' not in page.text
    st = c.get(f"/console/reconciliation/imports/{job_id}/status").json
    assert st["bad_lines"][0]["line"] == 3
    assert "日期" in st["bad_lines"][0]["message"]  # the Chinese message of the parser

    # The same file with "skip bad lines" (the refused job no longer holds the file's key):
    # the good line is imported, the bad one listed.
    skipped = finished(console, upload(c, content, skip_bad_lines="y"))
    assert skipped != job_id
    row = job(console, skipped)
    assert row.status == "succeeded"
    assert (result(row)["lines_new"], result(row)["bad_line_count"]) == (1, 1)
    assert count(console, StatementImport) == 1


def test_an_unreadable_file_fails_with_a_translated_reason(console):
    c = console.client("ndc")
    c.post("/language", data={"csrf_token": csrf_token(c.get("/console/sign-in").text),
                              "lang": "en"})  # fmt: skip
    job_id = finished(console, upload(c, b"hello,world\n1,2\n", mapping="tw_bank"))
    row = job(console, job_id)
    assert row.error_code == "bank_statement_unreadable"
    st = c.get(f"/console/reconciliation/imports/{job_id}/status").json
    assert st["error"].startswith("The file has no header row with the columns")
    assert st["status_label"] == "Failed"
    assert "標題" not in st["error"]
    assert count(console, StatementImport) == 0


def test_an_empty_or_missing_file_is_refused_on_the_form(console):
    c = console.client("ndc")
    empty = upload(c, b"")
    assert empty.status_code == 422
    assert 'id="statement-error"' in empty.text
    assert count(console, Job) == 0


def test_a_big5_bank_export(console):
    c = console.client("ndc")
    content = (BANK / "tw_bank_big5.csv").read_bytes()
    job_id = finished(console, upload(c, content, mapping="tw_bank", encoding="big5"))
    row = job(console, job_id)
    assert row.status == "succeeded", row.error_detail
    assert result(row)["lines_new"] == row.progress_total > 0
    assert count(console, StatementImport) == 1


def test_the_same_file_while_it_is_being_imported_starts_nothing_new(console):
    content = bank_csv(("2026-11-02", "利息", "12"))
    queued = queued_job(console, content)
    c = console.client("ndc")
    again = upload(c, content)
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/imports/{queued.id}")
    assert "此檔案正在匯入中" in c.get(again.headers["Location"]).text
    assert count(console, Job) == 1


def test_a_job_that_failed_after_its_import_resumes_at_matching(console, monkeypatch):
    """A failure the file is not to blame for is retried by itself (backoff); once out of
    attempts, "Resume" runs it again, straight to matching."""
    real = reconciliation_runs.run_bank
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(reconciliation_runs, "run_bank", flaky)
    c = console.client("ndc")
    job_id = finished(console, upload(c, bank_csv(("2026-11-02", "利息", "12"))))
    row = job(console, job_id)
    # Queued again after a backoff, the import kept
    assert (row.status, row.phase, row.error_code) == ("queued", "waiting", "RuntimeError")
    assert row.run_after is not None and result(row)["import_id"] is not None
    assert count(console, StatementLine) == 1  # the import committed
    st = c.get(f"/console/reconciliation/imports/{job_id}/status").json
    assert st["phase_label"] == "等待重試" and st["error"] == "發生未預期的錯誤。"
    # Out of attempts: failed, and the manager resumes it
    with console.database.session() as s, s.begin():
        s.get(Job, job_id).max_attempts = 1
        s.get(Job, job_id).status = "running"
        worker = s.get(Job, job_id).worker
        records.fail(s, job_id, worker, code="RuntimeError", detail={}, retry=True)
    page = c.get(f"/console/reconciliation/imports/{job_id}")
    assert 'id="resume-form"' in page.text
    resumed = c.post(
        f"/console/reconciliation/imports/{job_id}/resume",
        data={"csrf_token": csrf_token(page.text)},
    )
    assert resumed.status_code == 303
    assert "匯入繼續進行" in c.get(resumed.headers["Location"]).text
    run_jobs(console.app)
    row = job(console, job_id)
    assert row.status == "succeeded" and row.attempts == 1
    # Straight to matching: one import, one run, the same line
    assert count(console, StatementImport) == 1 and count(console, StatementLine) == 1
    assert count(console, ReconciliationRun) == 1
    assert len(calls) == 2


def test_a_file_error_is_not_resumable(console):
    c = console.client("ndc")
    job_id = finished(console, upload(c, bank_csv(("not a date", "x", "1"))))
    page = c.get(f"/console/reconciliation/imports/{job_id}")
    refused = c.post(
        f"/console/reconciliation/imports/{job_id}/resume",
        data={"csrf_token": csrf_token(page.text)},
    )
    assert refused.status_code == 303
    assert job(console, job_id).status == "failed"
    assert "無法繼續" in c.get(refused.headers["Location"]).text


def test_a_cancelled_import_can_be_resumed(console):
    queued = queued_job(console, bank_csv(("2026-11-02", "利息", "12")))
    with console.database.session() as s, s.begin():
        records.cancel(s, queued.id)
    c = console.client("ndc")
    page = c.get(f"/console/reconciliation/imports/{queued.id}")
    assert 'id="job-status" class="status cancelled">已取消<' in page.text
    assert 'id="resume-form"' in page.text
    c.post(
        f"/console/reconciliation/imports/{queued.id}/resume",
        data={"csrf_token": csrf_token(page.text)},
    )
    run_jobs(console.app)
    assert job(console, queued.id).status == "succeeded"
    assert count(console, StatementLine) == 1


def test_only_managers_see_import_jobs(console):
    c = console.client("ndc")
    job_id = finished(console, upload(c, bank_csv(("2026-11-02", "利息", "12"))))
    for actor in ("company_a", "business_x"):
        other = console.client(actor)
        for url in (
            f"/console/reconciliation/imports/{job_id}",
            f"/console/reconciliation/imports/{job_id}/status",
        ):
            response = other.get(url)
            assert response.status_code == 403, url
            assert response.mimetype == "text/html"
            assert "statement.csv" not in response.text
        refused = other.post(f"/console/reconciliation/imports/{job_id}/resume")
        assert refused.status_code in (400, 403)
    anonymous = console.client().get(f"/console/reconciliation/imports/{job_id}/status")
    assert anonymous.status_code == 302
    assert console.client("ndc").get("/console/reconciliation/imports/999999").status_code == 404


def test_a_job_of_another_kind_is_not_an_import_page(console):
    with console.database.session() as s, s.begin():
        other, _ = records.submit(s, "seal")
        s.flush()
        other_id = other.id
    page = console.client("ndc").get(f"/console/reconciliation/imports/{other_id}")
    assert page.status_code == 404


def test_the_upload_refuses_a_post_without_the_csrf_token(console):
    c = console.client("ndc")
    response = c.post(
        "/console/reconciliation/upload",
        data={"mapping": "generic", "statement": (io.BytesIO(b"x"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert count(console, Job) == 0
