import contextlib
import itertools
import math
import random
from dataclasses import replace
from fractions import Fraction
from unittest import mock

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from scipy.optimize import Bounds, LinearConstraint, milp

from matching import solver
from matching.errors import Infeasible
from matching.problem import Pair, Params
from matching.scoring import conflict_pairs
from matching.synthetic import generate
from tests.matching.conftest import DONGGANG, ZHUSHAN, instance, offer, request


def brute_force(prepared, share=None):
    """Best total over every subset of candidate edges meeting every constraint."""
    p = prepared
    n = len(p.edge_score)
    assert n <= 16
    best = 0
    fixed_p = sum(bool(p.request_priority[r]) for _, r in p.fixed)
    for mask in range(1 << n):
        chosen = [e for e in range(n) if mask >> e & 1]
        if _feasible(p, chosen, share, fixed_p, len(p.fixed) - fixed_p):
            best = max(best, sum(int(p.edge_score[e]) for e in chosen))
    return best


def _feasible(p, chosen, share, fixed_p, fixed_n):
    o = np.bincount(p.edge_offer[chosen], minlength=len(p.offer_capacity))
    r = np.bincount(p.edge_request[chosen], minlength=len(p.request_capacity))
    if (o > p.offer_capacity).any() or (r > p.request_capacity).any():
        return False
    spend = np.bincount(
        p.edge_offer[chosen],
        weights=p.request_amount[p.edge_request[chosen]],
        minlength=len(p.offer_capacity),
    )
    if (p.has_budget & (spend > p.offer_budget)).any():
        return False
    if share:
        prio = fixed_p + sum(bool(p.request_priority[p.edge_request[e]]) for e in chosen)
        total = fixed_p + fixed_n + len(chosen)
        if prio < share * total:
            return False
    return True


def small_instance(seed, budgets=True, share=None):
    rng = random.Random(seed)
    inst = generate(rng.randint(2, 4), rng.randint(2, 6), seed)
    # Tight budgets and capacities so that they bind, and few candidates to keep 2^n small.
    offers = tuple(
        replace(o, capacity=rng.randint(1, 2), budget=rng.choice([None, 20_000_000, 60_000_000]))
        for o in inst.offers
    )
    requests = tuple(
        replace(
            r,
            amount=rng.choice([5_000_000, 10_000_000, 30_000_000]),
            priority_type=rng.choice([None, "agricultural"]),
        )
        for r in inst.requests
    )
    params = Params(k=3, enforce_budgets=budgets, min_priority_share=share)
    return replace(inst, offers=offers, requests=requests, params=params)


@pytest.mark.parametrize("seed", range(40))
def test_total_matches_brute_force(seed):
    share = Fraction(1, 2) if seed % 4 == 3 else None
    inst = small_instance(seed, budgets=seed % 2 == 0, share=share)
    prepared = solver.prepare(inst)
    if len(prepared.edge_score) > 16:
        pytest.skip("too many edges for brute force")
    solution = solver.optimise(prepared)
    assert solution.total == brute_force(prepared, share)
    assert solution.status == "optimal"
    assert solution.bound == solution.total


@pytest.mark.parametrize("seed", [1, 2])
def test_total_matches_networkx_network_simplex(seed):
    inst = generate(40, 200, seed, params=Params(k=10, enforce_budgets=False))
    prepared = solver.prepare(inst)
    solution = solver.optimise(prepared)
    assert solution.total == solver.reference_total(prepared)
    assert solution.status == "optimal"


