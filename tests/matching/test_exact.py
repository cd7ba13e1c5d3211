"""The matcher against an exact reference on instances drawn across every field's documented
range, extremes included (money up to ``MAX_MONEY``, weights up to ``MAX_WEIGHT``,
capacities up to ``MAX_COUNT``, budgets met to the last unit): no wrong "optimal", ever.

The reference is independent of the solver: pair scores from ``Scorer.explain`` (plain
Python integers, not the numpy path the solver prunes with), then every subset of eligible
pairs tried with exact integer and ``Fraction`` arithmetic.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, example, given, settings

from matching.errors import Infeasible
from matching.instance import (
    MAX_COUNT,
    MAX_MIN_SCORE,
    MAX_MONEY,
    MAX_WEIGHT,
    parse_instance,
    result_to_json,
)
from matching.scoring import Scorer
from matching.solver import solve
from tests.matching.conftest import DONGGANG, SUAO, ZHUSHAN

TOWNS = (ZHUSHAN, SUAO, DONGGANG)
INDUSTRIES = ("0895", "0811", "551", "C", "I")
REGIONS = ("central", "north", "10008", "anywhere", DONGGANG)


def _weight():
    return st.one_of(st.sampled_from([0, 1, MAX_WEIGHT]), st.integers(0, MAX_WEIGHT))


def _money():
    # TWD: whole dollars (multiples of 100 minor units), 0 to MAX_MONEY.
    return st.one_of(
        st.sampled_from([0, 100, MAX_MONEY]),
        st.integers(0, MAX_MONEY // 100).map(lambda v: v * 100),
        st.integers(1, 10_000).map(lambda v: v * 10_000),
    )


@st.composite
def instances(draw):
    n_req = draw(st.integers(1, 4))
    n_off = draw(st.integers(1, 3))
    requests = []
    for i in range(n_req):
        requests.append(
            {
                "id": f"r{i}",
                "kind": draw(st.sampled_from(["sponsorship", "investment"])),
                "amount": draw(_money()),
                "industry": draw(st.sampled_from(INDUSTRIES)),
                "town_code": draw(st.sampled_from(TOWNS)),
                "priority_type": draw(st.sampled_from([None, "agricultural", "indigenous"])),
                "tags": draw(st.lists(st.sampled_from(["SDG8", "sdg 11", "觀光"]), max_size=2)),
                "capacity": draw(st.sampled_from([1, 1, 2, MAX_COUNT])),
            }
        )
    amounts = [r["amount"] for r in requests]
    offers = []
    for j in range(n_off):
        # A budget drawn freely, or met exactly by some requests' amounts (where a unit of
        # rounding would drop one), or none.
        subset = draw(st.lists(st.sampled_from(amounts), min_size=1, max_size=3))
        budget = draw(st.one_of(st.none(), _money(), st.just(min(sum(subset), MAX_MONEY))))
        offers.append(
            {
                "id": f"o{j}",
                "kinds": draw(
                    st.lists(
                        st.sampled_from(["sponsorship", "investment"]), min_size=1, unique=True
                    )
                ),
                "budget": budget,
                "industries": draw(st.lists(st.sampled_from(INDUSTRIES), max_size=2)),
                "regions": draw(st.lists(st.sampled_from(REGIONS), max_size=3, unique=True)),
                "home_county": draw(st.sampled_from([None, "10008", "10002"])),
                "motives": draw(st.sampled_from([[], ["relationship"]])),
                "goals": draw(st.lists(st.sampled_from(["SDG8", "SDG11", "觀光"]), max_size=3)),
                "capacity": draw(st.sampled_from([1, 2, 3, MAX_COUNT])),
            }
        )
    pairs = [(f"o{j}", f"r{i}") for j in range(n_off) for i in range(n_req)]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=3, unique=True))
    fixed = chosen[:1] if draw(st.booleans()) else []
    declined = chosen[1:2]
    related = chosen[2:3]
    params = {
        "k": draw(st.sampled_from([n_off, MAX_COUNT])),
        "min_score": draw(st.sampled_from([0, 1, 500, MAX_MIN_SCORE])),
        "weights": {
            "industry": draw(_weight()),
            "region": draw(_weight()),
            "home": draw(_weight()),
            "amount": draw(_weight()),
            "overlap": draw(_weight()),
            "overlap_full_at": draw(st.sampled_from([1, 2, 3, MAX_COUNT])),
        },
        "priority_weights": {"agricultural": draw(_weight()), "indigenous": draw(_weight())},
        "enforce_budgets": draw(st.booleans()),
        "mip_gap": "0",
    }
    share = draw(st.sampled_from([None, "0", "1/3", "50%", "0.000001", "1"]))
    if share is not None:
        params["min_priority_share"] = share
    return {
        "format": "placefund.match.instance/1",
        "currency": "TWD",
        "params": params,
        "offers": offers,
        "requests": requests,
        "related_parties": [{"a": o, "b": r} for o, r in related],
        "declined": [{"offer": o, "request": r} for o, r in declined],
        "fixed": [{"offer": o, "request": r} for o, r in fixed],
    }


def reference(inst):
    """The best total (fixed pairs included) and whether any assignment exists, by trying
    every subset of eligible pairs with exact arithmetic; ``None`` when none is feasible."""
    scorer = Scorer.build(inst)
    offers = {o.id: o for o in inst.offers}
    requests = {r.id: r for r in inst.requests}
    fixed = {(p.offer, p.request) for p in inst.fixed}
    scores = {}
    for o in inst.offers:
        for r in inst.requests:
            b = scorer.explain(o, r)
            if b.eligible or (o.id, r.id) in fixed:
                scores[o.id, r.id] = b.total
    free = [pair for pair in scores if pair not in fixed]
    share = inst.params.min_priority_share or Fraction(0)
    best = None
    for n in range(len(free) + 1):
        for subset in itertools.combinations(free, n):
            chosen = list(fixed) + list(subset)
            if feasible(inst, chosen, offers, requests, share):
                total = sum(scores[pair] for pair in chosen)
                best = total if best is None else max(best, total)
    return best, scores


def feasible(inst, chosen, offers, requests, share) -> bool:
    for oid, o in offers.items():
        mine = [requests[r] for x, r in chosen if x == oid]
        if len(mine) > o.capacity:
            return False
        limited = inst.params.enforce_budgets and o.budget is not None
        if limited and sum(r.amount for r in mine) > o.budget:
            return False
    for rid, r in requests.items():
        if sum(1 for _, x in chosen if x == rid) > r.capacity:
            return False
    if share and chosen:
        prio = sum(1 for _, r in chosen if requests[r].priority_type is not None)
        if Fraction(prio, len(chosen)) < share:
            return False
    return True


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(instances())
@example(
    # Issue 15: a budget met exactly by two requests at the top of the range.
    {
        "offers": [{"id": "o0", "kinds": ["sponsorship"], "budget": MAX_MONEY, "capacity": 2}],
        "requests": [
            {
                "id": f"r{i}",
                "kind": "sponsorship",
                "amount": MAX_MONEY // 2,
                "industry": "0895",
                "town_code": ZHUSHAN,
            }
            for i in range(2)
        ],
        "params": {"weights": {"amount": MAX_WEIGHT, "region": MAX_WEIGHT}},
    }
)
def test_solver_equals_the_exact_reference(data):
    inst = parse_instance(json.loads(json.dumps(data)))
    best, scores = reference(inst)
    try:
        result = solve(inst)
    except Infeasible:
        assert best is None, "Infeasible, but the reference found an assignment"
        return
    assert best is not None, "an assignment where the reference found none"
    chosen = [(p.offer, p.request) for p in result.proposals]
    assert len(set(chosen)) == len(chosen)
    offers = {o.id: o for o in inst.offers}
    requests = {r.id: r for r in inst.requests}
    share = inst.params.min_priority_share or Fraction(0)
    assert feasible(inst, chosen, offers, requests, share)
    assert {(p.offer, p.request) for p in inst.fixed} <= set(chosen)
    assert all(pair in scores for pair in chosen), "an ineligible pair was proposed"
    total = sum(scores[pair] for pair in chosen)
    assert result.total_score == total == sum(p.score for p in result.proposals)
    assert total <= best <= result.bound
    if result.status == "optimal":
        assert total == best
    for cand in result.candidates:
        assert cand.score == sum(cand.points) == scores[cand.offer, cand.request]
    summary = result_to_json(result, inst)["summary"]
    assert summary["total_score"] <= summary["bound"] <= summary["lp_bound"]


@pytest.mark.parametrize("capacity", [2, 3])
def test_budget_met_exactly_at_the_top_of_the_range_matches_both(capacity):
    # Issue 15: two requests that fit a budget exactly were dropped to one, "optimal".
    data = {
        "offers": [
            {"id": "o0", "kinds": ["sponsorship"], "budget": MAX_MONEY, "capacity": capacity}
        ],
        "requests": [
            {
                "id": f"r{i}",
                "kind": "sponsorship",
                "amount": MAX_MONEY // 2,
                "industry": "0895",
                "town_code": ZHUSHAN,
            }
            for i in range(2)
        ],
        "params": {"weights": {"amount": MAX_WEIGHT}},
    }
    result = solve(parse_instance(data))
    assert len(result.proposals) == 2
    assert result.status == "optimal"


def test_largest_weights_give_positive_scores():
    # Issue 15: weights of 2e9 wrapped int32 scores to negative totals; at the documented
    # maximum every component is at most MAX_WEIGHT and the total is their sum.
    weights = {name: MAX_WEIGHT for name in ("industry", "region", "home", "amount", "overlap")}
    data = {
        "offers": [
            {
                "id": "o0",
                "kinds": ["sponsorship"],
                "budget": MAX_MONEY,
                "industries": ["0895"],
                "regions": ["central"],
                "home_county": "10008",
                "motives": ["relationship"],
                "goals": ["SDG8"],
            }
        ],
        "requests": [
            {
                "id": "r0",
                "kind": "sponsorship",
                "amount": MAX_MONEY,
                "industry": "0895",
                "town_code": ZHUSHAN,
                "priority_type": "agricultural",
                "tags": ["SDG8"],
            }
        ],
        "params": {
            "weights": {**weights, "overlap_full_at": 1},
            "priority_weights": {"agricultural": MAX_WEIGHT},
        },
    }
    result = solve(parse_instance(data))
    (proposal,) = result.proposals
    # industry + region + doubled home + amount (the whole budget with capacity 1) + overlap
    # + priority
    assert proposal.score == result.total_score == 7 * MAX_WEIGHT
    assert result.status == "optimal"
