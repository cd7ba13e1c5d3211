"""Stripe events that need a person, found from an index: ``/metrics`` counts them on every
scrape, and a scrape must not read every event ever received.

Partial, so the index holds only the events still waiting for someone (normally none).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'needs_attention'")


def upgrade() -> None:
    op.create_index(
        "ix_stripe_events_needs_attention",
        "stripe_events",
        ["id"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_stripe_events_needs_attention", "stripe_events")
