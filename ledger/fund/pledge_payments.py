"""What was paid towards each pledge, as one subquery: the pledge figures, the overdue
instalments and the reconciliation candidates all count payments the same way."""

from __future__ import annotations

from sqlalchemy import func, select

from ledger.fund.models import Donation


def paid_per_pledge():
    """A subquery of what was paid towards each pledge (``pledge_id``, ``paid``): gross
    donations less refunds. Pledges nothing was paid towards have no row."""
    return (
        select(
            Donation.pledge_id,
            func.sum(Donation.gross_amount - Donation.refunded_amount).label("paid"),
        )
        .where(Donation.pledge_id.is_not(None))
        .group_by(Donation.pledge_id)
        .subquery()
    )
