"""The matching workflow over the database: offers, requests, runs, proposals, partnerships."""

import json

import pytest
from click.testing import CliRunner

from foundation.errors import InvalidState, NotFound, PermissionDenied, ValidationError
from matching import services as ms
from matching.models import MatchRun, Partnership
from tests import factories as f


@pytest.fixture
def world(session):
    with f.tx(session):
        company = f.organisation(session, "company", county_code="10008")
        other_company = f.organisation(session, "company")
        business = f.organisation(session, "business", town_code="10008040", county_code="10008")
        related_business = f.organisation(
            session, "business", town_code="10008040", county_code="10008"
        )
        unverified = f.organisation(session, "business", verified=False)
        w = {
            "company": company,
            "other_company": other_company,
            "business": business,
            "related_business": related_business,
            "unverified": unverified,
            "manager": f.manager(session, "NDC"),
            "company_user": f.user(session, "company_member", company),
            "other_user": f.user(session, "company_member", other_company),
            "business_user": f.user(session, "business_member", business),
            "related_business_user": f.user(session, "business_member", related_business),
            "unverified_user": f.user(session, "business_member", unverified),
        }
    return type("World", (), w)


def _offer(session, w, **kw):
    data = dict(
        kinds=["sponsorship", "product_development"],
        budget=1_000_000,
        industries=["A"],
        regions=["central"],
        home_county="10008",
        capacity=2,
    )
    data.update(kw)
    return ms.save_offer(session, actor=w.company_user, company_id=w.company.id, **data)


def _request(session, w, who="business", **kw):
    data = dict(
        kind="sponsorship", amount=300_000, industry="0111", town_code="10008040", tags=["tea"]
    )
    data.update(kw)
    org = getattr(w, who)
    return ms.save_request(session, actor=getattr(w, f"{who}_user"), business_id=org.id, **data)


def test_members_edit_only_their_own(session, world):
    with pytest.raises(NotFound), f.tx(session):
        ms.save_offer(
            session, actor=world.other_user, company_id=world.company.id, kinds=["sponsorship"]
        )
    with pytest.raises(ValidationError), f.tx(session):
        _offer(session, world, industries=["ZZ9"])  # not a DGBAS code
    with pytest.raises(ValidationError), f.tx(session):
        _request(session, world, town_code="99999999")


def test_run_review_publish_accept_makes_a_partnership(session, world):
    with f.tx(session):
        _offer(session, world)
        _request(session, world)
        _request(session, world, who="unverified")  # unverified businesses take no part
        run = ms.start_run(session, actor=world.manager, params={"k": 5})
    assert run.status == "reviewing" and len(run.proposals) == 1
    proposal = run.proposals[0]
    explanation = json.loads(proposal.explanation)
    assert {c["name"] for c in explanation["components"]} >= {"industry", "region", "amount"}
    assert all(c["reason"]["zh"] and c["reason"]["en"] for c in explanation["components"])
    # Not visible to the sides before publication.
    with pytest.raises(NotFound):
        ms.get_proposal(session, world.company_user, proposal.id)
    with f.tx(session):
        ms.publish_run(session, actor=world.manager, run_id=run.id)
    assert [p.id for p in ms.visible_proposals(session, world.business_user)] == [proposal.id]
    assert ms.visible_proposals(session, world.other_user) == []
    with pytest.raises(NotFound):
        ms.get_proposal(session, world.other_user, proposal.id)
    with pytest.raises(PermissionDenied), f.tx(session):
        ms.respond(session, actor=world.manager, proposal_id=proposal.id, decision="accept")
    with f.tx(session):
        ms.respond(session, actor=world.company_user, proposal_id=proposal.id, decision="accept")
    assert session.query(Partnership).count() == 0  # one side is not enough
    with f.tx(session):
        done = ms.respond(
            session,
            actor=world.business_user,
            proposal_id=proposal.id,
            decision="accept",
            reason="好",
        )
    assert done.status == "accepted"
    [partnership] = ms.partnerships(session, world.company_user)
    assert partnership.kind == "sponsorship" and partnership.business_id == world.business.id
    assert ms.partnerships(session, world.other_user) == []
    # A new run keeps the accepted pair fixed.
    with f.tx(session):
        again = ms.start_run(session, actor=world.manager)
    assert [(p.offer_id, p.request_id, p.fixed) for p in again.proposals] == [
        (proposal.offer_id, proposal.request_id, True)
    ]


