"""Migration 0004 adds the sign-in columns and the reset table, and removes them again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from placefund.app import Database
from placefund.migrate import alembic_config


def test_upgrade_downgrade_upgrade(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    cfg = alembic_config(database.engine)

    def run(fn, revision):
        with database.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            fn(cfg, revision)

    run(command.upgrade, "0004")
    inspector = inspect(database.engine)
    columns = {c["name"] for c in inspector.get_columns("users")}
    assert {"failed_logins", "locked_until", "password_changed_at"} <= columns
    assert inspector.has_table("password_resets")
    run(command.downgrade, "0003")
    inspector = inspect(database.engine)
    assert "failed_logins" not in {c["name"] for c in inspector.get_columns("users")}
    assert not inspector.has_table("password_resets")
    run(command.upgrade, "0004")
    database.engine.dispose()


def test_0006_adds_and_removes_the_import_jobs_table(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    cfg = alembic_config(database.engine)

    def run(fn, revision):
        with database.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            fn(cfg, revision)

    run(command.upgrade, "0006")
    inspector = inspect(database.engine)
    assert inspector.has_table("import_jobs")
    columns = {c["name"] for c in inspector.get_columns("import_jobs")}
    assert {"status", "phase", "content", "lines_done", "heartbeat_at", "import_id"} <= columns
    run(command.downgrade, "0005")
    assert not inspect(database.engine).has_table("import_jobs")
    run(command.upgrade, "head")
    database.engine.dispose()
