"""Bank statement imports become ``jobs`` rows (kind ``bank_import``, run by the workers):
the console's own ``import_jobs`` table is copied into ``jobs`` and dropped.

What each import job was asked goes into ``params`` (filename, mapping, encoding, account,
skip_bad_lines, file_sha256, file_size), what it did into ``result`` (import_id, run_id,
lines and match counts, the malformed lines), and its file into ``payload``. A job that was
still queued or running (its web process ran it on a thread) is queued again: the workers'
sweep hands it out, and one whose lines were stored goes straight to matching. Job ids are
new (``jobs`` may hold other work already); the old pages' addresses no longer resolve.

The downgrade recreates the empty ``import_jobs`` table; the jobs stay where they are.

Revision ID: 0017
Revises: 0016
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
STATES = "('queued', 'running', 'succeeded', 'failed')"
PHASES = "('queued', 'reading', 'importing', 'matching', 'done')"

_COUNTS = ("lines_new", "duplicates", "matched", "suggested", "unmatched", "donations_recorded")


def _jobs_table() -> sa.Table:
    return sa.table(
        "jobs",
        *(
            sa.column(name)
            for name in (
                "kind", "status", "params", "payload", "dedupe_key", "phase", "progress_done",
                "progress_total", "result", "error_code", "error_detail", "attempts",
                "max_attempts", "cancel_requested", "created_by_id", "created_at",
                "enqueued_at", "run_after", "started_at", "finished_at", "worker",
                "heartbeat_at",
            )
        ),
    )  # fmt: skip


def _as_job(row) -> dict:
    unfinished = row.status in ("queued", "running")
    try:
        bad_lines = json.loads(row.bad_lines or "[]")
    except ValueError:
        bad_lines = []
    result: dict = {}
    if row.import_id is not None:
        result["import_id"] = row.import_id
        result["lines_read"] = row.lines_total
    if row.run_id is not None:
        result["run_id"] = row.run_id
    for name in _COUNTS:
        if getattr(row, name) is not None:
            result[name] = getattr(row, name)
    result["bad_line_count"] = row.bad_line_count
    result["bad_lines"] = bad_lines
    params = {
        "filename": row.filename,
        "mapping": row.mapping,
        "encoding": row.encoding,
        "account": row.account,
        "skip_bad_lines": bool(row.skip_bad_lines),
        "file_sha256": row.file_sha256,
        "file_size": row.file_size,
    }
    return {
        "kind": "bank_import",
        # Unfinished: queued again for the workers (its thread died with the old server)
        "status": "queued" if unfinished else row.status,
        "params": json.dumps(params, ensure_ascii=False, sort_keys=True),
        "payload": row.content,
        "dedupe_key": None,
        "phase": "queued" if unfinished else row.phase,
        "progress_done": row.lines_done,
        "progress_total": row.lines_total,
        "result": json.dumps(result, ensure_ascii=False),
        "error_code": None if unfinished else row.error_code,
        "error_detail": None if unfinished else row.error_detail,
        "attempts": 0 if unfinished else row.attempts,
        "max_attempts": 5,
        "cancel_requested": False,
        "created_by_id": row.created_by_id,
        "created_at": row.created_at,
        "enqueued_at": None,  # the sweep hands out a queued job nobody enqueued
        "run_after": None,
        "started_at": row.started_at,
        "finished_at": None if unfinished else row.finished_at,
        "worker": None,
        "heartbeat_at": row.heartbeat_at,
    }


def upgrade() -> None:
    connection = op.get_bind()
    jobs = _jobs_table()
    ids = connection.execute(sa.text("SELECT id FROM import_jobs ORDER BY id")).scalars().all()
    # One row at a time: each may carry a file of up to 24 MB
    for job_id in ids:
        row = connection.execute(
            sa.text("SELECT * FROM import_jobs WHERE id = :id"), {"id": job_id}
        ).one()
        connection.execute(jobs.insert().values(**_as_job(row)))
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_jobs_status"))
    op.drop_table("import_jobs")


def downgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("mapping", sa.String(length=32), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=True),
        sa.Column("account", sa.String(length=160), nullable=False),
        sa.Column("skip_bad_lines", sa.Boolean(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("lines_total", sa.Integer(), nullable=True),
        sa.Column("lines_done", sa.Integer(), nullable=False),
        sa.Column("lines_new", sa.Integer(), nullable=True),
        sa.Column("duplicates", sa.Integer(), nullable=True),
        sa.Column("matched", sa.Integer(), nullable=True),
        sa.Column("suggested", sa.Integer(), nullable=True),
        sa.Column("unmatched", sa.Integer(), nullable=True),
        sa.Column("donations_recorded", sa.Integer(), nullable=True),
        sa.Column("bad_line_count", sa.Integer(), nullable=False),
        sa.Column("bad_lines", sa.Text(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["statement_imports.id"],
            name=op.f("fk_import_jobs_import_id_statement_imports"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_import_jobs_run_id_reconciliation_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_import_jobs_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
        sa.CheckConstraint(f"status IN {STATES}", name=op.f("ck_import_jobs_status")),
        sa.CheckConstraint(f"phase IN {PHASES}", name=op.f("ck_import_jobs_phase")),
        sa.CheckConstraint(
            "lines_done >= 0 AND bad_line_count >= 0 AND attempts >= 0",
            name=op.f("ck_import_jobs_counts"),
        ),
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_jobs_status"), ["status"], unique=False)
