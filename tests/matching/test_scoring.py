from dataclasses import replace

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from matching.problem import COMPONENTS, Exclusions, Pair, Params, RelatedParty, Weights
from matching.scoring import Scorer, amount_points, conflict_pairs, industry_points, money
from matching.synthetic import generate
from tests.matching.conftest import DONGGANG, ZHUSHAN, instance, offer, request


def explain(o, r, **kw):
    inst = instance([o], [r], **kw)
    return Scorer.build(inst).explain(o, r)


def points(breakdown):
    return {c.name: c.points for c in breakdown.components}


def test_kind_is_a_hard_constraint():
    b = explain(offer(kinds=frozenset({"investment"})), request(kind="sponsorship"))
    assert not b.eligible
    assert b.blocker.en == "the company does not offer sponsorship (adoption)"
    b = explain(offer(), request())
    assert b.eligible
    assert b.components[0].reason.zh == "合作類型相符：贊助認養"


def test_industry_points_follow_tree_distance():
    assert industry_points(300, 0) == 300
    assert industry_points(300, 2) == 225
    assert industry_points(300, 6) == 75
    assert industry_points(300, None) == 0
    b = explain(offer(industries=("0891",)), request(industry="0895"))
    comp = b.components[1]
    assert comp.points == 225
    assert comp.reason.zh == "同屬 C 製造業（距離 2：0891 烘焙炊蒸食品製造業 與 0895 製茶業）"
    assert comp.reason.en == "same section C Manufacturing (distance 2: 0891 and 0895)"


def test_industry_best_interest_wins_and_open_offer_gets_half():
    b = explain(offer(industries=("A", "089")), request(industry="0895"))
    assert points(b)["industry"] == 300
    assert "within the company's industry of interest 089" in b.components[1].reason.en
    assert points(explain(offer(industries=()), request()))["industry"] == 150
    b = explain(offer(industries=("A",)), request())
    assert points(b)["industry"] == 0
    assert b.components[1].reason.en.startswith("different sections")


def test_industry_exclusion_covers_the_subtree():
    b = explain(offer(exclusions=Exclusions(industries=("08",))), request(industry="0895"))
    assert not b.eligible
    assert "excludes industry 08" in b.blocker.en


def test_region_fit_and_home_county_bonus():
    w = Weights()
    assert points(explain(offer(regions=("central",)), request()))["region"] == w.region
    assert points(explain(offer(regions=(ZHUSHAN,)), request()))["region"] == w.region
    assert points(explain(offer(regions=("10008",)), request()))["region"] == w.region
    assert points(explain(offer(regions=("south",)), request()))["region"] == 0
    assert points(explain(offer(regions=()), request()))["region"] == w.region // 2
    assert points(explain(offer(regions=("anywhere",)), request()))["region"] == w.region // 2
    home = explain(offer(regions=("south",), home_county="10008"), request())
    assert points(home)["region"] == w.home
    assert "企業故鄉 南投縣" in home.components[2].reason.zh
    doubled = explain(
        offer(regions=("central",), home_county="10008", motives=frozenset({"relationship"})),
        request(),
    )
    assert points(doubled)["region"] == w.region + 2 * w.home
    assert "doubled" in doubled.components[2].reason.en