def test_declined_pairs_are_never_proposed_again(session, world):
    with f.tx(session):
        _offer(session, world)
        _request(session, world)
        run = ms.start_run(session, actor=world.manager)
        ms.publish_run(session, actor=world.manager, run_id=run.id)
    proposal = run.proposals[0]
    with pytest.raises(ValidationError, match="why"), f.tx(session):
        ms.respond(session, actor=world.business_user, proposal_id=proposal.id, decision="decline")
    with f.tx(session):
        ms.respond(
            session,
            actor=world.business_user,
            proposal_id=proposal.id,
            decision="decline",
            reason="已有合作夥伴",
        )
    with pytest.raises(InvalidState), f.tx(session):
        ms.respond(session, actor=world.company_user, proposal_id=proposal.id, decision="accept")
    with f.tx(session):
        again = ms.start_run(session, actor=world.manager)
    assert again.proposals == []


def test_related_parties_are_never_matched(session, world):
    with f.tx(session):
        _offer(session, world, capacity=1)
        _request(session, world, who="related_business", amount=100_000)
        ms.declare_related(
            session, actor=world.related_business_user, other_id=world.company.id, note="子公司"
        )
        run = ms.start_run(session, actor=world.manager)
    assert run.proposals == []


def test_only_managers_run_and_infeasible_settings_say_why(session, world):
    from matching.errors import Infeasible

    with pytest.raises(PermissionDenied), f.tx(session):
        ms.start_run(session, actor=world.company_user)
    with f.tx(session):
        _offer(session, world)
        _request(session, world)
        run = ms.start_run(session, actor=world.manager)
        ms.publish_run(session, actor=world.manager, run_id=run.id)
    for actor in (world.company_user, world.business_user):
        with f.tx(session):
            ms.respond(session, actor=actor, proposal_id=run.proposals[0].id, decision="accept")
    # The accepted pair is fixed and lies outside any priority area: 100% cannot be met.
    with pytest.raises(Infeasible, match="min_priority_share") as exc, f.tx(session):
        ms.start_run(session, actor=world.manager, params={"min_priority_share": "1"})
    assert "fixed pairs are outside priority areas" in exc.value.detail
    assert session.query(MatchRun).count() == 1


def test_designations_import_reports_bad_lines_and_changes_nothing(session, world):
    from matching.errors import DesignationError

    with f.tx(session):
        imported = ms.import_designations(
            session, actor=world.manager, text="town_code,type\n10008040,agricultural\n"
        )
    assert imported == 1
    with pytest.raises(DesignationError, match="line 3"), f.tx(session):
        ms.import_designations(
            session, actor=world.manager, text="town_code,type\n10002060,農山漁村\n123,x\n"
        )
    assert ms.designations(session) == {"10008040": "agricultural"}


