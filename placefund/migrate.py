"""Run Alembic migrations programmatically: the schema is created only by migrations."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("placefund") / "migrations"))
    # Alembic's options go through configparser, whose interpolation reads "%" as the start
    # of "%(name)s": a percent-encoded password or socket path ("p%40ss", "?host=%2Frun")
    # would be refused. "%%" is configparser's own escape for a literal "%".
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the newest)."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def is_migrated(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")


def head_revision(engine: Engine) -> str:
    """The newest revision this code's migrations know."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(bind: Engine | Connection) -> str | None:
    """The revision the database is at; None when it has no schema yet. Given a connection,
    it asks on that one (a request already holding SQLite's lock must not open another)."""
    if isinstance(bind, Connection):
        return MigrationContext.configure(bind).get_current_revision()
    with bind.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def known_revision(engine: Engine, revision: str) -> bool:
    """Whether ``revision`` is one of this code's migrations (a newer release's is not)."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    return any(r.revision == revision for r in script.walk_revisions())
