"""The console's reconciliation queue after a large import: counts, filters, pages newest
first, a line matched by hand, a differing confirm with its reason, and run pages in words."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from ledger.fund.models import Donation, Pledge
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.models import StatementLine
from tests.admin.conftest import csrf_token, post_form

START = dt.date(2026, 1, 1)
ROW = re.compile(r'<tr id="line-(\d+)" class="line">')


def statement(rows, *, balances: bool = False) -> bytes:
    """A generic-layout CSV from (date, memo, NT$ amount[, NT$ balance]) rows."""
    lines = ["date,description,amount,balance,counterparty"]
    for row in rows:
        d, memo, amount = row[:3]
        balance = f'"{row[3]:,}"' if balances else ""
        lines.append(f'{d.isoformat()},{memo},"{amount:,}",{balance},')
    return ("\n".join(lines) + "\n").encode()


def import_lines(database, n: int) -> list[int]:
    """``n`` unmatched lines, three a day from 2026-01-01, NT$101 up; ids oldest first."""
    rows = [(START + dt.timedelta(days=i // 3), f"line-{i}", 101 + i) for i in range(n)]
    with database.session() as s, s.begin():
        report = reconciliation_runs.import_bank_statement(s, statement(rows), mapping="generic")
        return list(
            s.scalars(
                select(StatementLine.id)
                .where(StatementLine.import_id == report.import_id)
                .order_by(StatementLine.date, StatementLine.id)
            )
        )


def rows(html: str) -> list[int]:
    return [int(x) for x in ROW.findall(html)]


def visible(html: str) -> str:
    """The page's text as a reader sees it (no tags, no attribute values)."""
    body = html.split("<main", 1)[-1]
    return re.sub(r"<[^>]+>", " ", body)


def test_after_a_big_import_the_newest_lines_come_first_with_counts_and_pages(console):
    ids = import_lines(console.database, 260)
    c = console.client("ndc")
    page = c.get("/console/reconciliation")
    assert page.status_code == 200
    assert rows(page.text) == list(reversed(ids))[:50]  # newest first, not the oldest 200
    text = visible(page.text)
    assert "1–50" in text and "260" in text
    assert re.search(r'id="count-open"[^>]*>[^<]*<span class="n">260</span>', page.text)
    # Walk the older pages to the oldest line
    seen = rows(page.text)
    while (older := re.search(r'id="page-older" href="([^"]+)"', page.text)) is not None:
        page = c.get(older.group(1).replace("&amp;", "&"))
        assert page.status_code == 200
        seen += rows(page.text)
    assert seen == list(reversed(ids))
    assert "251–260" in visible(page.text)
    newer = re.search(r'id="page-newer" href="([^"]+)"', page.text).group(1)
    back = c.get(newer.replace("&amp;", "&"))
    assert rows(back.text) == list(reversed(ids))[200:250]


def test_filters_narrow_the_queue_and_keep_through_pages(console):
    ids = import_lines(console.database, 60)
    c = console.client("moea")
    page = c.get(
        "/console/reconciliation",
        query_string={"start": "2026-01-02", "end": "2026-01-03", "size": "25"},
    )
    assert rows(page.text) == list(reversed(ids[3:9]))
    page = c.get(
        "/console/reconciliation", query_string={"amount_min": "110", "amount_max": "NT$112"}
    )
    assert rows(page.text) == [ids[11], ids[10], ids[9]]
    page = c.get("/console/reconciliation", query_string={"source": "stripe"})
    assert rows(page.text) == [] and "沒有符合條件的明細" in page.text
    page = c.get("/console/reconciliation", query_string={"size": "25", "amount_min": "101"})
    older = re.search(r'id="page-older" href="([^"]+)"', page.text).group(1)
    assert "amount_min=101" in older and "size=25" in older


@pytest.mark.parametrize(
    ("args", "field", "shown"),
    [
        ({"amount_min": "abc"}, "amount_min", 3),
        ({"amount_min": "1000.5"}, "amount_min", 3),
        ({"start": "2026-13-45"}, "start", 3),
        # The valid half still applies: NT$102 and up; from 2026-01-01
        ({"amount_min": "102", "amount_max": "101"}, "amount_max", 2),
        ({"start": "2026-01-01", "end": "2025-12-01"}, "end", 3),
    ],
)
def test_a_wrong_filter_is_shown_next_to_its_field(console, args, field, shown):
    import_lines(console.database, 3)
    page = console.client("ndc").get("/console/reconciliation", query_string=args)
    assert page.status_code == 422
    assert f'id="{field}-error"' in page.text
    assert len(rows(page.text)) == shown


