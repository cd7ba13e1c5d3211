"""Bank statement uploads as background import jobs: the job row, its progress page and JSON
status, bad files, interrupted and resumed jobs, and who may see them."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from admin import imports
from admin.models import ImportJob
from identity.models import User
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.models import ReconciliationRun, StatementImport, StatementLine
from tests.admin.conftest import bank_csv, csrf_token

BANK = Path(__file__).parents[1] / "fixtures" / "bank"


@pytest.fixture(autouse=True)
def _stop_runner(app):
    yield
    runner = app.extensions.get("placefund.import_jobs")
    if runner is not None:
        runner.shutdown()


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
    imports.runner(console.app).wait(job_id)
    return job_id


def job(console, job_id: int) -> ImportJob:
    with console.database.session() as s:
        row = s.get(ImportJob, job_id)
        _ = row.content  # deferred: load it before the session closes
        s.expunge(row)
        return row


def count(console, model) -> int:
    with console.database.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_an_upload_runs_as_a_job_and_its_page_shows_the_outcome(console):
    c = console.client("ndc")
    content = bank_csv(("2026-11-02", "利息", "12"), ("2026-11-03", "手續費", "-30"))
    job_id = finished(console, upload(c, content))
    row = job(console, job_id)
    assert (row.status, row.phase) == ("succeeded", "done")
    assert (row.lines_total, row.lines_done, row.lines_new, row.duplicates) == (2, 2, 2, 0)
    assert row.unmatched == 2 and row.matched == 0 and row.bad_line_count == 0
    assert row.content is None  # the lines are stored; the file is not kept twice
    assert row.import_id is not None and row.run_id is not None
    assert row.attempts == 1

    page = c.get(f"/console/reconciliation/imports/{job_id}")
    assert page.status_code == 200
    assert 'id="job-status" class="status succeeded">完成<' in page.text
    assert 'id="count-lines-new">2<' in page.text
    assert f'href="/console/reconciliation/runs/{row.run_id}"' in page.text
    assert 'http-equiv="refresh"' not in page.text  # finished: nothing left to refresh
    assert c.get(f"/console/reconciliation/runs/{row.run_id}").status_code == 200

    status = c.get(f"/console/reconciliation/imports/{job_id}/status")
    assert status.mimetype == "application/json"
    assert status.headers["Cache-Control"] == "no-store"
    st = status.json
    assert st["finished"] is True and st["percent"] == 100
    assert (st["lines_done"], st["lines_total"], st["unmatched"]) == (2, 2, 2)
    assert st["status_label"] == "完成" and st["error"] is None

    queue = c.get("/console/reconciliation")
    assert f'id="import-{job_id}"' in queue.text


def test_the_progress_page_polls_with_its_own_script_and_refreshes_without_it(console):
    with console.database.session() as s, s.begin():
        queued = imports.create_job(
            s,
            actor=s.get(User, console.ids["user_ndc"]),
            data=bank_csv(("2026-11-02", "利息", "12")),
            filename="waiting.csv",
            mapping="generic",
            encoding=None,
            skip_bad_lines=False,
        )
    page = console.client("ndc").get(f"/console/reconciliation/imports/{queued.id}")
    assert page.status_code == 200
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.text
    assert '<script src="/console/static/import-progress.js" defer></script>' in page.text
    assert f'data-status-url="/console/reconciliation/imports/{queued.id}/status"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp
    script = console.client("ndc").get("/console/static/import-progress.js")
    assert script.status_code == 200 and "fetch(" in script.text
    script.close()


def test_bad_lines_fail_the_job_with_their_numbers_and_import_nothing(console):
    c = console.client("ndc")
    content = bank_csv(("2026-11-02", "利息", "12"), ("not a date", "壞行", "abc"))
    job_id = finished(console, upload(c, content))
    row = job(console, job_id)
    assert row.status == "failed" and row.error_code == "bank_statement_invalid"
    assert row.bad_line_count == 1 and {b["line"] for b in imports.bad_lines(row)} == {3}
    assert row.import_id is None and row.content is None
    assert not imports.resumable(row)
    assert count(console, StatementImport) == 0 and count(console, StatementLine) == 0
    page = c.get(f"/console/reconciliation/imports/{job_id}")
    assert "1 行格式錯誤，未匯入任何資料。" in page.text
    assert '<table id="bad-lines">' in page.text and "<td>3</td>" in page.text
    assert 'id="resume-form"' not in page.text
    st = c.get(f"/console/reconciliation/imports/{job_id}/status").json
    assert st["bad_lines"][0]["line"] == 3
    assert "日期" in st["bad_lines"][0]["message"]  # the Chinese message of the parser

    # The same file with "skip bad lines": the good line is imported, the bad one listed.
    skipped = finished(console, upload(c, content, skip_bad_lines="y"))
    row = job(console, skipped)
    assert row.status == "succeeded"
    assert (row.lines_new, row.bad_line_count) == (1, 1)
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
    assert "標題" not in st["error"]
    assert count(console, StatementImport) == 0


def test_an_empty_or_missing_file_is_refused_on_the_form(console):
    c = console.client("ndc")
    empty = upload(c, b"")
    assert empty.status_code == 422
    assert 'id="statement-error"' in empty.text
    assert count(console, ImportJob) == 0


def test_a_big5_bank_export(console):
    c = console.client("ndc")
    content = (BANK / "tw_bank_big5.csv").read_bytes()
    job_id = finished(console, upload(c, content, mapping="tw_bank", encoding="big5"))
    row = job(console, job_id)
    assert row.status == "succeeded", row.error_detail
    assert row.lines_new == row.lines_total > 0
    assert count(console, StatementImport) == 1


def test_the_same_file_while_it_is_being_imported_starts_nothing_new(console):
    content = bank_csv(("2026-11-02", "利息", "12"))
    with console.database.session() as s, s.begin():
        queued = imports.create_job(
            s,
            actor=s.get(User, console.ids["user_ndc"]),
            data=content,
            filename="a.csv",
            mapping="generic",
            encoding=None,
            skip_bad_lines=False,
        )
    again = upload(console.client("ndc"), content)
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/imports/{queued.id}")
    assert count(console, ImportJob) == 1


def test_an_abandoned_job_is_marked_interrupted_and_resumes(console):
    content = bank_csv(("2026-11-02", "利息", "12"))
    with console.database.session() as s, s.begin():
        row = imports.create_job(
            s,
            actor=s.get(User, console.ids["user_ndc"]),
            data=content,
            filename="a.csv",
            mapping="generic",
            encoding=None,
            skip_bad_lines=False,
        )
        # Its process died while it ran: the heartbeat stopped a while ago.
        row.status, row.phase = "running", "importing"
        row.heartbeat_at = dt.datetime.now(dt.UTC) - imports.STALE_AFTER * 2
    c = console.client("ndc")
    page = c.get(f"/console/reconciliation/imports/{row.id}")
    assert "匯入未完成即中斷（伺服器重新啟動）。" in page.text
    assert 'id="resume-form"' in page.text
    assert job(console, row.id).error_code == "interrupted"
    resumed = c.post(
        f"/console/reconciliation/imports/{row.id}/resume",
        data={"csrf_token": csrf_token(page.text)},
    )
    assert resumed.status_code == 303
    imports.runner(console.app).wait(row.id)
    done = job(console, row.id)
    assert (done.status, done.lines_new, done.attempts) == ("succeeded", 1, 1)


def test_a_job_that_failed_after_its_import_resumes_at_matching(console, monkeypatch):
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
    assert (row.status, row.error_code) == ("failed", "internal_error")
    assert row.import_id is not None and imports.resumable(row)
    assert count(console, StatementLine) == 1  # the import committed
    page = c.get(f"/console/reconciliation/imports/{job_id}")
    assert "發生未預期的錯誤。" in page.text
    c.post(
        f"/console/reconciliation/imports/{job_id}/resume",
        data={"csrf_token": csrf_token(page.text)},
    )
    imports.runner(console.app).wait(job_id)
    row = job(console, job_id)
    assert row.status == "succeeded" and row.attempts == 2
    # Straight to matching: one import, one run, the same line
    assert count(console, StatementImport) == 1 and count(console, StatementLine) == 1
    assert count(console, ReconciliationRun) == 1


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
    anonymous = console.client().get(f"/console/reconciliation/imports/{job_id}/status")
    assert anonymous.status_code == 302
    assert console.client("ndc").get("/console/reconciliation/imports/999999").status_code == 404


def test_the_upload_refuses_a_post_without_the_csrf_token(console):
    c = console.client("ndc")
    response = c.post(
        "/console/reconciliation/upload",
        data={"mapping": "generic", "statement": (io.BytesIO(b"x"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert count(console, ImportJob) == 0


def test_mark_abandoned_leaves_live_jobs_alone(console):
    with console.database.session() as s, s.begin():
        actor = s.get(User, console.ids["user_ndc"])
        live = imports.create_job(
            s, actor=actor, data=b"a", filename="a", mapping="generic", encoding=None,
            skip_bad_lines=False,
        )  # fmt: skip
        dead = imports.create_job(
            s, actor=actor, data=b"b", filename="b", mapping="generic", encoding=None,
            skip_bad_lines=False,
        )  # fmt: skip
        dead.heartbeat_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with console.database.session() as s, s.begin():
        assert imports.mark_abandoned(s) == 1
    assert job(console, live.id).status == "queued"
    assert job(console, dead.id).status == "failed"
    assert json.loads(job(console, dead.id).bad_lines) == []
