"""Reconciliation queue: indexes so that counts, filters and pages stay fast at 200,000 lines.

* ``ix_statement_lines_open_date``: the lines needing a decision (unmatched, or matched and
  not confirmed) by date and id, newest first; partial, so it stays as small as the work
  left, however many lines were reconciled before.
* ``ix_statement_lines_status_date``: one status by date and id (the status filter), and
  the per-status counts from the index alone.
* ``ix_reconciliation_results_line_id``: a page's latest findings, looked up by line
  (without it every page read all results of every run).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('unmatched', 'matched')")


def upgrade() -> None:
    op.create_index(
        "ix_statement_lines_open_date",
        "statement_lines",
        ["date", "id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index("ix_statement_lines_status_date", "statement_lines", ["status", "date", "id"])
    op.create_index("ix_reconciliation_results_line_id", "reconciliation_results", ["line_id"])


def downgrade() -> None:
    op.drop_index("ix_reconciliation_results_line_id", "reconciliation_results")
    op.drop_index("ix_statement_lines_status_date", "statement_lines")
    op.drop_index("ix_statement_lines_open_date", "statement_lines")
