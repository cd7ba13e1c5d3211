"""Console: bank statement import jobs (the upload runs in the background; its progress and
outcome live in this row, so they survive the request, the thread and a restart).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
STATES = "('queued', 'running', 'succeeded', 'failed')"
PHASES = "('queued', 'reading', 'importing', 'matching', 'done')"


def upgrade() -> None:
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


def downgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_jobs_status"))
    op.drop_table("import_jobs")
