"""Receipt numbers, given once per donation in the order the receipts are first issued.

A number is given the first time anyone needs it (the company's page lists its payments, a
receipt or a yearly statement is made): from then on the same donation always shows the same
number. Serials count from 1 in each year the money was received, without gaps.

Concurrency: two requests may issue receipts at once, for the same donation or for two
donations of the same year. The donations to number are locked first (``FOR UPDATE`` on
PostgreSQL, in id order so two issuers never deadlock) and read again for a number another
transaction gave while this one waited; the year's counter is then bumped by one UPDATE,
which PostgreSQL serialises on its row. SQLite has one writer at a time (every transaction
begins IMMEDIATE). The unique constraints are the last word if anything else goes wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.fund.models import Donation
from ledger.fund.receipt_models import ReceiptCounter, ReceiptNumber, format_receipt_number

__all__ = ["format_receipt_number", "issued_numbers", "receipt_numbers"]


def issued_numbers(session: Session, donation_ids: Iterable[int]) -> dict[int, str]:
    """The numbers already given to these donations (none is given here)."""
    ids = list(donation_ids)
    if not ids:
        return {}
    rows = session.scalars(select(ReceiptNumber).where(ReceiptNumber.donation_id.in_(ids)))
    return {r.donation_id: r.number for r in rows}


def receipt_numbers(session: Session, donation_ids: Iterable[int]) -> dict[int, str]:
    """Each donation's receipt number, giving one to any that has none yet (flush only).

    Several donations numbered together get their serials in the order they were received.
    """
    ids = sorted(set(donation_ids))
    numbers = issued_numbers(session, ids)
    missing = [i for i in ids if i not in numbers]
    if missing:
        numbers.update(_give(session, missing))
    return numbers


def _give(session: Session, donation_ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        select(Donation.id, Donation.received_on)
        .where(Donation.id.in_(donation_ids))
        .order_by(Donation.id)
        .with_for_update()
    ).all()
    # Another transaction may have numbered some while this one waited for the locks.
    given = issued_numbers(session, donation_ids)
    by_year: dict[int, list[int]] = defaultdict(list)
    for donation_id, received_on in sorted(rows, key=lambda r: (r.received_on, r.id)):
        if donation_id not in given:
            by_year[received_on.year].append(donation_id)
    for year, ids in sorted(by_year.items()):
        first = _take_serials(session, year, len(ids))
        for offset, donation_id in enumerate(ids):
            session.add(ReceiptNumber(donation_id=donation_id, year=year, serial=first + offset))
            given[donation_id] = format_receipt_number(year, first + offset)
    session.flush()
    return given


def _take_serials(session: Session, year: int, count: int) -> int:
    """Reserve ``count`` serials in ``year``: the first of them."""
    bump = (
        update(ReceiptCounter)
        .where(ReceiptCounter.year == year)
        .values(last_serial=ReceiptCounter.last_serial + count)
    )
    if session.execute(bump).rowcount == 0:
        # The year's first receipt. Two first receipts at once: one insert wins, the other
        # waits on the key and fails; the savepoint lets it bump the winner's row instead.
        try:
            with session.begin_nested():
                session.execute(insert(ReceiptCounter).values(year=year, last_serial=count))
            return 1
        except IntegrityError:
            session.execute(bump)
    last = session.scalar(select(ReceiptCounter.last_serial).where(ReceiptCounter.year == year))
    return last - count + 1
