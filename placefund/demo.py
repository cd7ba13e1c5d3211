"""Demo data: the briefing's demonstration places, with companies, businesses and money.

Everything is posted through the same ledger services users call. Names of companies and
people are invented; townships are real (from the 368-township reference). Priority-area
designations here are illustrative, not the official list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select

from admin import two_factor
from foundation.db import utcnow
from foundation.reference import townships
from foundation.settings import Settings, instance_dir
from foundation.ubn import complete_ubn
from identity.models import Organisation, User
from identity.passwords import hash_password
from ledger.books.chain import seal_pending
from ledger.fund import common, revenue_returns
from ledger.fund import disbursements as fund_disbursements
from ledger.fund import donations as fund_donations
from ledger.fund import pledges as fund_pledges
from ledger.fund.models import Project
from matching import services as matching
from placefund.demo_tokens import issue_demo_tokens

#: Every demo user signs in to the console (/console/) with this password. Demo data only.
DEMO_PASSWORD = "placefund-demo"

INSTITUTIONS = [
    ("國家發展委員會", "National Development Council", "NDC", None),
    ("經濟部", "Ministry of Economic Affairs", "MOEA", None),
    ("宜蘭縣政府", "Yilan County Government", "10002", "10002"),
]

COMPANIES = [
    # name, English, first 7 UBN digits, HQ town
    ("山海資通股份有限公司", "Shanhai Infocomm Co., Ltd.", "2459061", "63000050"),
    ("南方食品股份有限公司", "Nanfang Foods Co., Ltd.", "5308712", "67000030"),
    ("竹光建設股份有限公司", "Zhuguang Construction Co., Ltd.", "8412306", "66000010"),
]

BUSINESSES = [
    # name, English, UBN digits, town, project, priority type (illustrative)
    (
        "壯圍漁塭再生工作室",
        "Zhuangwei Fish Pond Revival Studio",
        "9035127",
        "10002060",
        "廢棄魚塭活化與水產品牌",
        "agricultural",
    ),
    (
        "竹山茶竹合作社",
        "Zhushan Tea and Bamboo Cooperative",
        "9128734",
        "10008040",
        "茶竹小鎮青年回鄉計畫",
        "agricultural",
    ),
    (
        "三峽藍染工坊",
        "Sanxia Indigo Dye Workshop",
        "9241056",
        "65000090",
        "三峽藍染品牌國際化",
        None,
    ),
    (
        "東港漁村食堂",
        "Donggang Fishing Village Kitchen",
        "9356118",
        "10013030",
        "漁村食堂與漁獲加工",
        "agricultural",
    ),
]


def _on(days_ago: int) -> dt.date:
    return common.today() - dt.timedelta(days=days_ago)


def load_demo(
    database, *, echo: Callable[[str], None] = print, settings: Settings | None = None
) -> str:
    """Load the demo into an empty, migrated database. Returns a one-paragraph summary.

    ``settings`` (the command's) give the pledges' virtual accounts and the instance folder
    the demo tokens are written to; without them, the defaults and PLACEFUND_INSTANCE."""
    scheme = common.va_scheme(settings)
    towns = townships()
    now = utcnow()
    with database.session() as s, s.begin():
        institutions = []
        for name, name_en, code, county in INSTITUTIONS:
            org = Organisation(
                kind="institution",
                name=name,
                name_en=name_en,
                institution_code=code,
                county_code=county,
                verified_at=now,
            )
            s.add(org)
            institutions.append(org)
        companies = []
        for name, name_en, digits, town in COMPANIES:
            org = Organisation(
                kind="company",
                name=name,
                name_en=name_en,
                ubn=complete_ubn(digits),
                county_code=towns[town].county_code,
                town_code=town,
                verified_at=now,
            )
            s.add(org)
            companies.append(org)
        businesses, projects = [], []
        for name, name_en, digits, town, project, priority in BUSINESSES:
            org = Organisation(
                kind="business",
                name=name,
                name_en=name_en,
                ubn=complete_ubn(digits),
                county_code=towns[town].county_code,
                town_code=town,
                verified_at=now,
            )
            s.add(org)
            businesses.append(org)
            s.flush()
            p = Project(
                business_id=org.id,
                name=project,
                county_code=towns[town].county_code,
                town_code=town,
                priority_type=priority,
            )
            s.add(p)
            projects.append(p)
        s.flush()

        ndc = User(
            email="lin.manager@ndc.example.tw",
            name="林怡君",
            role="fund_manager",
            organisation_id=institutions[0].id,
        )
        moea = User(
            email="chen.manager@moea.example.tw",
            name="陳建宏",
            role="fund_manager",
            organisation_id=institutions[1].id,
        )
        yilan = User(
            email="wu.manager@yilan.example.tw",
            name="吳佩珊",
            role="fund_manager",
            organisation_id=institutions[2].id,
        )
        admin = User(
            email="admin@placefund.example.tw",
            name="系統管理員",
            role="admin",
            organisation_id=institutions[0].id,
        )
        people = [ndc, moea, yilan, admin]
        for i, company in enumerate(companies):
            people.append(
                User(
                    email=f"finance{i + 1}@company{i + 1}.example.tw",
                    name=f"{company.name} 財務",
                    role="company_member",
                    organisation_id=company.id,
                )
            )
        for i, business in enumerate(businesses):
            people.append(
                User(
                    email=f"owner{i + 1}@business{i + 1}.example.tw",
                    name=f"{business.name} 負責人",
                    role="business_member",
                    organisation_id=business.id,
                )
            )

        demo_hash = hash_password(DEMO_PASSWORD)
        # Fund managers and admins sign in with a second factor; the demo enrols them all
        # with one key made now (printed below), never a key written in the code
        totp_secret = two_factor.new_secret()
        for person in people:
            person.password_hash = demo_hash
            if two_factor.required(person):
                person.totp_secret = totp_secret
                person.totp_enabled_at = utcnow()
        s.add_all(people)
        s.flush()

        shanhai, nanfang, zhuguang = companies
        zhuangwei, zhushan, sanxia, donggang = projects

        # Pledges: one unrestricted public pledge in 12 monthly instalments, one restricted
        # to Yilan County (the company's home county), one to the priority type.
        p1 = fund_pledges.record_pledge(
            s,
            key="demo:pledge:1",
            company_id=shanhai.id,
            amount=120_000_000,
            instalments=12,
            public_name=True,
            pledged_on=_on(150),
            actor=ndc,
            scheme=scheme,
        )
        p2 = fund_pledges.record_pledge(
            s,
            key="demo:pledge:2",
            company_id=nanfang.id,
            amount=50_000_000,
            instalments=2,
            restriction="county:10002",
            pledged_on=_on(120),
            actor=ndc,
            scheme=scheme,
        )
        fund_pledges.record_pledge(
            s,
            key="demo:pledge:3",
            company_id=zhuguang.id,
            amount=30_000_000,
            restriction="priority:agricultural",
            public_name=True,
            pledged_on=_on(40),
            actor=moea,
            scheme=scheme,
        )

        # Card instalments through Stripe (fee 2.9% + NT$10), one settled in USD.
        for n in range(3):
            fund_donations.record_donation(
                s,
                key=f"demo:card:{n}",
                channel="stripe",
                amount=10_000_000,
                fee=291_000,
                pledge_id=p1.id,
                received_on=_on(145 - 30 * n),
                refs={
                    "payment_intent": f"pi_demo{n:04d}",
                    "charge": f"ch_demo{n:04d}",
                    "balance_transaction": f"txn_demo{n:04d}",
                },
            )
        fund_donations.record_donation(
            s,
            key="demo:card:usd",
            channel="stripe",
            amount=10_000_000,
            fee=9_400,
            settlement_currency="USD",
            settlement_amount=312_500,
            pledge_id=p1.id,
            received_on=_on(55),
            refs={
                "payment_intent": "pi_demousd",
                "charge": "ch_demousd",
                "balance_transaction": "txn_demousd",
            },
        )
        # Bank transfer against the restricted pledge.
        fund_donations.record_donation(
            s,
            key="demo:bank:1",
            channel="bank_transfer",
            amount=25_000_000,
            pledge_id=p2.id,
            received_on=_on(110),
            refs={"bank_line": "demo-statement-1:3"},
        )
        # A direct donation restricted to Zhushan township, by bank transfer.
        fund_donations.record_donation(
            s,
            key="demo:bank:2",
            channel="bank_transfer",
            amount=8_000_000,
            company_id=zhuguang.id,
            restriction="township:10008040",
            received_on=_on(90),
            refs={"bank_line": "demo-statement-1:7"},
        )
        # Stripe pays the TWD balance out to the bank.
        fund_donations.record_payout(
            s,
            key="demo:payout:1",
            amount=29_127_000,
            paid_on=_on(60),
            stripe_payout_id="po_demo0001",
        )

        # A grant to Zhushan from its restricted money, jointly approved, then paid.
        grant = fund_disbursements.propose_disbursement(
            s,
            key="demo:grant:1",
            actor=ndc,
            kind="grant",
            project_id=zhushan.id,
            amount=6_000_000,
            funding="township:10008040",
            purpose="茶園步道與竹編工坊設備",
            on=_on(80),
        )
        fund_disbursements.approve_disbursement(s, disbursement_id=grant.id, actor=moea)
        fund_disbursements.pay_disbursement(
            s, key="demo:grant:1:pay", disbursement_id=grant.id, actor=moea, paid_on=_on(75)
        )
        # A grant for the Yilan fish ponds from the Yilan-restricted money, awaiting approval.
        fund_disbursements.propose_disbursement(
            s,
            key="demo:grant:2",
            actor=yilan,
            kind="grant",
            project_id=zhuangwei.id,
            amount=12_000_000,
            funding="county:10002",
            purpose="魚塭清淤與生態養殖",
            on=_on(20),
        )
        # An investment in Donggang, returned from revenue.
        inv = fund_disbursements.propose_disbursement(
            s,
            key="demo:investment:1",
            actor=moea,
            kind="investment",
            project_id=donggang.id,
            amount=15_000_000,
            purpose="漁獲加工廠設備",
            on=_on(70),
        )
        fund_disbursements.approve_disbursement(s, disbursement_id=inv.id, actor=ndc)
        fund_disbursements.pay_disbursement(
            s, key="demo:investment:1:pay", disbursement_id=inv.id, actor=ndc, paid_on=_on(65)
        )
        agreement = revenue_returns.create_return_agreement(
            s,
            actor=ndc,
            business_id=donggang.business_id,
            project_id=donggang.id,
            disbursement_id=inv.id,
            share_bp=500,
            start_date=_on(65),
            end_date=_on(65) + dt.timedelta(days=5 * 365),
            cap_amount=20_000_000,
        )
        revenue_returns.report_revenue(
            s,
            key="demo:revenue:1",
            agreement_id=agreement.id,
            period_start=_on(65),
            period_end=_on(35),
            revenue=86_000_000,
        )
        revenue_returns.record_revenue_return(
            s,
            key="demo:return:1",
            agreement_id=agreement.id,
            amount=4_300_000,
            received_on=_on(30),
            refs={"bank_line": "demo-statement-2:4"},
        )
        _ = sanxia  # the Sanxia workshop is registered and waiting for partners
    with database.session() as s, s.begin():
        proposals = load_matching_demo(s)
    echo(f"Match run published with {proposals} proposals.")
    with database.session() as s, s.begin():
        sealed = seal_pending(s, wait=True)
    echo(f"Sealed {sealed} demo entries into the hash chain.")

    folder = settings.instance if settings is not None else instance_dir()
    tokens = issue_demo_tokens(database, echo=echo, path=folder / "demo-tokens.json")
    echo(f"Console sign-in at /console/ (password for every demo user: {DEMO_PASSWORD}):")
    for t in tokens:
        echo(f"  {t['role']:<16} {t['email']:<34} {DEMO_PASSWORD}")
    echo(
        f"Fund managers and admins also type a two-factor code: add the key {totp_secret} "
        "to an authenticator app, or run "
        f".venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{totp_secret}').now())\""
    )
    return (
        f"Demo data loaded: {len(COMPANIES)} companies, {len(BUSINESSES)} local businesses, "
        f"{len(INSTITUTIONS)} fund institutions, 3 pledges, 7 donations, 3 disbursements, "
        "1 return agreement. Priority-area designations in the demo are illustrative."
    )


#: The request descriptions are prose: the partnership kind in words, never its code
KIND_WORDS = {"product_development": "產品開發", "investment": "投資", "sponsorship": "贊助認養"}

#: Illustrative priority-area designations (not the official list of 134 townships).
DEMO_DESIGNATIONS = """# Illustrative designations for the demo only, not the official list.
town_code,type
10002060,agricultural
10008040,agricultural
10013030,agricultural
09020010,intermediate
"""


def load_matching_demo(s) -> int:
    """Offers from the companies, requests from the businesses, a published match run.

    The first proposal is accepted by both sides, so the demo shows a partnership too.
    Returns the number of proposals in the run.
    """

    users = {u.email: u for u in s.scalars(select(User))}
    manager = users["lin.manager@ndc.example.tw"]
    orgs = {o.name: o for o in s.scalars(select(Organisation))}
    matching.import_designations(s, actor=manager, text=DEMO_DESIGNATIONS)
    offers = [
        (
            "山海資通股份有限公司",
            ["product_development", "sponsorship"],
            50_000_000,
            ["J", "C"],
            ["north", "10002"],
            "10002",
            ["brand", "innovation"],
            ["SDG8", "SDG11"],
            2,
        ),
        (
            "南方食品股份有限公司",
            ["product_development", "investment"],
            80_000_000,
            ["08", "A"],
            ["south", "central"],
            "67000",
            ["relationship"],
            ["SDG2", "SDG12"],
            2,
        ),
        (
            "竹光建設股份有限公司",
            ["investment", "sponsorship"],
            30_000_000,
            ["F", "A"],
            ["central"],
            "66000",
            ["tax", "brand"],
            ["SDG11"],
            1,
        ),
    ]
    for name, kinds, budget, industries, regions, home, motives, goals, capacity in offers:
        org = orgs[name]
        member = next(u for u in users.values() if u.organisation_id == org.id)
        matching.save_offer(
            s, actor=member, company_id=org.id, kinds=kinds, budget=budget,
            industries=industries, regions=regions, home_county=home, motives=motives,
            goals=goals, capacity=capacity,
        )  # fmt: skip
    requests = [
        (
            "壯圍漁塭再生工作室",
            "product_development",
            12_000_000,
            "0322",
            "10002060",
            ["水產", "生態養殖", "SDG14"],
        ),
        ("竹山茶竹合作社", "sponsorship", 6_000_000, "0111", "10008040", ["茶", "竹", "SDG11"]),
        ("三峽藍染工坊", "product_development", 8_000_000, "C", "65000090", ["藍染", "SDG12"]),
        ("東港漁村食堂", "investment", 20_000_000, "I", "10013030", ["漁村", "SDG8"]),
    ]
    for name, kind, amount, industry, town, tags in requests:
        org = orgs[name]
        member = next(u for u in users.values() if u.organisation_id == org.id)
        matching.save_request(
            s, actor=member, business_id=org.id, kind=kind, amount=amount, industry=industry,
            town_code=town, tags=tags, description=f"{name}尋求{KIND_WORDS[kind]}夥伴",
        )  # fmt: skip
    run = matching.start_run(s, actor=manager, params={"k": 10})
    matching.publish_run(s, actor=manager, run_id=run.id)
    if run.proposals:
        first = run.proposals[0]
        for org_id in (first.offer.company_id, first.request.business_id):
            member = next(u for u in users.values() if u.organisation_id == org_id)
            matching.respond(s, actor=member, proposal_id=first.id, decision="accept",
                             reason="示範：雙方同意合作")  # fmt: skip
    return len(run.proposals)