def test_a_mangled_page_position_shows_the_first_page(console):
    ids = import_lines(console.database, 3)
    page = console.client("ndc").get("/console/reconciliation", query_string={"after": "x.1"})
    assert page.status_code == 200
    assert rows(page.text) == list(reversed(ids))
    assert "That page no longer exists" in page.text or "該頁已不存在" in page.text


def test_a_line_is_searched_and_matched_by_hand_with_a_reason_for_the_difference(console):
    with console.database.session() as s, s.begin():
        report = reconciliation_runs.import_bank_statement(
            s, statement([(START, "ATM 轉入", 4_970)]), mapping="generic"
        )
        line_id = s.scalars(
            select(StatementLine.id).where(StatementLine.import_id == report.import_id)
        ).one()
    c = console.client("ndc")
    url = f"/console/reconciliation/lines/{line_id}"
    page = c.get(url, query_string={"q": "甲公司"})
    assert page.status_code == 200
    text = visible(page.text)
    assert "NT$4,970" in text and "甲公司" in text
    assert "donation:" not in text and "pledge:" not in text  # ids only in form values
    # The donation of NT$5,000 differs by NT$30: the form says so and asks why
    target = f"donation:{console.ids['donation_a']}"
    assert "-NT$30" in text
    refused = c.post(
        f"{url}/confirm",
        data={
            "csrf_token": csrf_token(page.text),
            "targets": target,
            "back": "line",
            "q": "甲公司",
        },
    )
    assert refused.status_code == 422
    assert re.search(r'id="reason-choice-\d+-error"', refused.text)
    assert "-NT$30" in visible(refused.text)
    with console.database.session() as s:
        assert s.get(StatementLine, line_id).status == "unmatched"
    done = c.post(
        f"{url}/confirm",
        data={
            "csrf_token": csrf_token(page.text),
            "targets": target,
            "reason": "匯費 30 元由銀行扣除",
            "back": "line",
        },
    )
    assert done.status_code == 302
    with console.database.session() as s:
        line = s.get(StatementLine, line_id)
        assert (line.status, line.matched_to, line.reason) == (
            "confirmed",
            target,
            "匯費 30 元由銀行扣除",
        )
    queue = c.get("/console/reconciliation")
    assert f'id="decided-{line_id}"' in queue.text
    assert "匯費 30 元由銀行扣除" in queue.text


def test_a_line_can_pay_a_pledge_found_by_its_virtual_account(console):
    with console.database.session() as s, s.begin():
        va = s.get(Pledge, console.ids["pledge_a"]).virtual_account
        report = reconciliation_runs.import_bank_statement(
            s, statement([(START, "無摘要", 2_000)]), mapping="generic"
        )
        line_id = s.scalars(
            select(StatementLine.id).where(StatementLine.import_id == report.import_id)
        ).one()
    c = console.client("ndc")
    url = f"/console/reconciliation/lines/{line_id}"
    page = c.get(url, query_string={"q": va[-5:]})
    assert va in visible(page.text)
    done = post_form(
        c,
        f"{url}?q={va[-5:]}",
        f"{url}/confirm",
        {"targets": f"pledge:{console.ids['pledge_a']}", "back": "line"},
    )
    assert done.status_code == 302
    with console.database.session() as s:
        line = s.get(StatementLine, line_id)
        donation = s.get(Donation, int(line.matched_to.split(":")[1]))
        assert line.status == "confirmed" and donation.gross_amount == 200_000


def test_the_queue_asks_a_reason_when_a_suggestion_differs(console):
    """A suggestion confirmed from the queue without its reason is refused with the
    difference in NT$, and changes nothing."""
    with console.database.session() as s, s.begin():
        donation = s.get(Donation, console.ids["donation_a"])
        report = reconciliation_runs.import_bank_statement(
            s, statement([(donation.received_on, "甲公司 匯款", 4_970)]), mapping="generic"
        )
        reconciliation_runs.run_bank(
            s,
            import_id=report.import_id,
            config=reconciliation_runs.ReconcileConfig(amount_tolerance=5_000),
        )
        line = s.scalars(
            select(StatementLine).where(StatementLine.import_id == report.import_id)
        ).one()
        line_id, status = line.id, line.status
    assert status == "matched"
    c = console.client("ndc")
    page = c.get("/console/reconciliation")
    assert f'id="reason-confirm-{line_id}"' in page.text
    refused = post_form(
        c, "/console/reconciliation", f"/console/reconciliation/lines/{line_id}/confirm"
    )
    assert refused.status_code == 302
    after = c.get("/console/reconciliation")
    assert "-NT$30" in visible(after.text)
    with console.database.session() as s:
        assert s.get(StatementLine, line_id).status == "matched"
    done = post_form(
        c,
        "/console/reconciliation",
        f"/console/reconciliation/lines/{line_id}/confirm",
        {"reason": "銀行扣匯費"},
    )
    assert done.status_code == 302
    with console.database.session() as s:
        assert s.get(StatementLine, line_id).status == "confirmed"


