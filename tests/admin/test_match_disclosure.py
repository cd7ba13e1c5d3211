"""Each side of a proposal sees only what it may of the explanation (matching/disclosure.py)."""

from __future__ import annotations

import json

from matching import services as matching
from matching.models import MatchProposal
from tests.admin.conftest import seed_published_proposal


def _with_competition(database, ids) -> int:
    """Two companies' offers for business X's request: the published proposal has a losing
    alternative (company B's offer) and company A's budget in its amount reason."""
    from identity.models import User

    with database.session() as s, s.begin():
        matching.save_offer(
            s,
            actor=s.get(User, ids["user_company_b"]),
            company_id=ids["company_b"],
            kinds=["sponsorship"],
            budget=300_000,
            regions=["anywhere"],
        )
    return seed_published_proposal(database, ids)


def test_alternatives_and_budgets_are_for_managers_only(console):
    pid = _with_competition(console.database, console.ids)
    with console.database.session() as s:
        stored = json.loads(s.get(MatchProposal, pid).explanation)
    assert stored.get("alternative_offer"), "the fixture needs a losing alternative"
    company_b_offer = stored["alternative_offer"]["offer"]

    def explanation(actor):
        response = console.client().get(
            f"/api/v1/match/proposals/{pid}",
            headers={"Authorization": f"Bearer {console.tokens[actor]}"},
        )
        assert response.status_code == 200, response.json
        return response.json["explanation"]

    manager = explanation("ndc")
    assert manager["alternative_offer"]["offer"] == company_b_offer
    amount = {c["name"]: c for c in manager["components"]}["amount"]
    assert "NT$5,000" in amount["reason"]["en"]  # company A's budget per partner

    company = explanation("company_a")
    assert "alternative_offer" not in company and "alternative_request" not in company
    assert company_b_offer not in json.dumps(company)

    business = explanation("business_x")
    assert "alternative_offer" not in business and "alternative_request" not in business
    text = json.dumps(business, ensure_ascii=False)
    assert "NT$5,000" not in text and "5,000" not in text
    amount = {c["name"]: c for c in business["components"]}["amount"]
    assert amount["reason"]["zh"] == "所需金額在企業為每位夥伴預留的預算之內"
    assert amount["points"] == amount["max"]


def test_the_console_pages_show_each_side_its_own_view(console):
    pid = _with_competition(console.database, console.ids)
    business = console.client("business_x").get("/console/business").text
    assert f'id="proposal-{pid}"' in business
    assert "NT$5,000" not in business
    assert "次佳選擇" not in business and "Best alternative" not in business
    company = console.client("company_a").get("/console/company").text
    assert "次佳選擇" not in company
