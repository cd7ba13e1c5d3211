"""Run Alembic migrations programmatically: the schema is created only by migrations."""

from __future__ import annotations

from functools import cache
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("placefund") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the newest)."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def is_migrated(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")


@cache
def head_revision() -> str:
    """The newest migration this code ships (read once: the files do not change while we run)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("placefund") / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The migration the database is at (None: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()
