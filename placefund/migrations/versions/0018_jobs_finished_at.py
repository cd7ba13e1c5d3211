"""An index on ``jobs.finished_at``: ``/metrics`` counts the jobs finished within the last
hour per kind and outcome at every scrape, which must read a range of recent rows, never
the whole (ever-growing) table.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at", "jobs")
