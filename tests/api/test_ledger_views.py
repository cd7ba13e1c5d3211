"""api/ledger_views.py: reading the books, closing periods, statements, the public summary
and the fund's position (figures that say what they mean), and corrections (adjustments and
their reversal)."""

from __future__ import annotations

import pytest

from tests.api.conftest import V1, new_key


def test_ledger_reads(world):
    tb = world.call("ndc", "GET", f"{V1}/ledger/trial-balance").json
    assert tb["balanced"] is True
    bank = world.call("ndc", "GET", f"{V1}/ledger/accounts/assets:bank:main/balance").json
    assert bank["balance"]["amount"] == 2_500_000
    st = world.call("ndc", "GET", f"{V1}/ledger/accounts/assets:bank:main/statement").json
    assert st["closing"]["amount"] == 2_500_000 and len(st["lines"]) == 2
    entry = world.call("ndc", "GET", f"{V1}/ledger/entries/{{entry}}").json
    assert sum(p["amount"]["amount"] for p in entry["postings"]) == 0
    missing = world.call("ndc", "GET", f"{V1}/ledger/accounts/assets:nope/balance")
    assert missing.status_code == 404
    accounts = world.call("ndc", "GET", f"{V1}/ledger/accounts?prefix=assets:bank").json
    assert [a["code"] for a in accounts["items"]] == ["assets:bank:main"]


def test_period_close_with_assertions(world):
    bad = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/periods",
        json={"end_date": "2099-01-31", "assertions": {"assets:bank:main": 1}},
    )
    assert bad.status_code == 409 and bad.json["code"] == "balance_assertion_failed"
    ok = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/periods",
        json={"end_date": "2099-01-31", "assertions": {"assets:bank:main": 2_500_000}},
    )
    assert ok.status_code == 201 and ok.json["assertions"] == {"assets:bank:main": 2_500_000}
    late = world.call(
        "ndc",
        "POST",
        f"{V1}/donations",
        key=new_key(),
        json={"amount": 100_000, "received_on": "2098-12-31"},
    )
    assert late.status_code == 409 and late.json["code"] == "period_closed"


def test_donor_statement(world):
    from ledger.fund.common import today

    st = world.call("company_a", "GET", f"{V1}/statements/donor").json
    assert st["company"]["id"] == world.ids["company_a"]
    assert [d["id"] for d in st["donations"]] == [world.ids["donation_a"]]
    assert st["net"] == [{"amount": 500_000, "currency": "TWD", "display": "NT$5,000"}]
    assert st["from"] == f"{today().year}-01-01"
    assert world.call("ndc", "GET", f"{V1}/statements/donor").status_code == 422


def _give(database, company_id, year):
    """Company a's year: donations recorded out of date order, one part-refunded, and two of
    them relabelled USD. (The fund books gifts in TWD only, so the services cannot make a USD
    gift; the statement still sums per currency, which the relabelled rows check.)"""
    import datetime as dt

    from sqlalchemy import update

    from ledger.fund import donations
    from ledger.fund.models import Donation

    made = []
    with database.session() as s, s.begin():
        for n, (day, amount) in enumerate(
            [
                (dt.date(year, 3, 5), 100_000),
                (dt.date(year, 1, 20), 200_000),
                (dt.date(year, 3, 5), 5_000),
                (dt.date(year, 2, 1), 300_000),
                (dt.date(year, 1, 20), 7_000),
            ]
        ):
            d = donations.record_donation(
                s,
                key=f"give:{n}",
                channel="bank_transfer",
                amount=amount,
                company_id=company_id,
                received_on=day,
            )
            made.append(d.id)
        donations.record_refund(s, key="give:back", donation_id=made[3], amount=50_000)
        s.execute(
            update(Donation).where(Donation.id.in_([made[2], made[4]])).values(currency="USD")
        )
    return made


