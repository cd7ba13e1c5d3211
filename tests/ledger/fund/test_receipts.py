"""Receipt numbers: counted from 1 within each year, given once, never twice."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ledger.fund import donations as fund_donations
from ledger.fund.receipt_models import ReceiptNumber
from ledger.fund.receipts import issued_numbers, receipt_numbers
from tests import factories


def _donations(session, days: list[dt.date]) -> list[int]:
    company = factories.organisation(session, "company")
    return [
        fund_donations.record_donation(
            session,
            key=f"receipt-test:{company.id}:{n}",
            channel="bank_transfer",
            amount=100_000,
            company_id=company.id,
            received_on=day,
        ).id
        for n, day in enumerate(days)
    ]


def test_numbers_count_from_one_in_each_year_in_the_order_received(session):
    with session.begin():
        late_2025, early_2026, early_2025, late_2026 = _donations(
            session,
            [
                dt.date(2025, 12, 30),
                dt.date(2026, 1, 2),
                dt.date(2025, 3, 1),
                dt.date(2026, 11, 26),
            ],
        )
        assert issued_numbers(session, [late_2025]) == {}  # none given by merely asking
        numbers = receipt_numbers(session, [late_2025, early_2026, early_2025, late_2026])
    assert numbers == {
        early_2025: "PF-2025-000001",
        late_2025: "PF-2025-000002",
        early_2026: "PF-2026-000001",
        late_2026: "PF-2026-000002",
    }


def test_a_number_is_given_once_and_later_ones_follow_on(session):
    with session.begin():
        first, second = _donations(session, [dt.date(2026, 5, 1), dt.date(2026, 4, 1)])
        # The later donation's receipt is issued first: it keeps the number it got then
        assert receipt_numbers(session, [first]) == {first: "PF-2026-000001"}
    with session.begin():
        assert receipt_numbers(session, [first, second]) == {
            first: "PF-2026-000001",
            second: "PF-2026-000002",
        }
        assert receipt_numbers(session, [second, first]) == {
            first: "PF-2026-000001",
            second: "PF-2026-000002",
        }
        (third,) = _donations(session, [dt.date(2026, 1, 1)])
        assert receipt_numbers(session, [third]) == {third: "PF-2026-000003"}
        assert (
            session.scalar(select(ReceiptNumber.serial).where(ReceiptNumber.donation_id == first))
            == 1
        )


def test_the_database_refuses_a_second_number_or_a_serial_used_twice(session):
    with session.begin():
        a, b = _donations(session, [dt.date(2026, 2, 1), dt.date(2026, 2, 2)])
        receipt_numbers(session, [a])
    with pytest.raises(IntegrityError), session.begin():
        session.add(ReceiptNumber(donation_id=b, year=2026, serial=1))
        session.flush()
    with pytest.raises(IntegrityError), session.begin():
        session.add(ReceiptNumber(donation_id=a, year=2026, serial=7))
        session.flush()


@pytest.mark.postgres
def test_receipts_issued_at_once_on_postgres_get_distinct_gapless_numbers(pg):
    """Twelve issuers race, over the same donations in different orders and over new years'
    first receipts: every donation ends with one number, and each year's serials are 1..n."""
    with pg.session() as s, s.begin():
        ids = _donations(s, [dt.date(2026, 1, 1 + n % 28) for n in range(20)])
        ids += _donations(s, [dt.date(2027, 6, 1 + n) for n in range(10)])
    barrier = threading.Barrier(12)
    seen: list[dict[int, str]] = []
    errors: list[BaseException] = []

    def issue(n: int) -> None:
        mine = ids[n % 3 :: 2] if n % 2 else list(reversed(ids))[: 15 + n]
        try:
            barrier.wait(timeout=30)
            with pg.session() as s, s.begin():
                seen.append(receipt_numbers(s, mine))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=issue, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with pg.session() as s:
        final = {r.donation_id: (r.year, r.serial) for r in s.scalars(select(ReceiptNumber))}
    assert set(final) == set(ids)
    for year, count in ((2026, 20), (2027, 10)):
        serials = sorted(serial for y, serial in final.values() if y == year)
        assert serials == list(range(1, count + 1)), year
    # Everyone saw the numbers that stayed
    for numbers in seen:
        for donation_id, number in numbers.items():
            year, serial = final[donation_id]
            assert number == f"PF-{year}-{serial:06d}"