def _check_constraints(inst, result):
    offers = {o.id: o for o in inst.offers}
    requests = {r.id: r for r in inst.requests}
    per_offer, per_request, spend = {}, {}, {}
    for p in result.proposals:
        per_offer[p.offer] = per_offer.get(p.offer, 0) + 1
        per_request[p.request] = per_request.get(p.request, 0) + 1
        spend[p.offer] = spend.get(p.offer, 0) + requests[p.request].amount
    for oid, count in per_offer.items():
        assert count <= offers[oid].capacity
        if inst.params.enforce_budgets and offers[oid].budget is not None:
            assert spend[oid] <= offers[oid].budget
    for rid, count in per_request.items():
        assert count <= requests[rid].capacity
    pairs = {(p.offer, p.request) for p in result.proposals}
    assert len(pairs) == len(result.proposals)
    assert not pairs & conflict_pairs(inst)
    assert not pairs & {(d.offer, d.request) for d in inst.declined}
    assert {(f.offer, f.request) for f in inst.fixed} <= pairs
    share = inst.params.min_priority_share
    if share and result.proposals:
        prio = sum(requests[p.request].priority_type is not None for p in result.proposals)
        assert prio >= share * len(result.proposals)
    for p in result.proposals:
        if not p.fixed:
            assert p.breakdown.eligible
    assert result.total_score == sum(p.score for p in result.proposals)
    assert result.total_score <= result.bound


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    n_off=st.integers(1, 15),
    n_req=st.integers(1, 40),
    budgets=st.booleans(),
    share=st.sampled_from([None, Fraction(1, 4), Fraction(1, 2)]),
    n_fixed=st.integers(0, 3),
    mode=st.sampled_from(["proof", "restricted", "rounding"]),
)
def test_constraints_are_never_violated(seed, n_off, n_req, budgets, share, n_fixed, mode):
    inst = generate(n_off, n_req, seed, related_share=Fraction(1, 5), declined_share=Fraction(1, 5))
    inst = replace(inst, params=Params(k=5, enforce_budgets=budgets, min_priority_share=share))
    # Fixed pairs: eligible pairs that fit, accepted earlier.
    rng = random.Random(seed)
    conflicts = conflict_pairs(inst) | {(d.offer, d.request) for d in inst.declined}
    fixed = []
    for o, r in rng.sample(
        list(itertools.product(inst.offers, inst.requests)), min(n_fixed, n_off * n_req)
    ):
        if (o.id, r.id) not in conflicts and o.budget >= 2 * r.amount * o.capacity:
            fixed.append(Pair(o.id, r.id))
    counts_o = {}
    counts_r = {}
    kept = []
    for f in fixed:
        if counts_o.get(f.offer, 0) < 1 and counts_r.get(f.request, 0) < 1:
            kept.append(f)
            counts_o[f.offer] = counts_r[f.request] = 1
    inst = replace(inst, fixed=tuple(kept))
    # proof: branch and bound on the reduced-cost sub-problem (small instances); restricted:
    # the restricted integer program instead (medium); rounding: LP rounding and local
    # search alone (large).
    try:
        with _path(mode):
            result = solver.solve(inst)
    except Infeasible as exc:
        assert exc.constraint == "min_priority_share"
        return
    _check_constraints(inst, result)


def _path(mode):
    """Force one of the solver's paths for budget problems on small instances."""
    stack = contextlib.ExitStack()
    if mode != "proof":
        stack.enter_context(mock.patch.object(solver, "SUBPROBLEM_EDGES", 0))
    if mode == "rounding":
        stack.enter_context(mock.patch.object(solver, "RESTRICTED_EDGES", 0))
    return stack


def test_deterministic_and_independent_of_input_order():
    inst = generate(30, 120, 7)
    first = solver.solve(inst)
    shuffled = list(inst.offers), list(inst.requests)
    random.Random(1).shuffle(shuffled[0])
    random.Random(2).shuffle(shuffled[1])
    second = solver.solve(replace(inst, offers=tuple(shuffled[0]), requests=tuple(shuffled[1])))
    assert first == second


def test_components_are_solved_separately():
    # Two companies, each only eligible for its own region's requests.
    inst = instance(
        [
            offer("north", regions=("north",), exclusions=_ex(("central", "south"))),
            offer("south", regions=("south",), exclusions=_ex(("central", "north"))),
        ],
        [request("r1", town_code=DONGGANG), request("r2", town_code="10002030")],
    )
    result = solver.solve(inst)
    assert result.components == 2
    assert {(p.offer, p.request) for p in result.proposals} == {("north", "r2"), ("south", "r1")}


