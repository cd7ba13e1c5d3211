"""Money rules: revenue reports corrected by reversal; disbursements committed on approval.

Disbursements gain ``commit_entry_id``: a proposal now only holds its money (moved from the
funding source into ``net_assets:held:<source>``, not an expense); the grant expense or
investment is posted when a manager of a second institution approves.

Revenue reports: one per agreement period, corrected by reversal, never edited.

A report gains what a correction needs: the report it corrects and why, and, on the report
it replaced, when it was reversed and by which entry. Reports in force (not reversed) may
not share a start date on one agreement (the service also refuses any overlap, under the
agreement's lock), and a period may not end before it starts.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
IN_FORCE = sa.text("reversed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("disbursements") as batch:
        batch.add_column(sa.Column("commit_entry_id", BigId, nullable=True))
        batch.create_foreign_key(
            op.f("fk_disbursements_commit_entry_id_ledger_entries"),
            "ledger_entries",
            ["commit_entry_id"],
            ["id"],
        )
        batch.create_unique_constraint(
            op.f("uq_disbursements_commit_entry_id"), ["commit_entry_id"]
        )
    with op.batch_alter_table("revenue_reports") as batch:
        batch.add_column(sa.Column("corrects_report_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reversal_entry_id", BigId, nullable=True))
        batch.create_foreign_key(
            op.f("fk_revenue_reports_corrects_report_id_revenue_reports"),
            "revenue_reports",
            ["corrects_report_id"],
            ["id"],
        )
        batch.create_foreign_key(
            op.f("fk_revenue_reports_reversal_entry_id_ledger_entries"),
            "ledger_entries",
            ["reversal_entry_id"],
            ["id"],
        )
        batch.create_unique_constraint(
            op.f("uq_revenue_reports_corrects_report_id"), ["corrects_report_id"]
        )
        batch.create_unique_constraint(
            op.f("uq_revenue_reports_reversal_entry_id"), ["reversal_entry_id"]
        )
        batch.create_check_constraint(
            op.f("ck_revenue_reports_period"), "period_end >= period_start"
        )
    op.create_index(
        "uq_revenue_reports_period_in_force",
        "revenue_reports",
        ["agreement_id", "period_start"],
        unique=True,
        sqlite_where=IN_FORCE,
        postgresql_where=IN_FORCE,
    )


def downgrade() -> None:
    op.drop_index("uq_revenue_reports_period_in_force", table_name="revenue_reports")
    with op.batch_alter_table("revenue_reports") as batch:
        batch.drop_constraint(op.f("ck_revenue_reports_period"), type_="check")
        batch.drop_constraint(op.f("uq_revenue_reports_reversal_entry_id"), type_="unique")
        batch.drop_constraint(op.f("uq_revenue_reports_corrects_report_id"), type_="unique")
        batch.drop_constraint(
            op.f("fk_revenue_reports_reversal_entry_id_ledger_entries"), type_="foreignkey"
        )
        batch.drop_constraint(
            op.f("fk_revenue_reports_corrects_report_id_revenue_reports"), type_="foreignkey"
        )
        batch.drop_column("reversal_entry_id")
        batch.drop_column("reversed_at")
        batch.drop_column("reason")
        batch.drop_column("corrects_report_id")
    with op.batch_alter_table("disbursements") as batch:
        batch.drop_constraint(op.f("uq_disbursements_commit_entry_id"), type_="unique")
        batch.drop_constraint(
            op.f("fk_disbursements_commit_entry_id_ledger_entries"), type_="foreignkey"
        )
        batch.drop_column("commit_entry_id")
