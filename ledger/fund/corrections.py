"""Corrections: reversing an entry, and adjustments with a reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from foundation.errors import (
    AlreadyReversed,
    FieldMessage,
    InvalidState,
    ValidationError,
)
from foundation.transactions import UnitOfWork
from identity.models import User
from identity.roles import require_manager
from ledger.books.legs import Leg
from ledger.books.models import Entry
from ledger.books.posting import find_by_key, post_entry
from ledger.fund.common import _get, _iso, today
from ledger.money import (
    DEFAULT_CURRENCY,
)


def reverse_entry(
    session: Session,
    *,
    key: str,
    entry_id: int,
    actor: User,
    reason: str,
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Entry:
    """Post the exact negation of an entry. An entry can be reversed only once."""
    require_manager(actor)
    original = _get(session, Entry, entry_id, "Entry")
    if original.reverses_entry_id is not None:
        raise InvalidState(
            "A reversing entry cannot itself be reversed; post a new entry instead.",
            reason="reversing_entry",
        )
    given_on, on = on, on or today()
    params = {"entry_id": entry_id, "reason": reason, "on": _iso(given_on)}
    existing = find_by_key(session, key, "reversal", params, uow)
    if existing is not None:
        return session.get(Entry, existing)
    if session.scalar(select(Entry.id).where(Entry.reverses_entry_id == entry_id)) is not None:
        raise AlreadyReversed(
            f"Entry {entry_id} has already been reversed.", params={"id": entry_id}
        )
    legs = [Leg(p.account.code, -p.amount, p.currency) for p in original.postings]
    try:
        posted = post_entry(
            session,
            operation="reversal",
            key=key,
            params=params,
            legs=legs,
            entry_date=on,
            memo=f"沖銷 分錄 {entry_id}: {reason}",
            reverses=entry_id,
            created_by=actor.id,
            uow=uow,
        )
    except IntegrityError as exc:
        # Two reversals raced; the unique reverses_entry_id let only one through.
        raise AlreadyReversed(
            f"Entry {entry_id} has already been reversed.", params={"id": entry_id}
        ) from exc
    return session.get(Entry, posted.entry_id)


def reverse_adjustment(
    session: Session,
    *,
    key: str,
    entry_id: int,
    actor: User,
    reason: str,
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Entry:
    """Reverse a manual adjustment (once only), with the reason on the record.

    Entries of other operations are corrected through their own operation (void the
    disbursement, refund the donation): reversing only their entry would leave the record
    behind it (the disbursement, the donation) saying something else than the books.
    """
    require_manager(actor)
    if not reason or not reason.strip():
        raise ValidationError(
            "A reversal needs a reason.",
            fields={"reason": [FieldMessage("required", "required")]},
            reason="say_why",
        )
    entry = _get(session, Entry, entry_id, "Entry")
    # A reversal itself gets reverse_entry's own refusal ("cannot itself be reversed")
    if entry.kind != "adjustment" and entry.reverses_entry_id is None:
        raise InvalidState(
            f"Entry {entry_id} records a {entry.kind.replace('_', ' ')}; correct it through "
            "that operation (only manual adjustments are reversed directly).",
            case="not_an_adjustment",
            id=entry_id,
            kind=entry.kind,
            params={"id": entry_id, "kind": entry.kind},
        )
    return reverse_entry(
        session, key=key, entry_id=entry_id, actor=actor, reason=reason, on=on, uow=uow
    )


@dataclass(frozen=True)
class AdjustmentLine:
    account: str
    amount: int
    currency: str = DEFAULT_CURRENCY


def record_adjustment(
    session: Session,
    *,
    key: str,
    actor: User,
    lines: Sequence[AdjustmentLine],
    reason: str,
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Entry:
    """A manual, balanced adjustment by a fund manager, with the reason on the record."""
    require_manager(actor)
    if not reason or not reason.strip():
        raise ValidationError(
            "An adjustment needs a reason.",
            fields={"reason": [FieldMessage("required", "required")]},
            reason="say_why",
        )
    given_on, on = on, on or today()
    params = {
        "lines": [(ln.account, ln.amount, ln.currency) for ln in lines],
        "reason": reason,
        "on": _iso(given_on),
    }
    posted = post_entry(
        session,
        operation="adjustment",
        key=key,
        params=params,
        legs=[Leg(ln.account, ln.amount, ln.currency) for ln in lines],
        entry_date=on,
        memo=f"調整: {reason}",
        created_by=actor.id,
        uow=uow,
    )
    return session.get(Entry, posted.entry_id)