def _ex(areas):
    from matching.problem import Exclusions

    return Exclusions(areas=areas)


def test_fixed_pairs_consume_capacity_and_budget():
    inst = instance(
        [offer(capacity=1, budget=20_000_000), offer("o2", regions=("south",))],
        [request("r1"), request("r2")],
        fixed=(Pair("o1", "r1"),),
    )
    result = solver.solve(inst)
    pairs = {(p.offer, p.request): p for p in result.proposals}
    assert set(pairs) == {("o1", "r1"), ("o2", "r2")}
    assert pairs[("o1", "r1")].fixed


def test_fixed_pairs_beyond_capacity_or_budget_are_infeasible():
    inst = instance(
        [offer(capacity=1)],
        [request("r1"), request("r2")],
        fixed=(Pair("o1", "r1"), Pair("o1", "r2")),
    )
    with pytest.raises(Infeasible) as info:
        solver.solve(inst)
    assert info.value.constraint == "capacity"
    assert info.value.subject == "o1"
    inst = instance(
        [offer(budget=15_000_000)],
        [request("r1"), request("r2")],
        fixed=(Pair("o1", "r1"), Pair("o1", "r2")),
    )
    with pytest.raises(Infeasible, match="more than its budget NT\\$150,000") as info:
        solver.solve(inst)
    assert info.value.constraint == "budget"


def test_minimum_priority_share_changes_the_choice_or_is_infeasible():
    # r1 scores higher (its industry is the one named), so it wins without the share row.
    offers = [offer(capacity=1, industries=("0895",))]
    requests = [
        request("r1", industry="0895"),
        request("r2", industry="0811", priority_type="agricultural"),
    ]
    plain = solver.solve(instance(offers, requests, params=Params(priority_weights={})))
    assert [p.request for p in plain.proposals] == ["r1"]
    shared = solver.solve(
        instance(
            offers, requests, params=Params(priority_weights={}, min_priority_share=Fraction(1, 2))
        )
    )
    assert [p.request for p in shared.proposals] == ["r2"]
    # A fixed non-priority pair of another company needs a priority match that cannot exist.
    inst = instance(
        [offer(capacity=1), offer("o2", capacity=1)],
        [request("r1"), request("r3")],
        fixed=(Pair("o2", "r3"),),
        params=Params(min_priority_share=Fraction(1, 2)),
    )
    with pytest.raises(Infeasible, match="min_priority_share 50% cannot be met") as info:
        solver.solve(inst)
    assert info.value.constraint == "min_priority_share"


def test_every_proposal_explains_the_best_alternative_that_lost():
    # Two companies, one request: the stronger company wins; the loser is the alternative.
    inst = instance(
        [offer("strong", industries=("0895",)), offer("weak", industries=("A",))],
        [request("r1", town_code=ZHUSHAN)],
    )
    (p,) = solver.solve(inst).proposals
    assert p.offer == "strong"
    assert p.alternative_offer.offer == "weak"
    assert p.alternative_offer.reason.en.startswith("lower score")
    # A company with one slot and two requests: the other request is its alternative.
    inst = instance(
        [offer(capacity=1, industries=("0895",))],
        [request("r1"), request("r2", industry="0811")],
    )
    (p,) = solver.solve(inst).proposals
    assert p.request == "r1"
    assert p.alternative_request.request == "r2"
    assert p.alternative_request.reason.zh.startswith("分數較低")


def test_declined_pairs_are_never_proposed_again():
    inst = instance([offer()], [request()], declined=(Pair("o1", "r1"),))
    result = solver.solve(inst)
    assert result.proposals == ()
    assert result.unmatched_requests == ("r1",)


def test_no_budgets_means_only_pairwise_eligibility():
    inst = instance(
        [offer(budget=10_000_000, capacity=2)],
        [request("r1"), request("r2")],
        params=Params(enforce_budgets=False),
    )
    assert len(solver.solve(inst).proposals) == 2
    assert len(solver.solve(replace(inst, params=Params())).proposals) == 1


