"""Manager pages: the dashboard, the two-manager disbursement flow, the books, periods."""

from __future__ import annotations

import re

from ledger.books.models import Period
from ledger.fund.models import Disbursement
from tests.admin.conftest import csrf_token, post_form


def test_dashboard_shows_balances_chart_and_lists(console):
    page = console.client("ndc").get("/console/dashboard")
    assert page.status_code == 200
    # NT$25,000 received; NT$7,000 held by two proposals awaiting approval; the NT$5,000
    # still pledged is not money the fund can commit (ledger/fund/figures.py)
    assert 'id="fig-received">NT$25,000<' in page.text
    assert 'id="fig-available">NT$18,000<' in page.text
    assert 'id="fig-pledged">NT$5,000<' in page.text
    assert '<svg id="flows-chart"' in page.text
    assert page.text.count('class="bar-in"') == 12
    assert "甲公司" in page.text  # pledge A is outstanding
    assert "丙工作室" in page.text  # its return agreement
    # The chart needs no script; the only one is the app's own file (phone table labels)
    assert re.findall(r"<script[^>]*>", page.text) == [
        '<script src="/console/static/table-labels.js" defer>'
    ]
    # An empty icon (data: is in the CSP's img-src): no browser asks for /favicon.ico, a 404
    # in the access log and an error in the browser's console on each first visit
    assert '<link rel="icon" href="data:,">' in page.text


def test_two_managers_of_different_institutions_propose_approve_and_pay(console):
    ndc, moea = console.client("ndc"), console.client("moea")
    proposed = post_form(
        ndc,
        "/console/disbursements/new",
        "/console/disbursements/new",
        {
            "project_id": str(console.ids["project_x"]),
            "kind": "grant",
            "amount": "NT$1,500",
            "funding": "",
            "purpose": "竹編工坊設備",
        },
    )
    assert proposed.status_code == 302, proposed.text
    url = proposed.headers["Location"]
    d_id = int(url.rsplit("/", 1)[1])
    page = ndc.get(url)
    assert "NT$1,500" in page.text
    assert "Approve" not in page.text and "核准</button>" not in page.text  # own institution
    # The proposer cannot pay alone.
    refused = post_form(ndc, url, f"{url}/approve")
    assert refused.status_code == 302
    assert "您已核准過此撥款案。" in ndc.get(url).text  # translated from the ledger's English

    approved = post_form(moea, url, f"{url}/approve")
    assert approved.status_code == 302
    paid = post_form(moea, url, f"{url}/pay", {"paid_on": ""})
    assert paid.status_code == 302
    page = moea.get(url)
    assert 'class="status paid"' in page.text
    assert page.text.count('class="approval"') == 2
    with console.database.session() as s:
        d = s.get(Disbursement, d_id)
        assert d.status == "paid"
        assert d.paid_by_id == console.ids["user_moea"]


def test_approvals_name_each_institution_not_its_code(console):
    """The steps say which institution approved by its name, in the reader's language: a
    code such as a county's 10002 means nothing to the person reading."""
    from identity.models import Organisation, User

    with console.database.session() as s, s.begin():
        ndc = s.get(User, console.ids["user_ndc"]).organisation
        ndc.name, ndc.name_en = "宜蘭縣政府", "Yilan County Government"
        ndc.institution_code = "10002"
        moea = s.get(Organisation, s.get(User, console.ids["user_moea"]).organisation_id)
        moea_names = (moea.name, moea.name_en or moea.name)
    client = console.client("ndc")
    proposed = post_form(
        client,
        "/console/disbursements/new",
        "/console/disbursements/new",
        {
            "project_id": str(console.ids["project_x"]),
            "kind": "grant",
            "amount": "1,000",
            "funding": "",
            "purpose": "設備",
        },
    )
    url = proposed.headers["Location"]
    post_form(console.client("moea"), url, f"{url}/approve")
    zh = client.get(url).text
    assert "（宜蘭縣政府）" in zh and f"（{moea_names[0]}）" in zh
    assert "10002" not in zh and "（NDC）" not in zh and "（MOEA）" not in zh
    client.post("/language", data={"csrf_token": csrf_token(zh), "lang": "en"})
    en = client.get(url).text
    assert "(Yilan County Government)" in en and f"({moea_names[1]})" in en
    assert "10002" not in en


def test_a_third_institution_is_not_asked_to_approve_an_approved_disbursement(console):
    """Two institutions approved: a manager of a third sees it waiting to be paid, with no
    Approve button (a third approval would change nothing)."""
    from identity import passwords
    from tests import factories
    from tests.admin.conftest import PASSWORD, TOTP_SECRET, sign_in

    with console.database.session() as s, s.begin():
        third = factories.manager(s, "10002")
        third.password_hash = passwords.hash_password(PASSWORD)
        third.totp_secret, third.totp_enabled_at = TOTP_SECRET, third.created_at
        email = third.email
    ndc = console.client("ndc")
    proposed = post_form(
        ndc,
        "/console/disbursements/new",
        "/console/disbursements/new",
        {"project_id": str(console.ids["project_x"]), "kind": "grant", "amount": "1,000",
         "funding": "", "purpose": "設備"},
    )  # fmt: skip
    url = proposed.headers["Location"]
    yilan = console.app.test_client()
    sign_in(yilan, email, PASSWORD)
    assert f'action="{url}/approve"' in yilan.get(url).text  # one approval missing
    post_form(console.client("moea"), url, f"{url}/approve")
    page = yilan.get(url).text
    assert f'action="{url}/approve"' not in page and f'action="{url}/pay"' in page


