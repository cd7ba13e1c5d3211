"""Alembic environment: the connection comes from placefund.cli (``placefund db upgrade``)."""

from alembic import context

import identity.models  # noqa: F401  (organisations, users, API tokens, reset links)
import ledger.models  # noqa: F401  (registers the ledger tables on Base.metadata)
import matching.records  # noqa: F401  (offers, requests, runs, proposals, partnerships)
from ledger import (
    payment_models,  # noqa: F401  (payments, webhook events, reconciliation)
    receipt_models,  # noqa: F401  (receipt numbers)
)
from placefund.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from placefund.db import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