# --- rounding and local search (what instances too large for branch and bound get) ----------


def exact_total(prepared, share=None):
    """The integer optimum by HiGHS branch and bound on the whole model, without limits."""
    p = prepared
    n = len(p.edge_score)
    if n == 0:
        return 0
    fixed_p = sum(bool(p.request_priority[r]) for _, r in p.fixed)
    share_row = None
    if share:
        coef = np.where(
            p.request_priority[p.edge_request],
            share.denominator - share.numerator,
            -share.numerator,
        ).astype(float)
        rhs = (
            share.numerator * (len(p.fixed) - fixed_p)
            - (share.denominator - share.numerator) * fixed_p
        )
        share_row = (coef, rhs)
    state = solver._Residual(p, np.arange(n), share_row)
    A, b = state.model(np.arange(n))
    if A is None:
        return int(p.edge_score.sum())
    res = milp(
        -p.edge_score.astype(float),
        constraints=LinearConstraint(A, -np.inf, b),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0},
    )
    assert res.status == 0
    return round(-res.fun)


def tight_instance(seed, n_off=12, n_req=60, share=None):
    """Budgets that bind for most companies, so that the LP is fractional."""
    inst = generate(n_off, n_req, seed)
    rng = random.Random(seed)
    offers = tuple(
        replace(o, budget=rng.randint(2, 12) * 5_000_000, capacity=rng.randint(1, 6))
        for o in inst.offers
    )
    return replace(
        inst, offers=offers, params=Params(k=6, min_priority_share=share, mip_gap=Fraction(0))
    )


def _feasible_choice(p, chosen):
    return _feasible(p, np.nonzero(chosen)[0], None, 0, 0)


@pytest.mark.parametrize("seed", range(12))
def test_local_search_keeps_every_constraint_and_only_improves(seed):
    share = Fraction(1, 3) if seed % 3 == 2 else None
    prepared = solver.prepare(tight_instance(seed, share=share))
    p = prepared
    n = len(p.edge_score)
    fixed_p = sum(bool(p.request_priority[r]) for _, r in p.fixed)
    share_row = None
    if share:
        coef = np.where(p.request_priority[p.edge_request], 2, -1).astype(float)
        share_row = (coef, len(p.fixed) - fixed_p - 2 * fixed_p)
    state = solver._Residual(p, np.arange(n), share_row)
    A, b = state.model(np.arange(n))
    if A is None:
        pytest.skip("no constraint binds")
    lp = solver._lp(p.edge_score.astype(float), A, b, interior=True)
    chosen, ok = state.round(p.edge_score.astype(float), lp.x)
    if not ok:
        pytest.skip("rounding missed the share row")
    before = int(p.edge_score[chosen].sum())
    improved = state.improve(p.edge_score)
    after = int(p.edge_score[improved].sum())
    assert _feasible(p, np.nonzero(improved)[0], share, fixed_p, len(p.fixed) - fixed_p)
    assert before <= after <= exact_total(p, share)
    # The residual state follows the moves: capacities and budgets left are what the choice
    # leaves.
    eo, er = p.edge_offer[improved], p.edge_request[improved]
    n_off, n_req = len(p.offer_capacity), len(p.request_capacity)
    assert (state.cap_o == p.offer_capacity - np.bincount(eo, minlength=n_off)).all()
    assert (state.cap_r == p.request_capacity - np.bincount(er, minlength=n_req)).all()
    spent = np.bincount(eo, weights=p.request_amount[er], minlength=n_off).astype(np.int64)
    assert (state.budget[p.has_budget] == (p.offer_budget - spent)[p.has_budget]).all()


