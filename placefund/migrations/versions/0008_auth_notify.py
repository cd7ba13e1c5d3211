"""API: PostgreSQL says when anything a cached token check relies on changes.

Each server process keeps the tokens it has verified (api/token_cache.py) and listens on the
``placefund_auth`` channel. A revoked, re-hashed or re-assigned token, any change to a user
or an organisation (role, lock, verification, profile) and any delete or truncate of those
tables notify the channel when their transaction commits; every listening process then
forgets every token it holds. Touching ``last_used_at`` notifies nothing.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHANNEL = "placefund_auth"

TRIGGERS = {
    "api_tokens": "UPDATE OF revoked_at, token_hash, user_id OR DELETE",
    "users": "UPDATE OR DELETE",
    "organisations": "UPDATE OR DELETE",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION placefund_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table, events in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {table}_auth_changed AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION placefund_auth_changed()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_auth_truncated AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION placefund_auth_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TRIGGERS:
        op.execute(f"DROP TRIGGER {table}_auth_changed ON {table}")
        op.execute(f"DROP TRIGGER {table}_auth_truncated ON {table}")
    op.execute("DROP FUNCTION placefund_auth_changed()")
