"""Receipts: a number per donation, counted from 1 within each year, given once.

Receipts issued before this revision printed ``PF-<year>-<donation id>``; those numbers are
kept (a company may already have filed them): every existing donation gets its id as its
serial, and each year's counter starts after the largest, so new numbers never repeat one.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_receipt_counters")),
    )
    op.create_table(
        "receipt_numbers",
        sa.Column("donation_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("serial > 0", name=op.f("ck_receipt_numbers_serial_positive")),
        sa.ForeignKeyConstraint(
            ["donation_id"],
            ["donations.id"],
            name=op.f("fk_receipt_numbers_donation_id_donations"),
        ),
        sa.PrimaryKeyConstraint("donation_id", name=op.f("pk_receipt_numbers")),
        sa.UniqueConstraint("year", "serial", name="uq_receipt_numbers_year_serial"),
    )
    if op.get_bind().dialect.name == "postgresql":
        year = "CAST(EXTRACT(YEAR FROM received_on) AS INTEGER)"
    else:
        year = "CAST(strftime('%Y', received_on) AS INTEGER)"
    op.execute(
        "INSERT INTO receipt_numbers (donation_id, year, serial, issued_at) "
        f"SELECT id, {year}, id, created_at FROM donations"
    )
    op.execute(
        "INSERT INTO receipt_counters (year, last_serial) "
        "SELECT year, MAX(serial) FROM receipt_numbers GROUP BY year"
    )


def downgrade() -> None:
    op.drop_table("receipt_numbers")
    op.drop_table("receipt_counters")