def test_local_search_finds_the_moves_it_promises():
    # o1 (budget NT$150,000, 2 slots) holds r1 (NT$100,000); r2 (NT$100,000) has no room at
    # o1 and r1 fits at o2. Moving r1 to o2 frees o1 for r2: (c) in ``improve``.
    inst = instance(
        [offer("o1", budget=15_000_000), offer("o2", capacity=1, industries=("A",))],
        [request("r1"), request("r2", industry="0811")],
    )
    p = solver.prepare(inst)
    n = len(p.edge_score)
    state = solver._Residual(p, np.arange(n), None)
    pairs = [
        (p.scorer.offers[o].id, p.requests[r].id)
        for o, r in zip(p.edge_offer, p.edge_request, strict=True)
    ]
    state.take(pairs.index(("o1", "r1")))
    chosen = state.improve(p.edge_score)
    assert {pairs[e] for e in np.nonzero(chosen)[0]} == {("o1", "r2"), ("o2", "r1")}


@pytest.mark.parametrize("seed", range(6))
def test_small_instances_reach_the_exact_optimum(seed):
    # Small enough for branch and bound on the sub-problem: the result is optimal and equals
    # HiGHS on the whole model without limits.
    share = Fraction(1, 3) if seed % 3 == 2 else None
    prepared = solver.prepare(tight_instance(seed, share=share))
    solution = solver.optimise(prepared)
    assert solution.status == "optimal"
    assert solution.total == solution.bound == exact_total(prepared, share)


@pytest.mark.parametrize("mode", ["restricted", "rounding"])
def test_heuristic_paths_are_deterministic_and_bounded(mode):
    inst = tight_instance(3, n_off=30, n_req=200)
    with _path(mode):
        first = solver.solve(inst)
        second = solver.solve(inst)
        solution = solver.optimise(solver.prepare(inst))
    assert first == second
    _check_constraints(inst, first)
    exact = exact_total(solver.prepare(inst))
    assert solution.total <= exact <= solution.bound <= solution.lp_bound
    assert solution.total >= 0.97 * exact


@pytest.mark.parametrize("seed", range(3))
def test_restricted_integer_program_only_improves(seed):
    inst = tight_instance(seed, n_off=30, n_req=200)
    with _path("rounding"):
        rounding = solver.optimise(solver.prepare(inst)).total
    with _path("restricted"):
        restricted = solver.optimise(solver.prepare(inst)).total
    # With every edge within the reduced-cost window it is the whole integer program.
    with _path("restricted"), mock.patch.object(solver, "RESTRICTED_REDUCED", np.inf):
        whole = solver.optimise(solver.prepare(inst)).total
    assert rounding <= restricted <= whole == exact_total(solver.prepare(inst))


@pytest.mark.parametrize(("mip_gap", "expected"), [(Fraction(1, 1000), 1e-4), (Fraction(0), 0.0)])
def test_restricted_integer_program_gap(mip_gap, expected):
    # The restricted program runs to RESTRICTED_GAP (its root search finds better solutions
    # with the tighter target), or to params.mip_gap when that is smaller.
    inst = tight_instance(0, n_off=30, n_req=200)
    inst = replace(inst, params=replace(inst.params, mip_gap=mip_gap))
    gaps = []

    def spy(*args, **kwargs):
        gaps.append(kwargs["options"]["mip_rel_gap"])
        return milp(*args, **kwargs)

    with _path("restricted"), mock.patch.object(solver, "milp", spy):
        solver.optimise(solver.prepare(inst))
    assert gaps == [expected]