@pytest.mark.parametrize(
    ("regions", "town", "expected"),
    [
        # Named areas beside "anywhere": full points inside them, half elsewhere.
        (("anywhere", "central"), ZHUSHAN, "full"),
        (("central", "anywhere"), ZHUSHAN, "full"),
        (("anywhere", ZHUSHAN), ZHUSHAN, "full"),
        (("anywhere", "10008"), ZHUSHAN, "full"),
        (("anywhere", "north"), ZHUSHAN, "half"),
        (("anywhere", "central"), DONGGANG, "half"),
        (("central",), DONGGANG, "none"),
    ],
)
def test_named_areas_beside_anywhere_earn_full_points(regions, town, expected):
    w = Weights()
    points_for = {"full": w.region, "half": w.region // 2, "none": 0}[expected]
    o, r = offer(regions=regions), request(town_code=town)
    b = explain(o, r)
    assert points(b)["region"] == points_for
    if expected == "full":
        assert b.components[2].reason.en.startswith("in ")
    elif expected == "half":
        assert b.components[2].reason.en.startswith("the company accepts anywhere")
    # The numpy path that prunes candidates gives the same points.
    inst = instance([o], [r])
    arrays = Scorer.build(inst).candidate_arrays(inst.requests, 5)
    assert arrays["points"][0][COMPONENTS.index("region")] == points_for


def test_region_exclusion_blocks():
    b = explain(offer(exclusions=Exclusions(areas=("10008",))), request())
    assert not b.eligible
    assert b.blocker.en == "the company excludes Nantou County"


def test_amount_fit():
    assert amount_points(150, None, 3, 10**9) == 150
    assert amount_points(150, 300, 3, 100) == 150  # within the share per partner
    assert amount_points(150, 300, 3, 200) == 75  # halfway between share and budget
    assert amount_points(150, 300, 3, 300) == 0
    assert amount_points(150, 300, 3, 301) is None
    b = explain(offer(budget=30_000_000, capacity=3), request(amount=20_000_000))
    assert points(b)["amount"] == 75
    assert "NT$200,000" in b.components[3].reason.zh
    b = explain(offer(budget=5_000_000), request(amount=10_000_000))
    assert not b.eligible
    assert "exceeds the company's whole budget NT$50,000" in b.blocker.en


def test_overlap_counts_shared_goals_ignoring_case_and_spaces():
    b = explain(
        offer(goals=frozenset({"SDG 11", "sdg12", "觀光"})),
        request(tags=frozenset({"sdg11", "SDG12", "長照"})),
    )
    assert points(b)["overlap"] == 100  # 2 of 3 for full points
    assert b.components[4].reason.zh == "共同的目標或標籤 2 項：sdg11、SDG12"
    assert points(explain(offer(), request()))["overlap"] == 0


def test_priority_boost_is_set_by_fund_managers():
    r = request(priority_type="intermediate")
    assert points(explain(offer(), r))["priority"] == 100
    params = Params(priority_weights={"agricultural": 0, "intermediate": 250, "indigenous": 0})
    b = explain(offer(), r, params=params)
    assert points(b)["priority"] == 250
    assert b.components[5].reason.zh == "位於地方創生優先推動地區（中介城鎮），加權 250 分"


def test_conflicts_through_ids_and_organisations():
    o = offer(organisation="12345675")
    inst = instance(
        [o, offer("o2")],
        [request(organisation="87654321"), request("r2", organisation="12345675"), request("r3")],
        related=(RelatedParty("12345675", "87654321", "o1", "subsidiary"),),
    )
    # r1 through the declared relation, r2 as the same organisation.
    assert conflict_pairs(inst) == {("o1", "r1"), ("o1", "r2")}
    b = Scorer.build(inst).explain(o, inst.requests[0])
    assert b.blocker.en == "conflict of interest: declared related parties"


def test_declined_and_excluded_requests_block():
    inst = instance(
        [offer(exclusions=Exclusions(requests=frozenset({"r2"})))],
        [request(), request("r2")],
        declined=(Pair("o1", "r1"),),
    )
    scorer = Scorer.build(inst)
    assert scorer.explain(inst.offers[0], inst.requests[0]).blocker.en.endswith("declined before")
    assert "excludes this request" in scorer.explain(inst.offers[0], inst.requests[1]).blocker.en
    assert len(scorer.candidate_arrays(inst.requests, 5)["offer"]) == 0


def test_money_format():
    assert money(100000) == "NT$1,000"
    assert money(123456) == "NT$1,234.56"
    assert money(500, "JPY") == "JPY 5"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_off=st.integers(1, 12), n_req=st.integers(1, 15))
def test_vectorised_scores_agree_with_explain(seed, n_off, n_req):
    inst = generate(n_off, n_req, seed, declined_share=1 / 5, related_share=1 / 5)
    inst = replace(inst, params=Params(k=n_off, min_score=0))
    scorer = Scorer.build(inst)
    requests = tuple(sorted(inst.requests, key=lambda r: r.id))
    arrays = scorer.candidate_arrays(requests, n_off)
    kept = {
        (scorer.offers[o].id, requests[r].id): (s, tuple(p))
        for o, r, s, p in zip(
            arrays["offer"], arrays["request"], arrays["score"], arrays["points"], strict=True
        )
    }
    for o in scorer.offers:
        for r in requests:
            b = scorer.explain(o, r)
            if b.eligible:
                assert kept[(o.id, r.id)] == (b.total, tuple(c.points for c in b.components))
            else:
                assert (o.id, r.id) not in kept
    assert len(COMPONENTS) == arrays["points"].shape[1]


def test_pruning_keeps_best_k_with_ties_to_smaller_id():
    offers = [offer(f"o{i}") for i in range(5)]
    inst = instance(offers, [request()])
    scorer = Scorer.build(inst)
    arrays = scorer.candidate_arrays(inst.requests, 3)
    assert [scorer.offers[o].id for o in arrays["offer"]] == ["o0", "o1", "o2"]
