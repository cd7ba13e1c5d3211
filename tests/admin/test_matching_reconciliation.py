"""Match proposals on the company and business pages, the managers' matching runs, and the
reconciliation queue with its bank statement upload."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from jobs.models import Job
from ledger.reconciliation.models import StatementLine
from matching.models import MatchProposal, MatchRun, Partnership
from tests.admin.conftest import (
    bank_csv,
    csrf_token,
    post_form,
    seed_bank_line_to_confirm,
    seed_published_proposal,
)
from tests.job_helpers import run_jobs


def _proposal(console, proposal_id: int) -> MatchProposal:
    with console.database.session() as s:
        p = s.get(MatchProposal, proposal_id)
        s.expunge(p)
        return p


# --- proposals -----------------------------------------------------------------------------------


def test_each_side_sees_its_proposal_with_the_explanation(console):
    pid = seed_published_proposal(console.database, console.ids)
    for actor, url in (("company_a", "/console/company"), ("business_x", "/console/business")):
        page = console.client(actor).get(url)
        assert page.status_code == 200
        assert f'id="proposal-{pid}"' in page.text
        assert "合作類型相符" in page.text  # a component's reason, in Chinese
        assert f"/console/proposals/{pid}/accept" in page.text
    english = console.client("company_a")
    post_form(english, "/console/company", "/language", {"lang": "en", "next": "/console/company"})
    page = english.get("/console/company").text
    assert "partnership kind matches" in page and "合作類型相符" not in page


@pytest.mark.parametrize("actor", ["company_b", "business_y"])
def test_other_organisations_neither_see_nor_answer_the_proposal(console, actor):
    pid = seed_published_proposal(console.database, console.ids)
    c = console.client(actor)
    url = "/console/company" if actor.startswith("company") else "/console/business"
    page = c.get(url)
    assert f'id="proposal-{pid}"' not in page.text
    assert post_form(c, url, f"/console/proposals/{pid}/accept").status_code == 404
    reason = {"reason": "不合適"}
    assert post_form(c, url, f"/console/proposals/{pid}/decline", reason).status_code == 404
    assert _proposal(console, pid).status == "published"


def test_unpublished_proposals_stay_hidden(console):
    from matching import services as matching

    seed_published_proposal(console.database, console.ids)
    with console.database.session() as s, s.begin():
        from identity.models import User

        run = matching.start_run(s, actor=s.get(User, console.ids["user_ndc"]), params={"k": 5})
        hidden = [p.id for p in run.proposals if p.status == "proposed"]
    page = console.client("company_a").get("/console/company")
    for pid in hidden:
        assert f'id="proposal-{pid}"' not in page.text


def test_both_accept_and_a_partnership_is_made(console):
    pid = seed_published_proposal(console.database, console.ids)
    company = console.client("company_a")
    url, yes = f"/console/proposals/{pid}/accept", {"confirmed": "yes"}
    accepted = post_form(company, url, url, yes)
    assert accepted.status_code == 302
    page = company.get("/console/company")
    assert f"/console/proposals/{pid}/accept" not in page.text  # answered once
    business = console.client("business_x")
    assert post_form(business, url, url, yes).status_code == 302
    assert _proposal(console, pid).status == "accepted"
    with console.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Partnership)) == 1


def test_a_side_that_accepted_is_not_made_to_decline_by_a_stale_tab(console):
    """The decline page was open in another tab when the business accepted: sending it
    says the proposal is answered, and the acceptance stands (a decline is for good)."""
    pid = seed_published_proposal(console.database, console.ids)
    business = console.client("business_x")
    accept, decline = f"/console/proposals/{pid}/accept", f"/console/proposals/{pid}/decline"
    stale = business.get(decline).text
    assert post_form(business, accept, accept, {"confirmed": "yes"}).status_code == 302
    for url, data in ((decline, {"reason": "改變主意"}), (accept, {})):
        sent = business.post(
            url, data={"csrf_token": csrf_token(stale), "confirmed": "yes", **data}
        )
        assert sent.status_code == 302 and sent.headers["Location"].endswith(f"#proposal-{pid}")
        assert "您已回覆過此提案。" in business.get("/console/business").text
    p = _proposal(console, pid)
    assert (p.status, p.business_response, p.business_reason) == ("published", "accepted", "")


def test_declining_needs_a_reason_shown_next_to_the_field(console):
    pid = seed_published_proposal(console.database, console.ids)
    c = console.client("business_x")
    url = f"/console/proposals/{pid}/decline"
    refused = post_form(c, url, url, {"reason": " ", "confirmed": "yes"})
    assert refused.status_code == 422
    assert f'id="reason-{pid}-error"' in refused.text
    assert _proposal(console, pid).status == "published"
    declined = post_form(c, url, url, {"reason": "時程不合", "confirmed": "yes"})
    assert declined.status_code == 302
    p = _proposal(console, pid)
    assert (p.status, p.business_reason) == ("declined", "時程不合")


# --- managers: runs ------------------------------------------------------------------------------


def test_a_manager_starts_reviews_and_publishes_a_run(console):
    seed_published_proposal(console.database, console.ids)  # an earlier run, published
    c = console.client("ndc")
    started = post_form(
        c,
        "/console/matching",
        "/console/matching",
        {"k": "5", "min_priority_share": "", "priority_weight": "120"},
    )
    # The run is solved by a worker: the page follows the job, then opens the run
    assert started.status_code == 303, started.text
    following = started.headers["Location"]
    assert re.fullmatch(r"/console/matching/jobs/\d+", following)
    waiting = c.get(following)
    assert waiting.status_code == 200
    assert "媒合正在準備中" in waiting.text
    # Followed by the page's script (the job's status JSON), refreshed without scripts
    job_id = following.rsplit("/", 1)[1]
    assert f'data-status-url="/console/jobs/{job_id}/status"' in waiting.text
    assert "job-progress.js" in waiting.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in waiting.text
    assert c.get(f"/console/jobs/{job_id}/status").get_json()["status"] == "queued"
    assert "正在準備的媒合" in c.get("/console/matching").text
    assert run_jobs(console.app) >= 1
    ready = c.get(following)
    assert ready.status_code == 302
    url = ready.headers["Location"]
    page = c.get(url)
    assert "審查中" in page.text or "Under review" in page.text
    assert "合作類型相符" in page.text
    published = post_form(c, url, f"{url}/publish")
    assert published.status_code == 302
    run_id = int(url.rsplit("/", 1)[1])
    with console.database.session() as s:
        run = s.get(MatchRun, run_id)
        assert run.status == "published"
        assert '"priority_weights"' in run.params
    assert f"/console/matching/runs/{run_id}" in c.get("/console/matching").text


def test_run_parameter_errors_are_shown_next_to_the_fields(console):
    c = console.client("ndc")
    bad = post_form(
        c, "/console/matching", "/console/matching", {"k": "0", "min_priority_share": "lots"}
    )
    assert bad.status_code == 422
    assert 'id="k-error"' in bad.text and 'id="min_priority_share-error"' in bad.text
    # 0 was typed: it is out of range, not missing
    assert "數字須介於 1 到 100 之間。" in bad.text and "此欄為必填" not in bad.text
    # Text that is no number is said once, not also as out of range
    words = post_form(
        c, "/console/matching", "/console/matching", {"k": "5", "priority_weight": "1e9"}
    )
    assert words.status_code == 422
    assert words.text.count('id="priority_weight-error"') == 1
    assert "請輸入整數" in words.text and "數字須介於 0 到 10000 之間" not in words.text
    out_of_range = post_form(
        c, "/console/matching", "/console/matching", {"k": "3", "min_priority_share": "150%"}
    )
    assert out_of_range.status_code == 422
    assert 'id="min_priority_share-error"' in out_of_range.text
    assert "比例最多為 100%，例如 30% 或 0.3。" in out_of_range.text
    # An exponent is no share: said at once, never a power of ten computed for minutes
    huge = post_form(
        c, "/console/matching", "/console/matching", {"k": "3", "min_priority_share": "1e999999999"}
    )
    assert huge.status_code == 422 and 'id="min_priority_share-error"' in huge.text
    # The number asked for, left blank: required, said once (not also "enter a whole number")
    blank = post_form(c, "/console/matching", "/console/matching", {"k": ""})
    assert blank.status_code == 422
    assert "此欄為必填" in blank.text and "請輸入整數" not in blank.text
    with console.database.session() as s:
        assert s.scalar(select(func.count()).select_from(MatchRun)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0  # nothing queued


def test_the_optional_run_parameters_left_blank_take_their_defaults(console):
    """As the browser sends the form: every field, the optional ones empty."""
    c = console.client("ndc")
    started = post_form(
        c, "/console/matching", "/console/matching",
        {"k": "5", "min_priority_share": "", "priority_weight": ""},
    )  # fmt: skip
    assert started.status_code == 303, started.text[:500]
    assert "/console/matching/jobs/" in started.headers["Location"]
    with console.database.session() as s:
        [job] = s.scalars(select(Job)).all()
    assert json.loads(job.params)["params"] == {"k": 5}  # the defaults: nothing more asked


@pytest.mark.parametrize("lang", ["zh_Hant_TW", "en"])
def test_a_run_being_prepared_can_be_cancelled(console, lang):
    c = console.client("ndc")
    if lang == "en":
        post_form(c, "/console/matching", "/language", {"lang": "en", "next": "/console/matching"})
    started = post_form(c, "/console/matching", "/console/matching", {"k": "5"})
    following = started.headers["Location"]
    page = c.get(following)
    said = "Preparing a match run" if lang == "en" else "媒合正在準備中"
    assert said in page.text
    cancelled = post_form(c, following, f"{following}/cancel")
    assert cancelled.status_code == 303
    page = c.get(following)
    assert ("Cancelled" if lang == "en" else "已取消") in page.text
    assert 'http-equiv="refresh"' not in page.text
    run_jobs(console.app)  # its message finds the job cancelled and does nothing
    with console.database.session() as s:
        assert s.scalar(select(func.count()).select_from(MatchRun)) == 0
        assert s.scalars(select(Job.status)).one() == "cancelled"


# --- reconciliation ------------------------------------------------------------------------------


def _line(console, line_id: int) -> StatementLine:
    with console.database.session() as s:
        line = s.get(StatementLine, line_id)
        s.expunge(line)
        return line


def test_the_queue_shows_the_match_and_a_manager_confirms_it(console):
    line_id = seed_bank_line_to_confirm(console.database, console.ids)
    c = console.client("moea")
    page = c.get("/console/reconciliation")
    assert f'id="line-{line_id}"' in page.text
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "捐款 · 甲公司" in words and "NT$5,000" in words  # the match, in words
    url = f"/console/reconciliation/lines/{line_id}/confirm"
    assert post_form(c, "/console/reconciliation", url).status_code == 302
    line = _line(console, line_id)
    assert line.status == "confirmed" and line.decided_by_id == console.ids["user_moea"]
    page = c.get("/console/reconciliation")
    assert f'id="line-{line_id}"' not in page.text
    assert f'id="decided-{line_id}"' in page.text


def test_unmatch_and_ignore_need_a_reason(console):
    line_id = seed_bank_line_to_confirm(console.database, console.ids)
    c = console.client("ndc")
    base = f"/console/reconciliation/lines/{line_id}"
    refused = post_form(c, "/console/reconciliation", f"{base}/unmatch", {"reason": ""})
    assert refused.status_code == 422
    assert f'id="reason-unmatch-{line_id}-error"' in refused.text
    assert _line(console, line_id).status == "matched"
    assert (
        post_form(
            c, "/console/reconciliation", f"{base}/unmatch", {"reason": "金額巧合"}
        ).status_code
        == 302
    )
    assert _line(console, line_id).status == "unmatched"
    assert (
        post_form(c, "/console/reconciliation", f"{base}/ignore", {"reason": "利息"}).status_code
        == 302
    )
    line = _line(console, line_id)
    assert (line.status, line.reason) == ("ignored", "利息")


# --- CSRF -----------------------------------------------------------------------------------


def test_the_new_forms_refuse_a_post_without_the_csrf_token(console):
    pid = seed_published_proposal(console.database, console.ids)
    line_id = seed_bank_line_to_confirm(console.database, console.ids)
    company, manager = console.client("company_a"), console.client("ndc")
    for c, url, data in (
        (company, f"/console/proposals/{pid}/accept", {"confirmed": "yes"}),
        (company, f"/console/proposals/{pid}/decline", {"reason": "x", "confirmed": "yes"}),
        (company, "/console/profile", {"name": "x", "town_code": "10008040"}),
        (company, "/console/offers/new", {"kinds": "sponsorship", "capacity": "1"}),
        (console.client("business_x"), "/console/projects/new", {"name": "x"}),
        (console.client("business_x"), "/console/requests/new", {"kind": "sponsorship"}),
        (manager, "/console/matching", {"k": "5"}),
        (manager, "/console/matching/runs/1/publish", {}),
        (manager, f"/console/reconciliation/lines/{line_id}/confirm", {}),
        (manager, f"/console/reconciliation/lines/{line_id}/unmatch", {"reason": "x"}),
        (manager, f"/console/reconciliation/lines/{line_id}/ignore", {"reason": "x"}),
        (manager, "/console/reconciliation/upload", {"mapping": "generic"}),
    ):
        response = c.post(url, data=data)
        assert response.status_code == 400, url
    assert _proposal(console, pid).status == "published"
    assert _line(console, line_id).status == "matched"
    with console.database.session() as s:
        assert s.scalar(select(func.count()).select_from(MatchRun)) == 1


def test_a_suggested_line_is_confirmed_against_the_chosen_option(console):
    from ledger.reconciliation import runs as reconciliation_runs

    with console.database.session() as s, s.begin():
        # Two payers' virtual accounts on one deposit: the rules only suggest
        data = bank_csv(("2026-11-26", "VA 95123000000014 95123000000022", "5,000"))
        report = reconciliation_runs.import_bank_statement(s, data, mapping="generic")
        reconciliation_runs.run_bank(s, import_id=report.import_id)
        line = s.scalars(select(StatementLine)).one()
        line_id, status = line.id, line.status
    assert status == "unmatched"
    c = console.client("ndc")
    page = c.get("/console/reconciliation")
    options = re.findall(r'name="targets" value="([^"]+)"', page.text)
    assert options, page.text
    confirmed = post_form(
        c,
        "/console/reconciliation",
        f"/console/reconciliation/lines/{line_id}/confirm",
        {"targets": options[0]},
    )
    assert confirmed.status_code == 302
    assert _line(console, line_id).status == "confirmed"
