"""Background jobs (issue 17): the ``jobs`` table, the workers' heartbeats, and, on
PostgreSQL, huey's queue tables (jobs/queue.py; on SQLite huey keeps its own file).

huey's tables are written as huey 3.5 creates them (``PostgresStorage.ddl``), so the
workers need no right to create tables; ``create_tables=False`` tells huey they exist.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)

HUEY_DDL = (
    "create table if not exists huey_kv (queue text not null, key text not null, "
    "value bytea not null, primary key(queue, key))",
    "create table if not exists huey_schedule (id bigserial primary key, queue text not null, "
    "data bytea not null, timestamp double precision not null)",
    "create index if not exists huey_schedule_queue_timestamp on huey_schedule (queue, timestamp)",
    "create table if not exists huey_task (id bigserial primary key, queue text not null, "
    "data bytea not null, priority double precision not null default 0.0)",
    "create index if not exists huey_task_queue_priority_id on huey_task "
    "(queue, priority desc, id)",
    "create table if not exists huey_counter (queue text not null, key text not null, "
    "value bigint not null default 0, primary key(queue, key))",
)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("dedupe_key", sa.String(160), nullable=True),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("enqueued_at", UTC, nullable=True),
        sa.Column("run_after", UTC, nullable=True),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("worker", sa.String(160), nullable=True),
        sa.Column("heartbeat_at", UTC, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="status"
        ),
        sa.CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts"),
        sa.CheckConstraint("progress_done >= 0", name="progress"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_jobs_status_id", "jobs", ["status", "id"])
    op.create_index("ix_jobs_kind_id", "jobs", ["kind", "id"])
    op.create_index("ix_jobs_created_by_id", "jobs", ["created_by_id"])
    op.create_table(
        "job_workers",
        sa.Column("name", sa.String(160), primary_key=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("beat_at", UTC, nullable=False),
        sa.Column("threads", sa.Integer(), nullable=False),
        sa.Column("stopped_at", UTC, nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in HUEY_DDL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("huey_counter", "huey_task", "huey_schedule", "huey_kv"):
            op.execute(f"drop table if exists {table}")
    op.drop_table("job_workers")
    op.drop_index("ix_jobs_created_by_id", "jobs")
    op.drop_index("ix_jobs_kind_id", "jobs")
    op.drop_index("ix_jobs_status_id", "jobs")
    op.drop_table("jobs")
