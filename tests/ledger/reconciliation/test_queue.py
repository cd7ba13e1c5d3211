"""The reconciliation queue at scale: counts, filters, keyset pages newest first, ledger
items in words, the search for a manual match, and confirms whose amounts differ."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from foundation.errors import InvalidState, ValidationError
from identity.models import User
from ledger.fund.models import Donation, Pledge
from ledger.reconciliation import queue, runs
from ledger.reconciliation.models import StatementLine
from tests.api.conftest import build_world
from tests.factories import tx

START = dt.date(2026, 1, 1)


def statement(rows) -> bytes:
    """A generic-layout CSV from (date, memo, amount in NT$) rows."""
    lines = ["date,description,amount,balance,counterparty"]
    lines += [f'{d.isoformat()},{memo},"{amount:,}",,' for d, memo, amount in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def world(session):
    with tx(session):
        _tokens, ids = build_world(session)
    return ids


def import_lines(session, n: int, *, per_day: int = 3) -> list[int]:
    """``n`` unmatched lines, a few a day, amounts 101..; their ids oldest first."""
    rows = [(START + dt.timedelta(days=i // per_day), f"line {i}", 101 + i) for i in range(n)]
    with tx(session):
        report = runs.import_bank_statement(session, statement(rows), mapping="generic")
    return list(
        session.scalars(
            select(StatementLine.id)
            .where(StatementLine.import_id == report.import_id)
            .order_by(StatementLine.date, StatementLine.id)
        )
    )


def test_pages_walk_every_line_newest_first_with_the_total(session, world):
    ids = import_lines(session, 260)
    newest_first = list(reversed(ids))
    f = queue.LineFilter()
    seen, positions = [], []
    page = queue.page_of_lines(session, f, size=50)
    while True:
        assert page.total == 260
        positions.append((page.first, page.last))
        seen += [item.line.id for item in page.items]
        if page.older is None:
            break
        page = queue.page_of_lines(session, f, size=50, after=queue.decode_cursor(page.older))
    assert seen == newest_first  # every line once, newest first (not the oldest 200)
    assert positions[0] == (1, 50) and positions[-1] == (251, 260)
    # And back towards the newest from the last page
    back = queue.page_of_lines(session, f, size=50, before=queue.decode_cursor(page.newer))
    assert [i.line.id for i in back.items] == newest_first[200:250]
    assert (back.first, back.last) == (201, 250)
    assert back.older and back.newer


def test_a_page_newer_than_the_second_is_the_first(session, world):
    ids = import_lines(session, 30)
    f = queue.LineFilter()
    second = queue.page_of_lines(session, f, size=25, after=(dt.date(2026, 1, 5), ids[14]))
    first = queue.page_of_lines(session, f, size=25, before=queue.decode_cursor(second.newer))
    assert first.offset == 0 and first.newer is None
    assert [i.line.id for i in first.items] == list(reversed(ids))[:25]


def test_filters_and_counts(session, world):
    ids = import_lines(session, 30)
    with tx(session):
        runs.ignore_line(session, line_id=ids[0], reason="利息")
        runs.ignore_line(session, line_id=ids[1], reason="利息")
    counts = queue.counts(session, queue.LineFilter())
    assert counts["ignored"] == 2 and counts["unmatched"] == 28
    assert counts["open"] == 28 and counts["all"] == 30
    # Date range: three lines a day, days 2..3 of January
    f = queue.LineFilter(start=dt.date(2026, 1, 2), end=dt.date(2026, 1, 3), status="all")
    assert queue.count(session, f) == 6
    # Amount: NT$110 to NT$112 is lines 9..11 (minor units, as the domain counts)
    f = queue.LineFilter(amount_min=11_000, amount_max=11_200)
    assert [i.line.memo for i in queue.page_of_lines(session, f, size=25).items] == [
        "line 11",
        "line 10",
        "line 9",
    ]
    assert queue.count(session, queue.LineFilter(status="ignored")) == 2
    assert queue.count(session, queue.LineFilter(source="stripe", status="all")) == 0
    assert queue.counts(session, queue.LineFilter(source="stripe"))["all"] == 0


def test_an_outgoing_line_is_found_by_its_size(session, world):
    with tx(session):
        runs.import_bank_statement(
            session, statement([(START, "手續費", -30), (START, "匯入", 30_000)]), mapping="generic"
        )
    page = queue.page_of_lines(session, queue.LineFilter(amount_max=3_000), size=25)
    assert [i.line.amount for i in page.items] == [-3_000]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "pending"},
        {"source": "paypal"},
        {"start": dt.date(2026, 2, 1), "end": dt.date(2026, 1, 1)},
        {"amount_min": 500, "amount_max": 100},
        {"amount_min": -1},
    ],
)
def test_a_wrong_filter_is_refused(kwargs):
    with pytest.raises(ValidationError):
        queue.LineFilter(**kwargs)


@pytest.mark.parametrize("cursor", ["x", "2026-13-01.4", "2026-01-01", "2026-01-01.-1"])
def test_a_mangled_cursor_is_a_validation_error(cursor):
    with pytest.raises(ValidationError):
        queue.decode_cursor(cursor)


def test_search_finds_items_by_name_amount_virtual_account_and_reference(session, world):
    pledge_a = session.get(Pledge, world["pledge_a"])
    by_name = {i.ref for i in queue.search_items(session, "甲公司")}
    assert {f"pledge:{world['pledge_a']}", f"donation:{world['donation_a']}"} <= by_name
    assert f"pledge:{world['pledge_b']}" not in by_name
    by_amount = {i.ref for i in queue.search_items(session, "NT$5,000")}
    assert f"donation:{world['donation_a']}" in by_amount
    by_va = queue.search_items(session, pledge_a.virtual_account[-6:])
    assert f"pledge:{world['pledge_a']}" in {i.ref for i in by_va}
    assert queue.search_items(session, "沒有這家公司") == []
    assert queue.search_items(session, "  ") == []
    # A pledge shows what is still due: NT$10,000 pledged, NT$5,000 paid
    (pledge,) = [i for i in by_va if i.kind == "pledge"]
    assert pledge.amount == 500_000 and pledge.party == "甲公司"


def test_search_says_when_another_line_holds_the_item(session, world):
    donation = session.get(Donation, world["donation_a"])
    with tx(session):
        report = runs.import_bank_statement(
            session, statement([(donation.received_on, "甲公司 匯款", 5_000)]), mapping="generic"
        )
        runs.run_bank(session, import_id=report.import_id)
    (item,) = [i for i in queue.search_items(session, "甲公司") if i.kind == "donation"]
    assert item.taken


def test_describe_puts_items_in_words(session, world):
    refs = [f"donation:{world['donation_a']}", f"pledge:{world['pledge_b']}", "donation:999999"]
    items = queue.describe(session, refs)
    assert set(items) == set(refs[:2])  # an unknown item is left out, not an error
    donation = items[refs[0]]
    assert (donation.kind, donation.party, donation.amount) == ("donation", "甲公司", 500_000)
    assert items[refs[1]].amount == 0  # pledge B is paid in full


def _line_of(session, amount: int) -> int:
    with tx(session):
        report = runs.import_bank_statement(
            session, statement([(START, "甲公司 匯款", amount)]), mapping="generic"
        )
    return session.scalars(
        select(StatementLine.id).where(StatementLine.import_id == report.import_id)
    ).one()


def test_confirming_items_whose_amounts_differ_needs_a_reason(session, world):
    line_id = _line_of(session, 4_970)  # NT$30 taken by the bank in transit
    manager = session.get(User, world["user_ndc"])
    target = [f"donation:{world['donation_a']}"]
    with tx(session), pytest.raises(ValidationError) as refused:
        runs.confirm_line(session, line_id=line_id, targets=target, actor=manager)
    assert refused.value.extra == {"case": "amounts_differ", "difference": "-NT$30"}
    assert "reason" in refused.value.fields
    assert session.get(StatementLine, line_id).status == "unmatched"
    with tx(session):
        line = runs.confirm_line(
            session, line_id=line_id, targets=target, reason="匯費 30 元", actor=manager
        )
    assert (line.status, line.reason, line.matched_to) == ("confirmed", "匯費 30 元", target[0])


def test_equal_amounts_and_pledges_need_no_reason(session, world):
    manager = session.get(User, world["user_ndc"])
    equal = _line_of(session, 5_000)
    with tx(session):
        runs.confirm_line(
            session, line_id=equal, targets=[f"donation:{world['donation_a']}"], actor=manager
        )
    part = _line_of(session, 1_000)  # a part payment of pledge A records its donation
    with tx(session):
        line = runs.confirm_line(
            session, line_id=part, targets=[f"pledge:{world['pledge_a']}"], actor=manager
        )
    assert line.status == "confirmed" and line.matched_to.startswith("donation:")


def test_run_findings_come_in_pages_with_counts(session, world):
    import_lines(session, 12)
    with tx(session):
        run = runs.run_bank(session)
    first = queue.run_findings(session, run.id, size=5)
    assert first.counts["unmatched_line"] == 12
    assert len(first.items) == 5 and first.next_after is not None
    assert all(f.line is not None for f in first.items)
    rest = queue.run_findings(session, run.id, after=first.next_after, size=100)
    lines = {f.line.id for f in first.items + rest.items if f.line}
    assert len(lines) == 12
    only = queue.run_findings(session, run.id, outcome="unmatched_item")
    assert {f.result.outcome for f in only.items} <= {"unmatched_item"}


@pytest.mark.postgres
def test_pages_counts_and_search_on_postgresql(pg):
    """The same keyset (row comparison), partial-index filter and ILIKE search on
    PostgreSQL."""
    with pg.session() as s:
        with tx(s):
            _tokens, ids = build_world(s)
        line_ids = import_lines(s, 70)
        f = queue.LineFilter(start=START)
        seen = []
        page = queue.page_of_lines(s, f, size=25)
        while True:
            seen += [i.line.id for i in page.items]
            if page.older is None:
                break
            page = queue.page_of_lines(s, f, size=25, after=queue.decode_cursor(page.older))
        assert seen == list(reversed(line_ids)) and page.total == 70
        back = queue.page_of_lines(s, f, size=25, before=queue.decode_cursor(page.newer))
        assert (back.first, back.last) == (26, 50)
        assert queue.counts(s, queue.LineFilter(amount_min=10_100, amount_max=10_200))["open"] == 2
        found = {i.ref for i in queue.search_items(s, "甲公")}
        assert f"pledge:{ids['pledge_a']}" in found


def test_a_confirmed_line_is_not_matched_again_by_a_stale_choice(session, world):
    """Two managers confirm different suggestions for one line (or one tab was opened before
    the other confirmed): the first stands; the second is refused, and the same choice again
    (a double click, a pledge already paid by the line) changes nothing."""
    manager = session.get(User, world["user_ndc"])
    line_id = _line_of(session, 5_000)
    first = [f"donation:{world['donation_a']}"]
    with tx(session):
        runs.confirm_line(session, line_id=line_id, targets=first, actor=manager)
    for other in ([f"donation:{world['donation_b']}"], [f"pledge:{world['pledge_b']}"]):
        with tx(session), pytest.raises(InvalidState) as refused:
            runs.confirm_line(session, line_id=line_id, targets=other, actor=manager)
        assert refused.value.reason == "line_confirmed"
    assert session.get(StatementLine, line_id).matched_to == first[0]
    donations = session.scalar(select(func.count()).select_from(Donation))
    with tx(session):
        again = runs.confirm_line(session, line_id=line_id, targets=first, actor=manager)
        runs.confirm_line(session, line_id=line_id, actor=manager)
    assert (again.status, again.matched_to) == ("confirmed", first[0])
    assert session.scalar(select(func.count()).select_from(Donation)) == donations

    paying = _line_of(session, 1_000)  # a part payment of pledge A, confirmed twice
    other = [f"pledge:{world['pledge_a']}"]
    with tx(session):
        paid = runs.confirm_line(session, line_id=paying, targets=other, actor=manager).matched_to
        twice = runs.confirm_line(session, line_id=paying, targets=other, actor=manager)
    assert twice.matched_to == paid and paid.startswith("donation:")
    assert session.scalar(select(func.count()).select_from(Donation)) == donations + 1