def test_donor_statement_pages_the_donations_and_sums_the_whole_year(world, database):
    import datetime as dt

    from identity.models import Organisation
    from ledger.fund.common import today
    from ledger.listings import donor_statement, donor_totals

    year = today().year
    made = _give(database, world.ids["company_a"], year)
    full = world.call("company_a", "GET", f"{V1}/statements/donor?limit=200").json
    assert full["next_cursor"] is None
    ordered = [d["id"] for d in full["donations"]]
    # date order, then id within a day (the world's pledge payment is dated today)
    dates = [d["received_on"] for d in full["donations"]]
    assert dates == sorted(dates) and set(ordered) == {*made, world.ids["donation_a"]}
    assert [i for i in ordered if i in made] == [made[1], made[4], made[3], made[0], made[2]]

    seen, cursor, pages = [], None, 0
    while True:
        q = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = world.call("company_a", "GET", f"{V1}/statements/donor", query_string=q)
        assert r.status_code == 200 and len(r.json["donations"]) <= 2
        # every page carries the whole year's totals
        assert r.json["net"] == full["net"] and r.json["pledged"] == full["pledged"]
        seen += [d["id"] for d in r.json["donations"]]
        pages += 1
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    assert seen == ordered and pages == 3

    twd = 500_000 + 100_000 + 200_000 + 300_000
    assert full["received"] == [
        {"amount": twd, "currency": "TWD", "display": "NT$11,000"},
        {"amount": 12_000, "currency": "USD", "display": full["received"][1]["display"]},
    ]
    assert [m["amount"] for m in full["refunded"]] == [50_000, 0]
    assert [(m["amount"], m["currency"]) for m in full["net"]] == [
        (twd - 50_000, "TWD"),
        (12_000, "USD"),
    ]
    assert [(m["amount"], m["currency"]) for m in full["pledged"]] == [(1_000_000, "TWD")]
    # the database's sums are the statement's (the PDF's) sums, to the currency
    with database.session() as s:
        company = s.get(Organisation, world.ids["company_a"])
        start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        st, totals = donor_statement(s, company, start, end), donor_totals(s, company, start, end)
        assert (totals.received, totals.refunded, totals.pledged) == (
            st.received,
            st.refunded,
            st.pledged,
        )
        assert [d.id for d in st.donations] == ordered


def test_donor_statement_default_page_and_an_empty_year(world):
    r = world.call("company_a", "GET", f"{V1}/statements/donor?year=2001")
    assert r.status_code == 200
    assert r.json["donations"] == [] and r.json["next_cursor"] is None
    assert r.json["received"] == [] and r.json["net"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "12"}, "cursor"),
        ({"cursor": "2026-13-01.5"}, "cursor"),
        ({"cursor": "2026-01-01.x"}, "cursor"),
        ({"cursor": "2026-01-01." + "9" * 19}, "cursor"),
    ],
)
def test_donor_statement_refuses_a_bad_page(world, query, field):
    r = world.call("company_a", "GET", f"{V1}/statements/donor", query_string=query)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert f"query.{field}" in r.json["errors"]


def test_a_donor_cursor_beyond_the_id_column_skips_the_rest_of_that_day(world, database):
    from ledger.fund.common import today

    year = today().year
    made = _give(database, world.ids["company_a"], year)
    r = world.call(
        "company_a",
        "GET",
        f"{V1}/statements/donor",
        query_string={"cursor": f"{year}-01-20." + "9" * 18},
    )
    assert r.status_code == 200
    ids = [d["id"] for d in r.json["donations"]]
    assert made[1] not in ids and made[4] not in ids and made[3] == ids[0]


def test_public_summary_names_only_opted_in_donors(world, client):
    r = client.get(f"{V1}/public/summary")
    assert r.status_code == 200
    s = r.json
    assert [d["name"] for d in s["public_donors"]] == ["乙公司"]
    assert s["donations_in"]["amount"] == 2_500_000
    assert s["committed"]["pending"]["amount"] == 700_000 and s["total_out"]["amount"] == 0
    assert "10008" in {c["code"] for c in s["by_county"]}
    assert "甲公司" not in r.get_data(as_text=True)


