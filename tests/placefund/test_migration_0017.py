"""Migration 0017 moves the console's import jobs into ``jobs`` (kind ``bank_import``) and
drops ``import_jobs``; the downgrade brings back the empty table. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from alembic import command
from sqlalchemy import inspect, text

from placefund.app import Database
from placefund.migrate import alembic_config
from tests import factories

INSERT = text(
    "INSERT INTO import_jobs (status, phase, filename, mapping, encoding, account, "
    "skip_bad_lines, file_sha256, file_size, content, lines_total, lines_done, lines_new, "
    "duplicates, matched, suggested, unmatched, donations_recorded, bad_line_count, bad_lines, "
    "error_code, error_detail, attempts, import_id, run_id, created_by_id, created_at, "
    "started_at, heartbeat_at, finished_at) VALUES (:status, :phase, :filename, 'generic', "
    "NULL, 'assets:bank:main', :skip, :sha, 12, :content, :total, :done, :new, :dups, :matched, "
    "0, :unmatched, 0, :bad_count, :bad_lines, :error_code, :error_detail, 1, :import_id, "
    ":run_id, :user, :at, :at, :at, :finished)"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    if request.param == "postgresql":
        yield request.getfixturevalue("pg")
        return
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    yield database
    database.engine.dispose()


def test_0017_moves_import_jobs_into_jobs(db):
    cfg = alembic_config(db.engine)

    def run(fn, revision):
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            fn(cfg, revision)

    if db.engine.dialect.name == "sqlite":
        run(command.upgrade, "0016")
    else:
        run(command.downgrade, "0016")
    with db.session() as s, s.begin():
        user_id = factories.manager(s, "NDC").id
        at = dt.datetime(2026, 11, 2, 3, 4, 5, tzinfo=dt.UTC)
        common = {"user": user_id, "at": at, "skip": False, "dups": None, "matched": None}
        s.execute(
            text(
                "INSERT INTO statement_imports (source, name, account, mapping, encoding, "
                "file_sha256, lines_read, lines_new, lines_skipped_bad, currency, created_at) "
                "VALUES ('bank', 'done.csv', 'assets:bank:main', 'generic', 'utf-8', 'x', "
                "2, 2, 0, 'TWD', :at)"
            ),
            {"at": at},
        )
        import_id = s.execute(text("SELECT max(id) FROM statement_imports")).scalar()
        rows = [
            {"status": "succeeded", "phase": "done", "filename": "done.csv", "sha": "a" * 64,
             "content": None, "total": 2, "done": 2, "new": 2, "unmatched": 2, "bad_count": 0,
             "bad_lines": "[]", "error_code": None, "error_detail": None,
             "import_id": import_id, "run_id": None, "finished": at},
            {"status": "failed", "phase": "importing", "filename": "bad.csv", "sha": "b" * 64,
             "content": None, "total": 1, "done": 0, "new": None, "unmatched": None,
             "bad_count": 1,
             "bad_lines": json.dumps([{"line": 3, "field": "date", "message": "bad date",
                                       "message_zh": "日期錯誤"}]),
             "error_code": "bank_statement_invalid",
             "error_detail": json.dumps({"detail": "1 malformed line",
                                         "message_code": "bank_statement_invalid",
                                         "params": {}}),
             "import_id": None, "run_id": None, "finished": at},
            {"status": "running", "phase": "importing", "filename": "live.csv", "sha": "c" * 64,
             "content": b"date,description,amount,balance\n2026-11-02,x,1,\n", "total": 1,
             "done": 0, "new": None, "unmatched": None, "bad_count": 0, "bad_lines": "[]",
             "error_code": None, "error_detail": None, "import_id": None, "run_id": None,
             "finished": None},
        ]  # fmt: skip
        for r in rows:
            s.execute(INSERT, {**common, **r})

    run(command.upgrade, "0017")
    assert not inspect(db.engine).has_table("import_jobs")
    with db.engine.connect() as conn:
        jobs = conn.execute(
            text(
                "SELECT kind, status, phase, params, payload, result, error_code, attempts, "
                "progress_done, progress_total, created_by_id, enqueued_at, finished_at "
                "FROM jobs ORDER BY id"
            )
        ).all()
    assert [j.kind for j in jobs] == ["bank_import"] * 3
    done, bad, live = jobs
    assert (done.status, done.phase, done.attempts) == ("succeeded", "done", 1)
    assert json.loads(done.params) == {
        "filename": "done.csv", "mapping": "generic", "encoding": None,
        "account": "assets:bank:main", "skip_bad_lines": False, "file_sha256": "a" * 64,
        "file_size": 12,
    }  # fmt: skip
    result = json.loads(done.result)
    assert (result["import_id"], result["lines_read"], result["lines_new"]) == (import_id, 2, 2)
    assert "run_id" not in result and result["bad_lines"] == []
    assert (done.progress_done, done.progress_total, done.created_by_id) == (2, 2, user_id)
    assert (bad.status, bad.error_code) == ("failed", "bank_statement_invalid")
    assert json.loads(bad.result)["bad_lines"][0]["message_zh"] == "日期錯誤"
    assert "import_id" not in json.loads(bad.result)
    # Unfinished: queued again with its file, for the workers' sweep
    assert (live.status, live.phase, live.attempts, live.enqueued_at) == (
        "queued",
        "queued",
        0,
        None,
    )
    assert bytes(live.payload).startswith(b"date,description")
    assert live.finished_at is None

    run(command.downgrade, "0016")
    inspector = inspect(db.engine)
    assert inspector.has_table("import_jobs")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM import_jobs")).scalar() == 0
    run(command.upgrade, "head")
    assert not inspect(db.engine).has_table("import_jobs")
