"""Database engine and sessions for SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from sqlalchemy import DateTime, Engine, Integer, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.orm import (
    DeclarativeBase,
    Session,
    make_transient_to_detached,
    mapped_column,
    sessionmaker,
)

from foundation import auth_sync
from foundation.transactions import guard_commits

# Named constraints, so migrations on SQLite and PostgreSQL agree on what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by every domain package's models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Column shapes every domain package's models share (the ledger adds its money columns).
intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
created = Annotated[dt.datetime, mapped_column(UTCDateTime, default=utcnow)]


def is_postgres(bind: Engine | Session) -> bool:
    """True when the engine (or the session's bind) talks to PostgreSQL."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine with the per-dialect settings the ledger relies on."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", False)
    # psycopg prepares a statement after its fifth use and, on every ROLLBACK (which the
    # pool sends for each request that only read), deallocates all it prepared with
    # DEALLOCATE ALL, which would drop foundation.pgwire's prepared statements too. The hot
    # paths prepare their own statements there (once per connection, kept for its life);
    # psycopg's own preparing is turned off so nothing deallocates them behind their back.
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("prepare_threshold", None)
    kwargs["connect_args"] = connect_args
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions lazily and as DEFERRED, so two
    # writers can both read a balance and then fail to upgrade their lock. We take over: every
    # transaction begins IMMEDIATE (one writer at a time, others wait on busy_timeout).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (we return them from services),
    that refuse to commit a transaction in which a posting failed part-way, and whose commit
    of a change to a token, user or organisation returns only once every server process's
    token cache has forgotten what it changed (auth_sync).
    """
    sessions = guard_commits(sessionmaker(engine, expire_on_commit=False))
    auth_sync.watch(sessions, Base)
    return sessions


def as_loaded(model: type, values: dict):
    """A detached object of ``model`` whose state is ``values``, as if loaded and then
    detached; ``session.add`` makes it persistent without a query.

    The mapper's own new_instance (no constructor, no per-attribute events) with the values
    written into its __dict__, which is what SQLAlchemy's loader does, then
    make_transient_to_detached, SQLAlchemy's documented way to place an object whose state
    is known into a session. Several times cheaper than the constructor for wide rows, on
    paths that run on every request (the token check, the donation a posting returns).
    Columns missing from ``values`` are unloaded: reading one loads it.
    """
    obj = model.__mapper__.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    return obj
