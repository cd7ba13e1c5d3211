"""Shared fixtures: migrated databases (SQLite per test, PostgreSQL per session), the app.

SQLite: the schema is migrated once per session into a template file, then copied for each
test, so every test starts from a fresh, migrated database in milliseconds.
PostgreSQL (tests marked ``postgres``): a private schema per test session inside
TEST_DATABASE_URL, migrated with the same Alembic scripts and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import text

import placefund.models  # noqa: F401  (the one model registry: every table, as Alembic sees it)
from foundation.settings import Settings, normalise_database_url
from placefund.app import Database, create_app
from placefund.migrate import upgrade

# Tests that need Debian's Chromium fail instead of skipping where the machine was prepared
pytest_plugins = ["tests.machine"]


@pytest.fixture(scope="session", autouse=True)
def instance_folder(tmp_path_factory):
    """An instance folder of the session's own: what a command or app makes there (the
    embedded database, the generated secret_key) never lands in the working tree."""
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("instance")
        mp.setenv("PLACEFUND_INSTANCE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database.engine)
    database.engine.dispose()
    return path


@pytest.fixture
def database(sqlite_template, tmp_path) -> Database:
    """A fresh, migrated SQLite database for one test."""
    path = tmp_path / "placefund.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.engine.dispose()


@pytest.fixture
def session(database):
    with database.session() as s:
        yield s


def _pg_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    return normalise_database_url(url) if url else None


@pytest.fixture(scope="session")
def pg_schema_url():
    """A private, migrated schema in TEST_DATABASE_URL for this test session."""
    url = _pg_url()
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"pf_test_{uuid.uuid4().hex[:10]}"
    admin = Database(url)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield url, schema
    with admin.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.engine.dispose()


def pg_database(url: str, schema: str, **engine_kwargs) -> Database:
    from foundation.db import make_engine, make_session_factory

    db = Database.__new__(Database)
    db.connect_args = {"options": f"-csearch_path={schema}"}
    db.engine = make_engine(url, connect_args=db.connect_args, **engine_kwargs)
    db.sessions = make_session_factory(db.engine)
    return db


@pytest.fixture
def pg(pg_schema_url) -> Database:
    """A freshly migrated PostgreSQL schema for one test (dropped and re-created)."""
    url, base = pg_schema_url
    schema = f"{base}_{uuid.uuid4().hex[:6]}"
    admin = Database(url)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = pg_database(url, schema, pool_size=20, max_overflow=20)
    upgrade(db.engine)
    yield db
    db.engine.dispose()
    with admin.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.engine.dispose()


@pytest.fixture
def app(database):
    settings = Settings(database_url=str(database.engine.url), secret_key="test-secret")
    flask_app = create_app(settings, database=database)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()