def test_manager_posts_an_adjustment_and_reverses_it_once(world, database):
    from sqlalchemy import func, select

    from ledger.books.models import Entry

    def entries():
        with database.session() as s:
            return s.scalar(select(func.count()).select_from(Entry))

    def bank():
        path = f"{V1}/ledger/accounts/assets:bank:main/balance"
        return world.call("ndc", "GET", path).json["balance"]["amount"]

    body = {
        "reason": "銀行手續費 11 月",
        "on": "2026-11-20",
        "lines": [
            {"account": "expense:fees:processor:TWD", "amount": 1_500},
            {"account": "assets:bank:main", "amount": -1_500},
        ],
    }
    start, key = bank(), new_key()
    made = world.call("ndc", "POST", f"{V1}/ledger/adjustments", json=body, key=key)
    assert made.status_code == 201, made.json
    assert made.json["kind"] == "adjustment" and made.json["entry_date"] == "2026-11-20"
    assert {p["account"]: p["amount"]["amount"] for p in made.json["postings"]} == {
        "expense:fees:processor:TWD": 1_500,
        "assets:bank:main": -1_500,
    }
    assert bank() == start - 1_500
    again = world.call("ndc", "POST", f"{V1}/ledger/adjustments", json=body, key=key)
    assert again.json["id"] == made.json["id"] and again.headers["Idempotent-Replayed"] == "true"

    path = f"{V1}/ledger/entries/{made.json['id']}/reversal"
    reversal_key = new_key()
    reversed_ = world.call("moea", "POST", path, json={"reason": "重複入帳"}, key=reversal_key)
    assert reversed_.status_code == 201, reversed_.json
    assert reversed_.json["reverses_entry_id"] == made.json["id"]
    assert bank() == start
    retried = world.call("moea", "POST", path, json={"reason": "重複入帳"}, key=reversal_key)
    assert retried.json["id"] == reversed_.json["id"]
    assert retried.headers["Idempotent-Replayed"] == "true"
    of_reversal = f"{V1}/ledger/entries/{reversed_.json['id']}/reversal"
    refused = world.call("ndc", "POST", of_reversal, json={"reason": "x"}, key=new_key())
    assert refused.status_code == 409 and "cannot itself be reversed" in refused.json["detail"]
    twice = world.call("ndc", "POST", path, json={"reason": "again"}, key=new_key())
    assert twice.status_code == 409 and twice.json["code"] == "already_reversed"

    # Other operations' entries are corrected through their operation, not reversed here
    count = entries()
    donation = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/entries/{{entry}}/reversal",
        json={"reason": "x"},
        key=new_key(),
    )
    assert donation.status_code == 409 and donation.json["code"] == "invalid_state"
    assert entries() == count


@pytest.mark.parametrize(
    ("lines", "status", "code"),
    [
        (
            [
                {"account": "expense:fees:processor:TWD", "amount": 100},
                {"account": "assets:bank:main", "amount": -99},
            ],
            422,
            "unbalanced_entry",
        ),
        (
            [
                {"account": "expense:nonsense", "amount": 100},
                {"account": "assets:bank:main", "amount": -100},
            ],
            422,
            "unknown_account",
        ),
        (
            [
                {"account": "expense:fees:processor:TWD", "amount": 10**15},
                {"account": "assets:bank:main", "amount": -(10**15)},
            ],
            409,
            "insufficient_funds",
        ),
        ([{"account": "assets:bank:main", "amount": 0}], 422, "validation_error"),
    ],
)
def test_bad_adjustments_are_refused_and_write_nothing(world, database, lines, status, code):
    from sqlalchemy import func, select

    from ledger.books.models import Entry

    with database.session() as s:
        before = s.scalar(select(func.count()).select_from(Entry))
    r = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/adjustments",
        json={"reason": "test", "lines": lines},
        key=new_key(),
    )
    assert r.status_code == status and r.json["code"] == code, r.json
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Entry)) == before
    assert world.call("company_a", "POST", f"{V1}/ledger/adjustments", json={}).status_code == 403


def test_the_public_summary_says_received_available_committed_and_pledged(world, client):
    from foundation.reference import counties

    s = client.get(f"{V1}/public/summary").json
    assert s["received"]["amount"] == 2_500_000
    assert s["available"]["amount"] == 1_800_000
    assert {k: v["amount"] for k, v in s["committed"].items()} == {
        "pending": 700_000,
        "approved": 0,
        "paid": 0,
    }
    assert s["pledged_not_received"]["amount"] == 500_000
    assert "balance" not in s  # it counted unpaid pledges as money
    assert s["as_of"]
    assert [c["code"] for c in s["by_county"]] == sorted(counties())
    assert [t["code"] for t in s["by_priority_type"]] == [
        "agricultural",
        "intermediate",
        "indigenous",
    ]
    lienchiang = next(c for c in s["by_county"] if c["code"] == "09007")
    assert lienchiang["received"]["amount"] == 0
    assert lienchiang["committed"]["paid"]["amount"] == 0


def test_the_ledger_position_shows_money_held_for_pending_proposals(world):
    pos = world.call("ndc", "GET", f"{V1}/ledger/position").json
    assert pos["held"] == {
        "unrestricted": {"amount": 700_000, "currency": "TWD", "display": "NT$7,000"}
    }
