"""Stripe events may be ``received``: stored by the webhook, their effect not yet applied.

The webhook no longer applies an event while Stripe waits for the answer: it stores the
event and a ``stripe_event`` job (jobs/kinds/stripe.py) fetches the object and posts. The
status check gains the state in between.

The partial index of events needing attention (0015) is dropped and made again around the
change: on SQLite the table is rebuilt, and the index's WHERE must not be lost on the way.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'needs_attention'")


def _status_check(states: str) -> None:
    op.drop_index("ix_stripe_events_needs_attention", "stripe_events")
    with op.batch_alter_table("stripe_events") as batch:
        batch.drop_constraint(op.f("ck_stripe_events_status"), type_="check")
        batch.create_check_constraint(op.f("ck_stripe_events_status"), f"status IN ({states})")
    op.create_index(
        "ix_stripe_events_needs_attention",
        "stripe_events",
        ["id"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )


def upgrade() -> None:
    _status_check("'received', 'applied', 'ignored', 'needs_attention'")


def downgrade() -> None:
    # An event still waiting is put back as needing a person: the old states have no other
    op.execute("UPDATE stripe_events SET status = 'needs_attention' WHERE status = 'received'")
    _status_check("'applied', 'ignored', 'needs_attention'")