def test_cli_match_run(database, monkeypatch):
    from placefund.cli import main

    with database.session() as session, f.tx(session):
        company = f.organisation(session, "company")
        business = f.organisation(session, "business")
        f.user(session, "admin", f.organisation(session, "institution"))
        member = f.user(session, "company_member", company)
        ms.save_offer(
            session, actor=member, company_id=company.id, kinds=["sponsorship"], budget=500_000
        )
        ms.save_request(
            session,
            actor=f.user(session, "business_member", business),
            business_id=business.id,
            kind="sponsorship",
            amount=200_000,
            industry="A",
            town_code="10008040",
        )
    monkeypatch.setenv("DATABASE_URL", str(database.engine.url))
    result = CliRunner().invoke(main, ["match", "run", "--publish", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "1 proposals" in result.output and "published" in result.output


def _published(session, w):
    with f.tx(session):
        _offer(session, w)
        _request(session, w)
        run = ms.start_run(session, actor=w.manager, params={"k": 5})
        ms.publish_run(session, actor=w.manager, run_id=run.id)
    (proposal,) = run.proposals
    return proposal


def _accept(session, actor, proposal_id):
    with f.tx(session):
        return ms.respond(session, actor=actor, proposal_id=proposal_id, decision="accept")


def test_after_one_side_accepts_the_stage_says_who_is_awaited(session, world):
    proposal = _published(session, world)
    assert ms.proposal_stage(proposal) == "awaiting_both"
    _accept(session, world.company_user, proposal.id)
    assert ms.proposal_stage(proposal) == "awaiting_business"
    _accept(session, world.business_user, proposal.id)
    assert ms.proposal_stage(proposal) == "accepted"
    other = world.related_business
    with f.tx(session):
        _request(session, world, who="related_business", amount=100_000)
        run = ms.start_run(session, actor=world.manager, params={"k": 5})
    new = next(p for p in run.proposals if p.request.business_id == other.id)
    assert ms.proposal_stage(new) == "under_review"
    with f.tx(session):
        ms.publish_run(session, actor=world.manager, run_id=run.id)
    _accept(session, world.related_business_user, new.id)
    assert ms.proposal_stage(new) == "awaiting_company"


def test_a_second_run_lists_an_accepted_proposal_once(session, world):
    proposal = _published(session, world)
    _accept(session, world.company_user, proposal.id)
    _accept(session, world.business_user, proposal.id)
    with f.tx(session):
        again = ms.start_run(session, actor=world.manager, params={"k": 5})
        ms.publish_run(session, actor=world.manager, run_id=again.id)
    assert [p.fixed for p in again.proposals] == [True]  # the run itself keeps the pair
    for actor in (world.company_user, world.business_user, world.manager):
        assert [p.id for p in ms.visible_proposals(session, actor)] == [proposal.id]
    assert [p.id for p in ms.visible_proposals(session, world.manager, run_id=again.id)] == [
        again.proposals[0].id
    ]


def test_a_pair_proposed_again_keeps_the_acceptance_already_given(session, world):
    proposal = _published(session, world)
    _accept(session, world.company_user, proposal.id)
    with f.tx(session):
        again = ms.start_run(session, actor=world.manager, params={"k": 5})
        ms.publish_run(session, actor=world.manager, run_id=again.id)
    (new,) = again.proposals
    assert proposal.status == "superseded"
    assert [p.id for p in ms.visible_proposals(session, world.company_user)] == [new.id]
    assert (new.company_response, ms.proposal_stage(new)) == ("accepted", "awaiting_business")
    done = _accept(session, world.business_user, new.id)
    assert done.status == "accepted"
    assert len(ms.partnerships(session, world.company_user)) == 1


def test_listing_amounts_are_whole_dollars(session, world):
    from foundation.errors import InvalidAmount

    with pytest.raises(InvalidAmount) as exc, f.tx(session):
        _request(session, world, amount=100_050)  # NT$1,000.50
    assert exc.value.fields == {"amount": ["must be a multiple of 100"]}
    with pytest.raises(InvalidAmount), f.tx(session):
        _offer(session, world, budget=99)
    with f.tx(session):
        assert _request(session, world, amount=100_000).amount == 100_000


@pytest.mark.parametrize("budget", [0, -100_000])
def test_a_stated_budget_is_more_than_zero_for_every_face(session, world, budget):
    """The one rule both faces call: the API refused NT$0 and the console stored it."""
    from foundation.errors import InvalidAmount

    with pytest.raises(InvalidAmount) as exc, f.tx(session):
        _offer(session, world, budget=budget)
    assert exc.value.reason == "zero_budget" and list(exc.value.fields) == ["budget"]
    with f.tx(session):
        assert _offer(session, world, budget=None).budget is None
        # An amount sought of NT$0 stays allowed (a partner for product development)
        assert _request(session, world, amount=0).amount == 0


def test_only_partners_learn_each_others_contacts(session, world):
    proposal = _published(session, world)
    _accept(session, world.company_user, proposal.id)
    _accept(session, world.business_user, proposal.id)
    (partnership,) = ms.partnerships(session, world.company_user)
    seen_by_company = ms.partner_contacts(
        session, world.company_user, partnership, world.company.id
    )
    assert [u.id for u in seen_by_company] == [world.business_user.id]
    seen_by_business = ms.partner_contacts(
        session, world.business_user, partnership, world.business.id
    )
    assert [u.id for u in seen_by_business] == [world.company_user.id]
    assert ms.partner_contacts(session, world.manager, partnership, world.company.id)
    with pytest.raises(NotFound):
        ms.partner_contacts(session, world.other_user, partnership, world.company.id)
    with pytest.raises(NotFound):
        ms.partner_contacts(session, world.other_user, partnership, world.other_company.id)
