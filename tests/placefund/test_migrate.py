"""Migrations 0008 and 0009 on PostgreSQL: added, removed and added again."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from placefund.migrate import upgrade

pytestmark = pytest.mark.postgres

TRIGGERS = (
    "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname LIKE '%auth%'"
)
FUNCTIONS = (
    "SELECT count(*) FROM pg_proc WHERE proname IN ('placefund_auth_changed', 'ledger_refuse')"
    " AND pronamespace = current_schema()::regnamespace"
)


def _counts(pg) -> tuple[int, int]:
    with pg.engine.connect() as conn:
        return conn.execute(text(TRIGGERS)).scalar(), conn.execute(text(FUNCTIONS)).scalar()


def test_0008_and_0009_downgrade_and_upgrade(pg):
    from alembic import command

    from placefund.migrate import alembic_config

    assert _counts(pg) == (6, 2)
    cfg = alembic_config(pg.engine)
    with pg.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0007")
    assert _counts(pg) == (0, 0)
    upgrade(pg.engine)
    assert _counts(pg) == (6, 2)