@given(
    items=st.lists(
        st.tuples(st.floats(0.5, 100.0), st.integers(1, 12).map(lambda a: a * 500)),
        min_size=1,
        max_size=9,
    ),
    cap=st.integers(1, 5),
    budget=st.one_of(st.none(), st.integers(0, 40).map(lambda b: b * 250)),
)
def test_knapsack_is_exact(items, cap, budget):
    items.sort(key=lambda t: -t[0])
    profit, amount = [p for p, _ in items], [a for _, a in items]
    best = 0.0
    for mask in range(1 << len(items)):
        chosen = [i for i in range(len(items)) if mask >> i & 1]
        if len(chosen) <= cap and (budget is None or sum(amount[i] for i in chosen) <= budget):
            best = max(best, sum(profit[i] for i in chosen))
    assert solver._knapsack(profit, amount, cap, budget) == pytest.approx(best)
    if budget is not None:
        # The choice behind the value: within capacity and budget, worth the value.
        value, mask = solver._knapsack_choice(
            np.array(profit), np.array(amount, dtype=np.int64), cap, budget
        )
        assert value == pytest.approx(best)
        assert mask.sum() <= cap and np.array(amount)[mask].sum() <= budget
        assert np.array(profit)[mask].sum() == pytest.approx(value)


@pytest.mark.parametrize("seed", range(4))
def test_knapsack_bound_lies_between_the_optimum_and_the_lp_bound(seed):
    inst = tight_instance(seed, n_off=20, n_req=120)
    with _path("rounding"):
        solution = solver.optimise(solver.prepare(inst))
    exact = exact_total(solver.prepare(inst))
    assert solution.total <= exact <= solution.bound <= solution.lp_bound
    assert (solution.status == "optimal") == (solution.total == solution.bound)


def _lagrangian_setup(p):
    """The LP over the whole candidate graph and its request rows, as ``_solve_group``
    builds them."""
    n = len(p.edge_score)
    state = solver._Residual(p, np.arange(n), None)
    A, b = state.model(np.arange(n))
    lp = solver._lp(p.edge_score.astype(float), A, b, interior=True)
    return state.request_rows, -lp.ineqlin.marginals, -lp.fun


@pytest.mark.parametrize("seed", range(8))
def test_lagrangian_bound_holds_for_any_multipliers_and_beats_the_lp(seed):
    # Property over seeds: L(mu) bounds the integer optimum for every mu >= 0 (random ones
    # included), the optimised bound is between the optimum and the LP bound, and the
    # choices it returns meet every offer's capacity and budget.
    p = solver.prepare(tight_instance(seed, n_off=10, n_req=50))
    exact = exact_total(p)
    request_rows, duals, lp_value = _lagrangian_setup(p)
    n = len(p.edge_score)
    score = p.edge_score.astype(float)
    bound, choice = solver._knapsack_bound(p, np.arange(n), score, request_rows, duals, 0)
    assert exact <= bound <= math.floor(lp_value + 1e-6)
    lagrangian = solver._Lagrangian(p, np.arange(n), score, request_rows[1])
    rng = np.random.default_rng(seed)
    for _ in range(5):
        mu = np.zeros(len(p.request_capacity))
        mu[request_rows[1]] = rng.uniform(0, 1.5 * score.max(), len(request_rows[1]))
        value, _ = lagrangian.evaluate(mu)
        assert value >= exact - 1e-6
    eo, er = p.edge_offer[choice], p.edge_request[choice]
    n_off = len(p.offer_capacity)
    assert (np.bincount(eo, minlength=n_off) <= p.offer_capacity).all()
    spent = np.bincount(eo, weights=p.request_amount[er], minlength=n_off)
    assert (spent[p.has_budget] <= p.offer_budget[p.has_budget]).all()


