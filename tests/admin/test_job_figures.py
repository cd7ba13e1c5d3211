"""A finished job's outcome on its console page (``/console/jobs/<id>``): every kind names
its figures in words, in Traditional Chinese and in English, writes them as a reader would
(12,345; NT$1,500; Taiwan time; yes or no; a state in words) and shows no key or code of
its result. The Stripe kinds keep their figures nested (``sync``, ``event``); they are
shown too. Some results come from the kinds themselves (seal, the overdue reminders, a
sync without Stripe configured), the others are written as their kinds write them."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from admin import job_figures
from jobs import records
from jobs.models import Job
from jobs.registry import KINDS
from tests.admin.conftest import post_form
from tests.job_helpers import run_jobs

# 2026-12-05 02:00 UTC, 10:00 in Taiwan
SINCE = int(dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC).timestamp())

RESULTS = {
    "stripe_event": {
        "event": {
            "event_id": "evt_1QxYz",
            "applied_now": True,
            "status": "needs_attention",
            "detail": "The pledge is fully paid.",
        }
    },
    "stripe_sync": {
        "sync": {
            "cursor": SINCE + 600,
            "since": SINCE,
            "events_seen": 1234,
            "events_applied": 1200,
            "events_ignored": 20,
            "duplicates": 12,
            "needs_attention": 2,
            "transactions_seen": 56789,
            "objects_applied": 3,
            "problems": ["evt_1 (charge.refunded): not found", "txn_2: refused"],
            # The same refusals as their message codes: shown in words, with Stripe's id
            "refusals": [
                {"stripe_id": "evt_1", "message_code": "not_found", "params": {}},
                {"stripe_id": "txn_2", "message_code": "no_such_code", "params": {"x": 1}},
                # As the sync keeps a payout before the charges it settles
                {
                    "stripe_id": "evt_3",
                    "message_code": "insufficient_funds.not_enough",
                    "params": {
                        "account": "assets:stripe:clearing:USD",
                        "held": 0,
                        "needed": 5966,
                        "currency": "USD",
                    },
                },
            ],
        }
    },
    "stripe_import": {"import_id": 7, "lines_read": 25000, "lines_new": 24990, "duplicates": 10},
    "match_run": {"match_run_id": 31, "proposals": 1500},
    "bank_import": {
        "import_id": 41,
        "run_id": 42,
        "lines_read": 100000,
        "lines_new": 99000,
        "duplicates": 1000,
        "matched": 5,
        "suggested": 6,
        "unmatched": 98989,
        "donations_recorded": 4,
        "bad_line_count": 1,
        "bad_lines": [{"line": 3, "field": "date", "message": "bad", "message_zh": "壞"}],
    },
    "yearly_statements": {
        "companies": 10000,
        "rendered": 9000,
        "already_current": 1000,
        "numbered": 123456,
    },
    "company_statement": {"rendered": 1, "already_current": 0},
    "overdue_reminders": {
        "date": "2026-12-05",
        "count": 3,
        "amounts": {"TWD": 150000},
        "reminders": [{"company_id": 1}, {"company_id": 1}, {"company_id": 2}],
    },
    "seal": {"sealed": 1234},
}

#: What each page shows: (zh words, en words, value) per figure, in the page's order
SHOWN = {
    "stripe_event": [
        ("Stripe 通知", "Stripe notification", "evt_1QxYz"),
        ("通知狀態", "Notification status", ("需要處理", "Needs attention")),
        ("由這次工作入帳", "Applied by this job", ("是", "Yes")),
    ],
    "stripe_sync": [
        ("讀取起點", "Read from", "2026-12-05 10:00"),
        ("讀取的 Stripe 通知", "Stripe notifications read", "1,234"),
        ("已入帳的通知", "Notifications applied", "1,200"),
        ("無須記錄的通知", "Notifications with nothing to record", "20"),
        ("先前已入帳的通知", "Notifications applied before", "12"),
        ("需要處理的通知", "Notifications needing attention", "2"),
        ("讀取的餘額交易", "Balance transactions read", "56,789"),
        ("記錄的付款、退款與撥款", "Payments, refunds and payouts recorded", "3"),
        ("問題", "Problems", "2"),
        (
            "問題",
            "Problem",
            (
                "evt_1: 此項目不存在，或您無權檢視。",
                "evt_1: This item does not exist, or you may not see it.",
            ),
        ),
        (
            "問題",
            "Problem",
            ("txn_2: 無法完成此要求。", "txn_2: The request could not be carried out."),
        ),
        (
            "問題",
            "Problem",
            (
                "evt_3: Stripe 待清算（USD） 餘額不足：現有 US$0.00，本筆需要 US$59.66。",
                "evt_3: Not enough money in Stripe balance (USD): it holds US$0.00 and this "
                "needs US$59.66.",
            ),
        ),
    ],
    "stripe_import": [
        ("讀取的餘額交易", "Balance transactions read", "25,000"),
        ("新增筆數", "New lines", "24,990"),
        ("先前已匯入", "Already imported", "10"),
        ("對帳單匯入編號", "Statement import no.", "7"),
    ],
    "match_run": [
        ("提案", "Proposals", "1,500"),
        ("媒合編號", "Matching run no.", "31"),
    ],
    "overdue_reminders": [
        ("名單日期", "Date of the list", "2026-12-05"),
        ("應催繳的分期款", "Instalments to remind", "3"),
        ("應提醒的企業", "Companies to remind", "2"),
        ("未繳金額", "Unpaid", "NT$1,500"),
    ],
    "seal": [("封存的分錄", "Entries sealed", "1,234")],
}

#: The keys and codes of the results above, none of which a reader should meet
CODES = re.compile(
    r"\b(event_id|applied_now|needs_attention|events_\w+|objects_applied|transactions_seen|"
    r"cursor|since|problems|import_id|run_id|lines_\w+|duplicates|match_run_id|proposals|"
    r"bad_line\w*|donations_recorded|already_current|rendered|numbered|companies|amounts|"
    r"reminders|count|sealed|sync|event|TWD|True|False|None)\b"
)

RAW = re.compile(r"\b([a-z]+_[a-z_]+|TWD|True|False|None)\b")


def _visible(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _outcome(html: str) -> list[tuple[str, str]]:
    """The ``(words, value)`` pairs of the page's outcome list."""
    found = re.search(r'<dl class="facts" id="job-result">(.*?)</dl>', html, flags=re.S)
    assert found, "the page shows no outcome"
    return re.findall(r"<dt>(.*?)</dt><dd class=\"num\">(.*?)</dd>", found.group(1))


