"""Periods: closing one (with the balances a manager asserts), after which nothing posts
inside it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from foundation.errors import AssertionFailed, FieldMessage, ValidationError
from identity.models import User
from identity.roles import require_manager
from ledger.books.models import Period
from ledger.books.posting import closed_through
from ledger.books.reading import balance, get_account
from ledger.money import format_money


def close_period(
    session: Session,
    *,
    actor: User,
    end_date: dt.date,
    assertions: dict[str, int] | None = None,
) -> Period:
    """Close the books through ``end_date`` after checking the given balance assertions.

    Assertions map account codes to their expected natural balance at ``end_date``. On
    PostgreSQL the entries table is locked in SHARE ROW EXCLUSIVE mode for the close, so
    no posting can slip in between the check and the close; postings lock it before they
    read the closed date, so any posting after the close sees it.
    """
    require_manager(actor)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE ledger_entries IN SHARE ROW EXCLUSIVE MODE"))
    through = closed_through(session)
    if through is not None and end_date <= through:
        raise ValidationError(
            f"The books are already closed through {through.isoformat()}.",
            fields={"end_date": [FieldMessage("already closed", "already_closed")]},
            reason="already_closed",
            params={"date": through.isoformat()},
        )
    failures = []
    for code, expected in sorted((assertions or {}).items()):
        account = get_account(session, code)
        actual = balance(session, code, end_date)
        if actual != expected:
            failures.append(
                FieldMessage(
                    f"{code}: expected {format_money(expected, account.currency)}, "
                    f"the ledger has {format_money(actual, account.currency)}",
                    "assertion_differs",
                    account=code,
                    expected=expected,
                    actual=actual,
                    currency=account.currency,
                )
            )
    if failures:
        raise AssertionFailed(
            "Balance assertions failed; the period stays open: " + "; ".join(failures),
            fields={"assertions": failures},
        )
    start = (through + dt.timedelta(days=1)) if through else dt.date(1900, 1, 1)
    period = Period(
        start_date=start,
        end_date=end_date,
        closed_by_id=actor.id,
        assertions="\n".join(f"{k}={v}" for k, v in sorted((assertions or {}).items())),
    )
    session.add(period)
    session.flush()
    return period
