"""What a company pays next on a pledge, and when: the figures a bank transfer needs.

Instalments are paid in order; a payment that covers part of one leaves the rest of it due
next. The pure ``next_due_from`` holds the rule; ``next_due`` reads the pledge's payments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger.fund import pledges
from ledger.fund.models import Pledge


@dataclass(frozen=True)
class AmountDue:
    """The next payment on a pledge (minor units, in the pledge's currency)."""

    amount: int
    currency: str
    #: When it is due: the instalment's due date (None for a pledge without a schedule)
    due_date: dt.date | None
    #: Which instalment (1-based) and how many there are
    instalment: int | None
    instalments: int
    #: Everything still due on the pledge, this payment included
    outstanding: int


def next_due_from(
    schedule: Sequence[tuple[dt.date, int]], pledged: int, paid: int, currency: str
) -> AmountDue | None:
    """The next payment given the instalments (due date, amount), the pledged amount and
    what is paid so far; None once the pledge is paid in full."""
    outstanding = pledged - paid
    if outstanding <= 0:
        return None
    cumulative = 0
    for seq, (due_date, amount) in enumerate(schedule, start=1):
        cumulative += amount
        if cumulative > paid:
            return AmountDue(
                min(cumulative - paid, outstanding), currency, due_date, seq, len(schedule),
                outstanding,
            )  # fmt: skip
    return AmountDue(outstanding, currency, None, None, len(schedule), outstanding)


def next_due(session: Session, pledge: Pledge) -> AmountDue | None:
    """The next payment due on ``pledge``, or None once it is paid in full."""
    paid = int(pledges.pledge_paid(session, pledge.id))  # numeric on PostgreSQL
    schedule = [(i.due_date, i.amount) for i in pledge.instalments]
    return next_due_from(schedule, pledge.amount, paid, pledge.currency)
