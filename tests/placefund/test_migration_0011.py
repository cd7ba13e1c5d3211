"""Migration 0011 adds the reconciliation queue's indexes and removes them again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from placefund.app import Database
from placefund.migrate import alembic_config

QUEUE_INDEXES = {"ix_statement_lines_open_date", "ix_statement_lines_status_date"}


def test_0011_upgrade_downgrade_upgrade(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    cfg = alembic_config(database.engine)

    def run(fn, revision):
        with database.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            fn(cfg, revision)

    def indexes(table):
        return {i["name"] for i in inspect(database.engine).get_indexes(table)}

    run(command.upgrade, "0011")
    assert indexes("statement_lines") >= QUEUE_INDEXES
    assert "ix_reconciliation_results_line_id" in indexes("reconciliation_results")
    run(command.downgrade, "0010")
    assert not QUEUE_INDEXES & indexes("statement_lines")
    assert "ix_reconciliation_results_line_id" not in indexes("reconciliation_results")
    run(command.upgrade, "0011")
    assert indexes("statement_lines") >= QUEUE_INDEXES