def test_proposal_errors_are_shown_next_to_the_fields(console):
    ndc = console.client("ndc")
    response = post_form(
        ndc,
        "/console/disbursements/new",
        "/console/disbursements/new",
        {
            "project_id": str(console.ids["project_x"]),
            "kind": "grant",
            "amount": "12.5",
            "purpose": "零頭",
        },
    )
    assert response.status_code == 200
    # One problem, said once: next to the amount, in NT$ words (never "multiple of 100")
    assert (
        '<div class="errors" id="amount-error"><p class="error">新臺幣金額須為整數元。</p>'
        in response.text
    )
    assert 'class="flash error"' not in response.text and "100" not in response.text


def test_void_needs_a_reason_and_reverses_the_reservation(console):
    ndc = console.client("ndc")
    url = f"/console/disbursements/{console.ids['disbursement_y']}"
    missing = post_form(ndc, url, f"{url}/void", {"reason": ""})
    assert missing.status_code == 422
    assert 'id="reason-error"' in missing.text
    voided = post_form(ndc, url, f"{url}/void", {"reason": "計畫取消"})
    assert voided.status_code == 302
    page = ndc.get(url)
    assert 'class="status voided"' in page.text
    assert "計畫取消" in page.text


def test_ledger_pages_show_running_balance_postings_and_refs(console):
    ndc = console.client("ndc")
    statement = ndc.get("/console/ledger/accounts/assets:bank:main")
    assert "NT$5,000" in statement.text and "NT$25,000" in statement.text  # running balance
    entries = ndc.get("/console/ledger/entries")
    assert "assets:bank:main" in entries.text
    tb = ndc.get("/console/ledger/trial-balance")
    assert "借貸平衡" in tb.text
    assert ndc.get("/console/ledger/accounts/no:such:account").status_code == 404


def test_chain_seal_and_verify(console):
    ndc = console.client("ndc")
    sealed = post_form(ndc, "/console/ledger/chain", "/console/ledger/chain", {"action": "seal"})
    assert sealed.status_code == 302
    report = post_form(ndc, "/console/ledger/chain", "/console/ledger/chain", {"action": "verify"})
    assert report.status_code == 200
    assert "雜湊鏈完整" in report.text


def test_period_close_checks_assertions_first(console):
    ndc = console.client("ndc")
    failing = post_form(
        ndc,
        "/console/ledger/periods",
        "/console/ledger/periods",
        {"end_date": "2020-12-31", "assertions": "assets:bank:main = NT$1", "confirm": "y"},
    )
    assert failing.status_code == 200
    assert 'id="assertions-error"' in failing.text
    closed = post_form(
        ndc,
        "/console/ledger/periods",
        "/console/ledger/periods",
        {"end_date": "2020-12-31", "assertions": "assets:bank:main = NT$0", "confirm": "y"},
    )
    assert closed.status_code == 302
    with console.database.session() as s:
        assert s.query(Period).count() == 1


def test_verify_an_organisation(console):
    from identity.models import Organisation

    with console.database.session() as s, s.begin():
        org = Organisation(kind="business", name="新社區工作室", ubn="12345675")
        s.add(org)
    ndc = console.client("ndc")
    response = post_form(
        ndc, "/console/organisations?verified=no", f"/console/organisations/{org.id}/verify"
    )
    assert response.status_code == 302
    with console.database.session() as s:
        assert s.get(Organisation, org.id).verified_at is not None


def test_transparency_is_public_and_names_only_opted_in_donors(console):
    page = console.app.test_client().get("/transparency")
    assert page.status_code == 200
    assert "乙公司" in page.text  # pledged with public_name
    assert "甲公司" not in page.text


def test_a_double_submitted_proposal_reserves_once(console):
    from tests.admin.conftest import csrf_token, form_key

    ndc = console.client("ndc")
    page = ndc.get("/console/disbursements/new")
    data = {
        "csrf_token": csrf_token(page.text),
        "key": form_key(page.text),
        "project_id": str(console.ids["project_y"]),
        "kind": "investment",
        "amount": "2,000",
        "purpose": "冷凍設備",
    }
    first = ndc.post("/console/disbursements/new", data=data)
    second = ndc.post("/console/disbursements/new", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    with console.database.session() as s:
        assert s.query(Disbursement).count() == 3  # the world's two and this one


def test_company_pays_an_instalment_by_card_from_its_page(console):
    from tests.localstripe_server import offline_gateway

    company = console.client("company_a")
    pledge = console.ids["pledge_a"]
    action = f"/console/pledges/{pledge}/card-payment"
    # Not configured: a clear message, and bank transfer remains.
    refused = post_form(company, "/console/company", action)
    assert refused.status_code == 302
    assert "信用卡繳款尚未開放" in company.get(refused.headers["Location"]).text
    console.app.extensions["placefund.stripe"] = offline_gateway()
    page = company.get("/console/company")
    assert "信用卡繳款" in page.text
    done = post_form(company, "/console/company", action)
    assert done.status_code == 302
    location = done.headers["Location"]
    assert location.startswith("/donate/") and "#pi_offline" in location
    assert "_secret_" in location.split("#", 1)[1]
    # Another company's pledge does not exist for this user; no token, no payment.
    other = post_form(
        company, "/console/company", f"/console/pledges/{console.ids['pledge_b']}/card-payment"
    )
    assert other.status_code == 404
    assert company.post(action, data={}).status_code == 400
