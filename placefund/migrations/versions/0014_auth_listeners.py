"""API: who listens for changes to tokens, users and organisations, and what they have heard.

A change that the token caches rely on (migration 0008) must be in force everywhere before
the call that made it returns (foundation/auth_sync.py): after its commit, the changing
process draws a number from ``auth_sync_seq``, notifies it, and waits until every live
listener registered in ``auth_listeners`` has acknowledged that number (``acked``).
A listener is known by its backend (pid and start time, as ``pg_stat_activity`` shows
them), so the row of a listener that died is recognised and ignored; a new listener deletes
such rows when it registers. PostgreSQL only: SQLite has no cache and no notifications.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE auth_sync_seq")
    op.execute(
        "CREATE TABLE auth_listeners ("
        " backend_pid integer NOT NULL,"
        " backend_start timestamptz NOT NULL,"
        " acked bigint NOT NULL,"
        " host text NOT NULL,"
        " process_id integer NOT NULL,"
        " registered_at timestamptz NOT NULL DEFAULT now(),"
        " CONSTRAINT pk_auth_listeners PRIMARY KEY (backend_pid))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE auth_listeners")
    op.execute("DROP SEQUENCE auth_sync_seq")
