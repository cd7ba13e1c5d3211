"""Organisation pages show the organisation's partnerships (and never another's)."""

from __future__ import annotations

import re

from tests.admin.conftest import post_form, seed_published_proposal


def partnership_rows(html: str) -> list[str]:
    section = html.split('<section id="partnerships">', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<tr id="partnership-(\d+)">(.*?)</tr>', section, re.S)


def accept_both(console) -> int:
    pid = seed_published_proposal(console.database, console.ids)
    url = f"/console/proposals/{pid}/accept"
    for actor in ("company_a", "business_x"):
        c = console.client(actor)
        assert post_form(c, url, url, {"confirmed": "yes"}).status_code == 302
    return pid


def test_both_sides_and_managers_see_the_partnership_with_its_partner(console):
    accept_both(console)
    company = console.client("company_a").get("/console/company").text
    ((_, row),) = partnership_rows(company)
    assert "丙工作室" in row and "贊助認養" in row
    business = console.client("business_x").get("/console/business").text
    ((_, row),) = partnership_rows(business)
    assert "甲公司" in row
    manager = console.client("ndc")
    for org, partner in (("company_a", "丙工作室"), ("business_x", "甲公司")):
        page = manager.get(f"/console/organisations/{console.ids[org]}").text
        ((_, row),) = partnership_rows(page)
        assert partner in row


def test_other_organisations_do_not_see_it(console):
    accept_both(console)
    for actor, home in (("company_b", "/console/company"), ("business_y", "/console/business")):
        page = console.client(actor).get(home).text
        assert partnership_rows(page) == []
        assert "丙工作室" not in page and "甲公司" not in page
    manager = console.client("ndc")
    for org in ("company_b", "business_y"):
        assert (
            partnership_rows(manager.get(f"/console/organisations/{console.ids[org]}").text) == []
        )
    # and a member cannot open another organisation's page at all
    assert (
        console.client("company_b")
        .get(f"/console/organisations/{console.ids['company_a']}")
        .status_code
        == 403
    )


def test_no_partnership_yet(console):
    page = console.client("company_a").get("/console/company").text
    assert partnership_rows(page) == []
    assert '<section id="partnerships">' in page
