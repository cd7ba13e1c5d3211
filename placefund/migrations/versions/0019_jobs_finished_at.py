"""An index on ``jobs.finished_at``: ``/metrics`` counts the jobs finished within the last
hour per kind and outcome at every scrape, which must read a range of recent rows, never
the whole (ever-growing) table.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at", "jobs")
