"""Covering indexes for the donation sums read on every dashboard, transparency and
propose-a-grant request: received per funding source (``figures.sources``) and inflows per
day over the last year (``reports.monthly_flows``). Each holds the grouping column and both
amounts, so PostgreSQL answers from the index alone (an index-only scan of a narrow index)
instead of scanning every donation row.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_COLUMNS = {
    "ix_donations_sums_restriction": ["currency", "restriction", "gross_amount", "refunded_amount"],
    "ix_donations_sums_received_on": ["currency", "received_on", "gross_amount", "refunded_amount"],
}


def upgrade() -> None:
    for name, columns in _COLUMNS.items():
        op.create_index(name, "donations", columns)


def downgrade() -> None:
    for name in _COLUMNS:
        op.drop_index(name, "donations")