@pytest.mark.parametrize("limit", ["KNAPSACK_CELLS", "KNAPSACK_TRACE"])
def test_lagrangian_bound_stays_a_bound_when_knapsacks_are_relaxed(limit):
    # Tables too big for the dynamic program: the relaxations stand, still upper bounds.
    p = solver.prepare(tight_instance(3, n_off=10, n_req=50))
    request_rows, duals, lp_value = _lagrangian_setup(p)
    n = len(p.edge_score)
    with mock.patch.object(solver, limit, 0):
        bound, _ = solver._knapsack_bound(
            p, np.arange(n), p.edge_score.astype(float), request_rows, duals, 0
        )
    assert exact_total(p) <= bound <= math.floor(lp_value + 1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_lagrangian_bound_against_brute_force(seed):
    # Tiny instances with budgets, exhaustively solved: the bound is never below the optimum.
    inst = small_instance(seed, budgets=True)
    p = solver.prepare(inst)
    n = len(p.edge_score)
    if n > 16 or n == 0:
        pytest.skip("too many edges for brute force")
    state = solver._Residual(p, np.arange(n), None)
    A, _ = state.model(np.arange(n))
    if A is None:
        pytest.skip("no constraint binds")
    request_rows, duals, lp_value = _lagrangian_setup(p)
    bound, _ = solver._knapsack_bound(
        p, np.arange(n), p.edge_score.astype(float), request_rows, duals, 0
    )
    assert brute_force(p) <= bound <= math.floor(lp_value + 1e-6)


@pytest.mark.parametrize("incumbent", [0, 28_000])
def test_lagrangian_search_is_deterministic_and_tighter_than_its_start(incumbent):
    # From a useless incumbent (0: the first steps overshoot) and from a realistic one
    # (the optimum is 28,704).
    p = solver.prepare(tight_instance(5, n_off=30, n_req=200))
    request_rows, duals, _ = _lagrangian_setup(p)
    n = len(p.edge_score)
    score = p.edge_score.astype(float)
    runs = [
        solver._knapsack_bound(p, np.arange(n), score, request_rows, duals, incumbent)
        for _ in range(2)
    ]
    assert runs[0][0] == runs[1][0]
    assert (runs[0][1] == runs[1][1]).all()
    with mock.patch.object(solver, "LAGRANGIAN_ITERATIONS", 0):
        at_duals, _ = solver._knapsack_bound(p, np.arange(n), score, request_rows, duals, incumbent)
    assert exact_total(p) <= runs[0][0] < at_duals


@pytest.mark.parametrize("seed", range(3))
def test_lagrangian_choices_at_several_multipliers_are_a_union(seed):
    # The restricted integer program gets each offer's knapsack choices at the best two
    # multipliers: the same search (so the same bound), and a mask holding the best one's
    # choice (one feasible choice per offer) plus the runner-up's.
    p = solver.prepare(tight_instance(seed, n_off=30, n_req=200))
    request_rows, duals, _ = _lagrangian_setup(p)
    n = len(p.edge_score)
    score = p.edge_score.astype(float)
    one = solver._knapsack_bound(p, np.arange(n), score, request_rows, duals, 0)
    two = solver._knapsack_bound(p, np.arange(n), score, request_rows, duals, 0, choices=2)
    assert one[0] == two[0]
    assert (two[1] | one[1] == two[1]).all()
    assert two[1].sum() > one[1].sum()  # the runner-up chose differently somewhere
    eo = p.edge_offer[one[1]]
    assert (np.bincount(eo, minlength=len(p.offer_capacity)) <= p.offer_capacity).all()


@pytest.mark.parametrize("mode", ["proof", "restricted"])
def test_large_groups_report_the_steps_of_their_solve(mode):
    # A group big enough (the threshold lowered here) shows each step of its solve as a
    # progress stage, so a long match run is never a silent bar; the outer "solving" bar
    # still ends complete, and the result is the same as without progress.
    inst = tight_instance(3, n_off=10, n_req=50)
    calls = []
    with _path(mode), mock.patch.object(solver, "STAGE_PROGRESS_EDGES", 1):
        with_progress = solver.optimise(solver.prepare(inst), progress=lambda *a: calls.append(a))
        without = solver.optimise(solver.prepare(inst))
    stages = [c[0] for c in calls]
    assert "solving: linear relaxation" in stages
    assert "solving: rounding and local search" in stages
    if mode == "proof":
        assert "solving: branch and bound" in stages
    else:
        steps = [done for stage, done, _ in calls if stage == "solving: Lagrangian bound"]
        assert steps and steps == sorted(steps)
        assert "solving: restricted integer program" in stages
    stage, done, total = calls[-1]
    assert stage == "solving"
    assert done == total
    assert with_progress.total == without.total
    assert (with_progress.selected == without.selected).all()
