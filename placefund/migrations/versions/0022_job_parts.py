"""``jobs.parent_id``: a job split into parts (the yearly statements of 10,000 companies,
rendered by every worker at once) knows its parts, so it sums their progress, cancels them
with itself and, run again, takes them up where they stopped.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("parent_id", BigId, nullable=True))
        batch_op.create_foreign_key("fk_jobs_parent_id_jobs", "jobs", ["parent_id"], ["id"])
        batch_op.create_index("ix_jobs_parent_id", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_parent_id")
        batch_op.drop_constraint("fk_jobs_parent_id_jobs", type_="foreignkey")
        batch_op.drop_column("parent_id")
