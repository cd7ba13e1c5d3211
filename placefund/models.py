"""The one model registry: every module that defines tables, imported in one place.

A table exists for SQLAlchemy only once its module has been imported. Alembic's environment
(placefund/migrations/env.py), the app factory and the tests all import this module, so each
of them sees the same tables: autogenerate never proposes dropping a table whose module
nobody happened to import, and ``metadata`` here is what the migrations are compared with
(tests/placefund/test_models.py).

Adding a module with ``Base`` subclasses: import it below and list it in ``MODULES`` (the
test fails until both are done).
"""

from __future__ import annotations

import admin.models
import identity.models
import jobs.models
import ledger.books.models
import ledger.fund.models
import ledger.fund.receipt_models
import ledger.payments.models
import ledger.reconciliation.models
import matching.models
from foundation.db import Base

#: Every module that defines tables, in the order their tables were first created
MODULES = (
    identity.models,  # organisations, users, API tokens, password resets
    ledger.books.models,  # accounts, entries, postings, seals, periods
    ledger.fund.models,  # projects, pledges, donations, disbursements, revenue returns
    ledger.payments.models,  # card payments, Stripe events
    ledger.reconciliation.models,  # statements, their lines, reconciliation runs
    admin.models,  # console sessions, recovery codes
    matching.models,  # offers, requests, match runs, proposals, partnerships
    ledger.fund.receipt_models,  # receipt numbers and counters
    jobs.models,  # background jobs and the workers' heartbeats
)

#: Every table of the service: what the migrations build, and what they are compared with
metadata = Base.metadata

#: Tables the migrations build that no model maps: PostgreSQL-only machinery that raw SQL
#: reads and writes (the listeners acknowledging token revocations, foundation/auth_sync.py;
#: huey's queue, jobs/queue.py)
UNMODELLED_TABLES = frozenset(
    {"auth_listeners", "huey_kv", "huey_schedule", "huey_task", "huey_counter"}
)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: compare everything but the tables no model is meant to map."""
    return not (type_ == "table" and name in UNMODELLED_TABLES)


__all__ = ["MODULES", "UNMODELLED_TABLES", "include_object", "metadata"]