RAW = re.compile(
    r"\b(?:donation|pledge|stripe_payout|disbursement|revenue_return|entry|payout):\d+"
    r"|\bunmatched_(?:line|item)\b|\bmissing_in_\w+|\bamount_date\b|\bvirtual_account\b"
    r"|\bone_to_many\b|\bcompany:\d+|\br\d+/o\d+"
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_run_page_speaks_words_and_warns_of_a_closing_balance_that_differs(console, lang):
    with console.database.session() as s, s.begin():
        donation = s.get(Donation, console.ids["donation_a"])
        data = statement(
            [
                (donation.received_on, "甲公司 匯款", 5_000, 105_000),
                (donation.received_on, "不明匯入", 1_234, 106_234),
            ],
            balances=True,
        )
        report = reconciliation_runs.import_bank_statement(s, data, mapping="generic")
        run = reconciliation_runs.run_bank(s, import_id=report.import_id)
        run_id, stated, ledger = run.id, run.stated_closing, run.ledger_closing
    assert stated == 10_623_400 and ledger != stated
    c = console.client("ndc")
    if lang == "en":
        switched = post_form(c, "/console/reconciliation", "/language", {"lang": "en"})
        assert switched.status_code in (302, 303)
    page = c.get(f"/console/reconciliation/runs/{run_id}")
    assert page.status_code == 200
    text = visible(page.text)
    assert 'id="closing-warning"' in page.text
    assert "NT$106,234" in text
    assert RAW.search(text) is None, RAW.search(text)
    assert "10623400" not in text and "500000" not in text  # never minor units
    if lang == "en":
        assert "does not agree with the ledger" in text and "甲公司" in text
    else:
        assert "甲公司" in text


def test_no_warning_when_the_closing_balance_agrees(console):
    with console.database.session() as s, s.begin():
        report = reconciliation_runs.import_bank_statement(
            s, statement([(START, "利息", 12, 12)], balances=True), mapping="generic"
        )
        run = reconciliation_runs.run_bank(s, import_id=report.import_id)
        run.ledger_closing = run.stated_closing  # as if the ledger agreed
        run_id = run.id
    page = console.client("ndc").get(f"/console/reconciliation/runs/{run_id}")
    assert 'id="closing-warning"' not in page.text


def test_the_queue_and_line_pages_are_for_managers_only(console):
    (line_id,) = import_lines(console.database, 1)
    company = console.client("company_a")
    for url in ("/console/reconciliation", f"/console/reconciliation/lines/{line_id}"):
        assert company.get(url).status_code == 403
    assert console.client("ndc").get("/console/reconciliation/lines/999999").status_code == 404


def test_a_decision_returns_to_the_filtered_page_it_was_taken_on(console):
    ids = import_lines(console.database, 60)
    c = console.client("ndc")
    url = "/console/reconciliation?amount_min=150&size=25"
    page = c.get(url)
    line_id = rows(page.text)[0]
    assert line_id == ids[-1]
    next_path = html.unescape(
        re.search(
            rf'action="/console/reconciliation/lines/{line_id}/ignore"[^>]*>\s*'
            r'<input[^>]*name="csrf_token"[^>]*>\s*'
            r'<input type="hidden" name="next" value="([^"]+)"',
            page.text,
        ).group(1)
    )
    done = c.post(
        f"/console/reconciliation/lines/{line_id}/ignore",
        data={"csrf_token": csrf_token(page.text), "reason": "利息", "next": next_path},
    )
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"amount_min=150&size=25#line-{line_id}")
    # Somewhere else than the queue is not a place to go back to
    other = c.post(
        f"/console/reconciliation/lines/{ids[-2]}/ignore",
        data={"csrf_token": csrf_token(page.text), "reason": "利息", "next": "//evil.example"},
    )
    assert other.headers["Location"].endswith(f"/console/reconciliation#line-{ids[-2]}")
