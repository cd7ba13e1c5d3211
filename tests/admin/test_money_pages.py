"""The money rules in the console: what the figures mean, no over-commitment, revenue
reports corrected by reversal, overdue instalments followed up."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from foundation.reference import counties
from ledger.fund import common
from ledger.fund import pledges as fund_pledges
from ledger.fund.models import RevenueReport
from tests.admin.conftest import post_form


def _english(client):
    page = client.get("/transparency")
    from tests.admin.conftest import csrf_token

    client.post("/language", data={"csrf_token": csrf_token(page.text), "lang": "en"})


def test_dashboard_and_public_page_say_what_each_figure_means(console):
    for client, url in [
        (console.client("ndc"), "/console/dashboard"),
        (console.app.test_client(), "/transparency"),
    ]:
        page = client.get(url).text
        assert 'id="fig-received">NT$25,000<' in page
        assert 'id="fig-available">NT$18,000<' in page
        assert 'id="fig-pending">NT$7,000<' in page  # held for two proposals, not spent
        assert 'id="fig-paid">NT$0<' in page
        assert 'id="fig-pledged">NT$5,000<' in page
        assert re.search(r'id="fig-as-of">[^<]*\d{4}-\d{2}-\d{2} \d{2}:\d{2}', page)
        county_rows = re.search(r'<table id="areas-county">.*?</table>', page, re.S).group(0)
        assert county_rows.count("<tr>") == len(counties()) + 1  # every county, zero too
        assert "連江縣" in county_rows
        priority_rows = re.search(r'<table id="areas-priority">.*?</table>', page, re.S).group(0)
        assert priority_rows.count("<tr>") == 4
        assert "原鄉" in priority_rows
        assert "Fund balance" not in page and "基金餘額" not in page


def test_a_proposal_beyond_what_is_available_is_refused_on_the_form(console):
    ndc = console.client("ndc")
    page = ndc.get("/console/disbursements/new")
    assert re.search(r'<table id="available">.*NT\$18,000', page.text, re.S)
    data = {
        "project_id": str(console.ids["project_x"]),
        "kind": "grant",
        "amount": "50,000,000",
        "funding": "",
        "purpose": "太多",
    }
    refused = post_form(ndc, "/console/disbursements/new", "/console/disbursements/new", data)
    assert refused.status_code == 200
    assert "可動用金額不足" in refused.text and "NT$18,000" in refused.text
    assert 'id="amount-error"' in refused.text
    _english(ndc)
    refused = post_form(ndc, "/console/disbursements/new", "/console/disbursements/new", data)
    assert (
        "Not enough money available to commit from Unrestricted: NT$18,000 is available"
        in refused.text
    )


def _report(client, agreement_id, start, end, revenue):
    return post_form(
        client,
        "/console/business",
        f"/console/agreements/{agreement_id}/revenue",
        {"period_start": start, "period_end": end, "revenue": revenue},
    )


def test_revenue_reports_one_per_period_whole_dollars_and_corrected_by_reversal(console):
    biz = console.client("business_x")
    agreement = console.ids["agreement_x"]
    assert _report(biz, agreement, "2026-01-01", "2026-03-31", "600,000").status_code == 302
    again = _report(biz, agreement, "2026-02-01", "2026-04-30", "1,000")
    assert again.status_code == 422
    assert "已申報" in again.text and "2026-01-01" in again.text
    cents = _report(biz, agreement, "2026-04-01", "2026-06-30", "1000.50")
    assert cents.status_code == 422 and "整數" in cents.text
    backwards = _report(biz, agreement, "2026-09-30", "2026-07-01", "1,000")
    assert backwards.status_code == 422 and "結束日期早於開始日期" in backwards.text

    page = biz.get("/console/business").text
    link = re.search(r'href="(/console/revenue-reports/(\d+)/correct)"', page)
    url, report_id = link.group(1), int(link.group(2))
    no_reason = post_form(biz, url, url, {"revenue": "43,000", "reason": ""})
    assert no_reason.status_code == 422
    done = post_form(
        biz,
        url,
        url,
        {
            "revenue": "43,000",
            "reason": "多打了一個零",
            "period_start": "2026-01-01",
            "period_end": "2026-03-31",
        },
    )
    assert done.status_code == 302, done.text
    page = biz.get("/console/business").text
    assert "多打了一個零" in page and "已沖銷" in page
    assert console.client("business_y").get(url).status_code == 404
    with console.database.session() as s:
        reports = s.query(RevenueReport).order_by(RevenueReport.id).all()
        assert [(r.id == report_id, r.reversed_at is not None) for r in reports] == [
            (True, True),
            (False, False),
        ]
        assert reports[1].due_amount == 430_000


def test_overdue_instalments_flagged_counted_and_listed(console):
    with console.database.session() as s, s.begin():
        fund_pledges.record_pledge(
            s,
            key="late",
            company_id=console.ids["company_a"],
            amount=1_200_000,
            instalments=[(common.today() + dt.timedelta(days=d), 400_000) for d in (-60, -20, 10)],
            pledged_on=common.today() - dt.timedelta(days=75),
        )
    company = console.client("company_a").get("/console/company").text
    assert company.count('class="overdue"') == 2
    assert "已繳款" in company and "已撥款" not in company
    dashboard = console.client("ndc").get("/console/dashboard").text
    assert re.search(r'id="overdue-count"[^>]*>2<', dashboard)
    listing = console.client("ndc").get("/console/pledges/overdue")
    assert listing.status_code == 200
    assert listing.text.count("甲公司") == 2 and "NT$4,000" in listing.text
    assert re.search(r'<td class="num">60</td>', listing.text)
    assert console.client("company_a").get("/console/pledges/overdue").status_code == 403


@pytest.mark.parametrize("lang", ["zh_Hant_TW", "en"])
def test_the_reminder_list_is_made_now_and_shown_with_its_date(console, lang):
    from tests.job_helpers import run_jobs

    with console.database.session() as s, s.begin():
        fund_pledges.record_pledge(
            s,
            key="late",
            company_id=console.ids["company_a"],
            amount=800_000,
            instalments=[(common.today() + dt.timedelta(days=d), 400_000) for d in (-30, 30)],
            pledged_on=common.today() - dt.timedelta(days=40),
        )
    c = console.client("ndc")
    if lang == "en":
        _english(c)
    words = {
        "zh_Hant_TW": ("催繳名單", "尚未製作過名單。", "立即製作名單", "筆催繳"),
        "en": ("Reminder list", "No list has been made yet.", "Make the list now", "reminders"),
    }[lang]
    page = c.get("/console/pledges/overdue").text
    assert words[0] in page and words[1] in page and words[2] in page
    made = post_form(c, "/console/pledges/overdue", "/console/pledges/overdue/reminders")
    assert made.status_code == 303 and made.headers["Location"].endswith("#reminders")
    again = post_form(c, "/console/pledges/overdue", "/console/pledges/overdue/reminders")
    assert again.status_code == 303  # the same unfinished job, not a second one
    # While it is being made the page follows it: its script polls the job's status, or
    # without scripts the page refreshes itself
    waiting = c.get("/console/pledges/overdue").text
    follow = re.search(r'data-job data-status-url="([^"]+)" data-finished="false"', waiting)
    assert follow and "job-progress.js" in waiting
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in waiting
    assert c.get(follow.group(1)).get_json()["finished"] is False
    assert run_jobs(console.app) >= 1
    assert c.get(follow.group(1)).get_json()["finished"] is True
    page = c.get("/console/pledges/overdue").text
    assert 'http-equiv="refresh"' not in page and "data-job" not in page
    listed = re.search(r'<p id="reminders-date">([^<]*)', page).group(1)
    assert common.today().isoformat() in listed and words[3] in listed
    table = re.search(r'<table id="reminder-list">.*?</table>', page, re.S).group(0)
    assert "甲公司" in table  # it has no English name: its own
    assert "NT$4,000" in table and "mailto:" in table
    assert c.post("/console/pledges/overdue/reminders").status_code == 400  # no CSRF token
    forbidden = console.client("company_a").post("/console/pledges/overdue/reminders")
    assert forbidden.status_code in (400, 403)


def test_the_proposal_form_reads_the_projects_businesses_in_one_query(console):
    """Each project's choice names its business: read together, not one query per project
    (the national-scale form lists 500 projects)."""
    from sqlalchemy import event

    from tests import factories

    with console.database.session() as s, s.begin():
        for n in range(12):
            business = factories.organisation(s, "business", name=f"測試商號{n}")
            factories.project(s, business)
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    ndc = console.client("ndc")
    event.listen(console.database.engine, "before_cursor_execute", capture)
    try:
        page = ndc.get("/console/disbursements/new")
    finally:
        event.remove(console.database.engine, "before_cursor_execute", capture)
    assert page.status_code == 200
    for n in range(12):
        assert f"測試商號{n}" in page.text
    from_organisations = [s for s in statements if re.search(r"FROM organisations\b", s)]
    assert len(from_organisations) <= 3, from_organisations
