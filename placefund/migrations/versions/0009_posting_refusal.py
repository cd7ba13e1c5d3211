"""Ledger: a posting can commit in the same round trip as its statements.

For that, a leg the database refuses (an overdraft, a closed account or period, a wrong
currency) must fail the transaction rather than leave the statement empty, so that the
COMMIT queued behind it is never carried out. ``ledger_refuse`` raises SQLSTATE PF001; the
posting statements call it when a guarded update matched no account (see ledger/books/posting.py).
The service then rolls back and posts again the careful way, which says why.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION ledger_refuse(reason text) RETURNS bigint LANGUAGE plpgsql AS $$\n"
        "BEGIN RAISE EXCEPTION 'posting refused: %', reason USING ERRCODE = 'PF001'; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION ledger_refuse(text)")