def _finished(database, kind: str, result: dict) -> int:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, kind, dedupe_key=f"test:{kind}")
        job.status, job.phase, job.attempts = "succeeded", "done", 1
        job.result = json.dumps(result)
        job.finished_at = dt.datetime.now(dt.UTC)
        s.flush()
        return job.id


def test_every_kind_names_its_figures():
    assert set(KINDS) <= set(job_figures.KIND_FIGURES)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", sorted(SHOWN))
def test_a_kinds_outcome_is_in_words_with_readable_figures(console, kind, lang):
    job_id = _finished(console.database, kind, RESULTS[kind])
    c = console.client("ndc")
    if lang == "en":
        post_form(c, "/console/jobs", "/language", {"lang": "en", "next": "/console/jobs"})
    page = c.get(f"/console/jobs/{job_id}")
    assert page.status_code == 200
    expected = [
        (zh if lang == "zh" else en, value[lang == "en"] if isinstance(value, tuple) else value)
        for zh, en, value in SHOWN[kind]
    ]
    assert _outcome(page.text) == expected
    outcome = _visible(page.text).split("Outcome")[-1].split("結果")[-1]
    # In English some keys are words ("Entries sealed"): there, no key in snake case
    assert not (CODES if lang == "zh" else RAW).search(outcome), outcome


@pytest.mark.parametrize("kind", ["bank_import", "yearly_statements", "company_statement"])
def test_the_other_kinds_keep_their_figures(console, kind):
    job_id = _finished(console.database, kind, RESULTS[kind])
    shown = _outcome(console.client("ndc").get(f"/console/jobs/{job_id}").text)
    assert len(shown) == len([k for k, v in RESULTS[kind].items() if not isinstance(v, list)])
    words = [w for w, _ in shown]
    assert not any(CODES.fullmatch(w) or "_" in w for w in words)
    if kind == "bank_import":
        assert ("檔案中的筆數", "100,000") in shown and ("錯誤行", "1") in shown
    if kind == "yearly_statements":
        assert ("編列的收據編號", "123,456") in shown and ("企業", "10,000") in shown


def test_what_the_kinds_themselves_return_is_shown_in_words(console):
    """seal, the overdue list and a sync on a fund without Stripe, run by the worker's own
    Runner: their real results, not ones written by the test."""
    jobs = {}
    with console.database.session() as s, s.begin():
        for kind in ("seal", "overdue_reminders", "stripe_sync"):
            jobs[kind] = records.submit(s, kind, dedupe_key=f"real:{kind}")[0].id
    app = console.app
    for job_id in jobs.values():
        app.extensions["placefund.queue"].enqueue(job_id)
    run_jobs(app)
    c = console.client("ndc")
    for kind, job_id in jobs.items():
        with console.database.session() as s:
            assert s.get(Job, job_id).status == "succeeded", kind
        page = c.get(f"/console/jobs/{job_id}").text
        shown = dict(_outcome(page))
        if kind == "seal":
            assert re.fullmatch(r"[\d,]+", shown["封存的分錄"])
        elif kind == "overdue_reminders":
            assert set(shown) == {"名單日期", "應催繳的分期款", "應提醒的企業", "未繳金額"}
            assert shown["未繳金額"].startswith("NT$")
        else:
            assert shown == {"Stripe": "尚未設定，無須同步。"}
        assert not CODES.search(" ".join(f"{k} {v}" for k, v in shown.items()))


def test_a_result_the_page_cannot_read_shows_nothing():
    assert job_figures.figures("seal", ["not", "a", "dict"]) == []
    assert job_figures.figures("no_such_kind", {"sealed": 1}) == []
    assert job_figures.figures("seal", {"sealed": "many"}) == []
    assert job_figures.figures("stripe_sync", {"sync": "broken"}) == []
