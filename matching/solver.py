"""The assignment: the greatest total score that respects capacities, budgets, conflicts,
declined and fixed pairs, and an optional minimum share of priority-area matches.

Three steps, each usable on its own (the benchmark times them apart):

1. ``prepare``: score all pairs, keep the best ``k`` offers per request: the bipartite
   candidate graph as numpy arrays of edges (offer index, request index, score).
2. ``optimise``: split the graph into connected components (scipy's ``csgraph``; they share
   no constraint), unless a minimum priority share ties them together.
   - Components where no budget can bind are a capacitated b-matching: all of them are
     solved at once, exactly, as one min-cost flow (OR-Tools' ``SimpleMinCostFlow``: source
     -> offers -> requests -> sink, cost ``-score``, plus a free bypass so that no flow is
     forced), in integers throughout.
   - Budgets (and the share row) make it an integer program. We solve the LP relaxation
     (its value is the bound we report), build an incumbent by LP diving, improve it by local
     search (``_Residual.improve``: add, swap, swap-and-move, move to a better offer), and
     then solve, with HiGHS' branch and bound, the sub-problem of the edges whose LP reduced
     cost is within the incumbent's gap: no edge outside it can be part of a better solution,
     so when the sub-problem is solved to optimality the result is optimal for the whole.
     Larger instances (sub-problem over ``SUBPROBLEM_EDGES``) first minimise the Lagrangian
     bound of the request capacity rows (``_knapsack_bound``: one exact knapsack per offer
     and step), then solve the restricted integer program on the edges the LP uses, the
     incumbent's and each offer's knapsack choices at the two best multipliers
     (``_restricted_mip``), and report the Lagrangian bound beside the LP bound.
3. ``assemble``: the proposals with their score breakdown and the best alternatives that
   lost, and every candidate edge for audit.

Determinism: offers and requests are ordered by id, ties in pruning go to the smaller offer
id, HiGHS runs single-threaded and the integer solver is limited by a node count rather than
by time; only the time limit (a safety net, default 60 s) could make two runs differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from time import perf_counter

import networkx as nx
import numpy as np
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

from matching.errors import Infeasible
from matching.problem import (
    COMPONENTS,
    Alternative,
    Candidate,
    Instance,
    Proposal,
    Reason,
    Request,
    Result,
)
from matching.scoring import Scorer, money

#: Progress callback: ``(stage, done, total)``; called with done=0 when a stage starts.
Progress = Callable[[str, int, int], None]
#: Branch-and-bound node limit of the integer sub-problem (deterministic, unlike time).
NODE_LIMIT = 2_000
#: Branch and bound runs on the sub-problem of edges that could still improve the rounded
#: solution only when it has at most this many edges; beyond that (large instances, where
#: HiGHS' root node alone takes minutes) the rounded solution stands, reported with its gap.
SUBPROBLEM_EDGES = 3_000
#: Passes of the local search after rounding (each pass visits every request once; measured
#: at 2,000 x 10,000: the second pass adds under 0.01 %, a third nothing).
LOCAL_SEARCH_PASSES = 2
#: The restricted integer program for larger problems (``_restricted_mip``): at most this
#: many edges, adding those whose LP reduced cost is at least minus this many points (at
#: 2,000 x 10,000 all of them fit: 14,300 edges; at 10,000 x 50,000, 69,400).
RESTRICTED_EDGES = 80_000
#: None: no such edges (the default since the Lagrangian choices at two multipliers are kept:
#: at 2,000 x 10,000, 6,229,836 in 6.1 s of HiGHS without them; with those within 2.5 points,
#: one choice: 6,228,147 in 8.1 s; within 5 points, one choice: 6,229,253 in about 20 s).
RESTRICTED_REDUCED: float | None = None
#: ... solved to this relative gap (or ``params.mip_gap`` when smaller): HiGHS ends it at
#: the root node either way, and the root's search finds better solutions with a tighter
#: target (measured in ``_restricted_mip``).
RESTRICTED_GAP = 1e-4
#: ... but the edges it must keep (LP support, incumbent, Lagrangian choices) are all kept,
#: up to this many; beyond it the incumbent stands.
RESTRICTED_KEPT = 100_000
#: Largest dynamic-programming table (items taken x budget units) of one company's knapsack
#: in the Lagrangian bound; beyond it a relaxation of that knapsack stands.
KNAPSACK_CELLS = 200_000
#: ... and the largest record of its decisions (items x table cells, one byte each) kept for
#: tracing the choice back; typically about 1 % of it (20 items after pruning, 3,000 cells).
KNAPSACK_TRACE = 50_000_000
#: The subgradient search for the Lagrangian bound (``_Lagrangian.minimise``): at most this
#: many steps; the step factor halves after this many steps without a better bound, and the
#: search stops when it falls below the minimum (the bound has stopped improving).
LAGRANGIAN_ITERATIONS = 150
LAGRANGIAN_STEP = 0.5
LAGRANGIAN_PATIENCE = 3
LAGRANGIAN_MIN_STEP = 1 / 64
#: ... a step counts as better when it lowers the bound by more than this fraction of it (at
#: least half a point). Measured at 2,000 x 10,000 against the former rule (patience 5, any
#: half point better, minimum step 1/256): the bound sat on a plateau near 6,242,000 from
#: step 20 to step 55, each step a few hundred points better, so the step factor never
#: halved; with these rules it reaches 6,233,642 at step 50 where it had 6,241,723, and
#: 6,233,418 at step 66 (the old rules: 6,233,372 at step 80, 6,233,333 at step 91 where
#: they stopped). The minimum step 1/64 ends it at step 48 (6,233,635): with 1/256 it
#: ran to step 66 for a bound 0.003 % lower and a total 0.002 % better, in 2.2 s more of
#: CPU (3.3 s more search, 1.9 s less restricted program). At 10,000 x 50,000 these rules
#: end with a bound 0.019 % above the former rules' (30,574,038 against 30,568,224), the
#: total 0.063 % below it in 215 s of CPU end to end (0.038 % in 313 s before).
LAGRANGIAN_BETTER = 3e-6
#: ... or when the last ``LAGRANGIAN_WINDOW`` steps improved the bound by less than this
#: fraction of it. Measured at 2,000 x 10,000 with budgets under the former rules (the
#: restricted program's time limit lifted, so that only this differs): 1e-5 ends at step
#: 123 (bound 6,232,964, total 6,228,462, 0.072 %, 71 s of CPU in all); 3e-5 at step 91
#: (6,233,333 and 6,229,253, 0.065 %, 58 s); a fixed 100 steps 0.066 % in 60 s, 75 steps
#: 0.085 % in 48 s; 1e-4 ends at step 44 on the early plateau (6,241,829), where the
#: choices make the restricted program take 105 s and find only 6,226,340 (0.248 %).
LAGRANGIAN_WINDOW = 20
LAGRANGIAN_PROGRESS = 3e-5
#: The restricted integer program gets the union of each offer's knapsack choices at this
#: many of the best multipliers found (measured at 2,000 x 10,000, without the reduced-cost
#: edges, from the search stopped at step 66: the best one gave 6,226,977 in 5.5 s of
#: HiGHS, two 6,229,836 in 6.1 s, three 6,230,614 in 10.5 s; from step 50: two 6,229,764
#: in 7.4 s, three 6,230,283 in 11.2 s).
LAGRANGIAN_CHOICES = 2
#: Groups with at least this many edges report the steps of their solve as progress stages
#: (a budgeted 2,000 x 10,000 instance spends over a minute there): smaller ones finish in
#: well under a second and would only make the bars flicker.
STAGE_PROGRESS_EDGES = 20_000
_EPS = 1e-6


@dataclass
class Prepared:
    """Scored, pruned candidates (the edges of the candidate graph), ready to optimise."""

    instance: Instance
    scorer: Scorer
    requests: tuple[Request, ...]
    #: Candidate edges (fixed pairs excluded): offer and request indices, scores, points.
    edge_offer: np.ndarray
    edge_request: np.ndarray
    edge_score: np.ndarray
    edge_points: np.ndarray
    #: Fixed pairs as (offer index, request index).
    fixed: list[tuple[int, int]]
    #: What is left for the optimiser after the fixed pairs.
    offer_capacity: np.ndarray
    request_capacity: np.ndarray
    #: Which offers have a budget the optimiser must respect (stated and enforced).
    has_budget: np.ndarray
    #: Budget left per offer after the fixed pairs (0 where ``has_budget`` is false).
    offer_budget: np.ndarray
    request_amount: np.ndarray
    request_priority: np.ndarray
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class Solution:
    """Which candidate edges were chosen, and how good that is known to be."""

    selected: np.ndarray
    total: int
    bound: int
    lp_bound: int
    status: str
    components: int
    stats: dict[str, float] = field(default_factory=dict)


def solve(instance: Instance, *, progress: Progress | None = None) -> Result:
    """Score, prune, optimise and explain: the whole run for one instance."""
    prepared = prepare(instance, progress=progress)
    solution = optimise(prepared, progress=progress)
    return assemble(prepared, solution)


# --- 1. candidates ---------------------------------------------------------------------------


def prepare(instance: Instance, *, progress: Progress | None = None) -> Prepared:
    """Score every pair and keep the best ``k`` per request (the candidate edges).
    Raises ``Infeasible`` when the fixed pairs alone break a capacity or budget."""
    t0 = perf_counter()
    scorer = Scorer.build(instance)
    requests = tuple(sorted(instance.requests, key=lambda r: r.id))
    req_pos = {r.id: i for i, r in enumerate(requests)}
    n_req = len(requests)
    if progress:
        progress("scoring", 0, n_req)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("scoring", done, n_req)

    arrays = scorer.candidate_arrays(requests, instance.params.k, progress=step)
    t1 = perf_counter()

    fixed = sorted((scorer.offer_index[p.offer], req_pos[p.request]) for p in instance.fixed)
    offer_capacity = scorer.capacity.copy()
    request_capacity = np.array([r.capacity for r in requests], dtype=np.int64)
    request_amount = np.array([r.amount for r in requests], dtype=np.int64)
    enforce = instance.params.enforce_budgets
    has_budget = (scorer.budget >= 0) & enforce
    offer_budget = np.where(has_budget, scorer.budget, 0)
    for o, r in fixed:
        offer_capacity[o] -= 1
        request_capacity[r] -= 1
        offer_budget[o] -= request_amount[r] if has_budget[o] else 0
    _check_fixed(scorer, requests, fixed, offer_capacity, request_capacity, offer_budget)

    # Fixed pairs are decided already; drop them (and anything touching a node with no
    # capacity left) from the optimisation.
    keep = np.ones(len(arrays["offer"]), dtype=bool)
    if fixed:
        fixed_keys = {o * n_req + r for o, r in fixed}
        keys = arrays["offer"].astype(np.int64) * n_req + arrays["request"]
        keep &= ~np.isin(keys, list(fixed_keys))
    keep &= offer_capacity[arrays["offer"]] > 0
    keep &= request_capacity[arrays["request"]] > 0
    # A pair whose amount no longer fits the remaining budget can never be chosen.
    keep &= ~has_budget[arrays["offer"]] | (
        request_amount[arrays["request"]] <= offer_budget[arrays["offer"]]
    )
    edge_offer = arrays["offer"][keep]
    edge_request = arrays["request"][keep]
    edge_score = arrays["score"][keep]
    edge_points = arrays["points"][keep]

    t2 = perf_counter()
    return Prepared(
        instance=instance,
        scorer=scorer,
        requests=requests,
        edge_offer=edge_offer,
        edge_request=edge_request,
        edge_score=edge_score,
        edge_points=edge_points,
        fixed=fixed,
        offer_capacity=offer_capacity,
        request_capacity=request_capacity,
        has_budget=has_budget,
        offer_budget=offer_budget,
        request_amount=request_amount,
        request_priority=np.array([r.priority_type is not None for r in requests], dtype=bool),
        stats={"score_seconds": t1 - t0, "prune_seconds": t2 - t1, "edges": len(edge_score)},
    )


def _check_fixed(scorer, requests, fixed, offer_capacity, request_capacity, offer_budget):
    currency = scorer.instance.currency
    for j in np.nonzero(offer_capacity < 0)[0]:
        offer = scorer.offers[j]
        raise Infeasible(
            f"offer {offer.id} has {offer.capacity - offer_capacity[j]} fixed pairs but a "
            f"capacity of {offer.capacity}",
            constraint="capacity",
            subject=offer.id,
        )
    for i in np.nonzero(request_capacity < 0)[0]:
        request = requests[i]
        raise Infeasible(
            f"request {request.id} has {request.capacity - request_capacity[i]} fixed pairs "
            f"but a capacity of {request.capacity}",
            constraint="capacity",
            subject=request.id,
        )
    for j in np.nonzero(offer_budget < 0)[0]:
        offer = scorer.offers[j]
        spent = offer.budget - int(offer_budget[j])
        raise Infeasible(
            f"offer {offer.id}'s fixed pairs need {money(spent, currency)}, more than its "
            f"budget {money(offer.budget, currency)}",
            constraint="budget",
            subject=offer.id,
        )


# --- 2. optimisation -------------------------------------------------------------------------


def optimise(prepared: Prepared, *, progress: Progress | None = None) -> Solution:
    """Choose the candidate edges with the greatest total score under all constraints."""
    t0 = perf_counter()
    p = prepared
    params = p.instance.params
    n_off = len(p.scorer.offers)
    n_edges = len(p.edge_score)
    selected = np.zeros(n_edges, dtype=bool)
    share = params.min_priority_share or Fraction(0)

    edge_comp, n_comps = _components(p)
    # A budget can bind only where the offer's candidate amounts add up to more than it.
    spend = np.bincount(p.edge_offer, weights=p.request_amount[p.edge_request], minlength=n_off)
    binding = p.has_budget & (spend > p.offer_budget)
    if share:
        # The share row links every component: solve them as one problem.
        flow_edges = np.empty(0, np.int64)
        groups = [np.arange(n_edges)] if n_edges else []
    else:
        needs_lp = np.zeros(n_comps, dtype=bool)
        needs_lp[edge_comp[binding[p.edge_offer]]] = True
        in_lp = needs_lp[edge_comp]
        flow_edges = np.nonzero(~in_lp)[0]
        lp_edges = np.nonzero(in_lp)[0]
        order = lp_edges[np.argsort(edge_comp[lp_edges], kind="stable")]
        comps = edge_comp[order]
        cuts = np.nonzero(np.diff(comps))[0] + 1
        groups = [g for g in np.split(order, cuts) if len(g)]

    fixed_priority = sum(bool(p.request_priority[r]) for _, r in p.fixed)
    fixed_other = len(p.fixed) - fixed_priority
    if share and not groups and fixed_priority < share * (fixed_priority + fixed_other):
        _share_check(share, fixed_priority, fixed_other, 0)

    if progress:
        progress("solving", 0, len(groups) + 1)
    # Every component without a binding budget at once: exact, in integers.
    selected[flow_edges[_max_weight_b_matching(p, flow_edges)]] = True
    bound = lp_bound = int(p.edge_score[selected].sum())
    status = "optimal"
    if progress:
        progress("solving", 1, len(groups) + 1)
    for g, edges in enumerate(groups):
        inner = progress if progress and len(edges) >= STAGE_PROGRESS_EDGES else None
        sub = _solve_group(p, edges, share, fixed_priority, fixed_other, progress=inner)
        selected[edges[sub.chosen]] = True
        bound += sub.bound
        lp_bound += sub.lp_bound
        if not sub.optimal:
            status = "feasible"
        if progress:
            progress("solving", g + 2, len(groups) + 1)
    total = int(p.edge_score[selected].sum())
    return Solution(
        selected=selected,
        total=total,
        bound=max(bound, total),
        lp_bound=max(lp_bound, total),
        status=status if bound <= total else "feasible",
        components=n_comps,
        stats={"solve_seconds": perf_counter() - t0},
    )


def _components(p: Prepared) -> tuple[np.ndarray, int]:
    """The connected component of every candidate edge (numbered by their smallest offer,
    so the numbering does not depend on input order) and how many there are."""
    n_off, n_req = len(p.offer_capacity), len(p.request_capacity)
    n_edges = len(p.edge_score)
    if not n_edges:
        return np.empty(0, np.int64), 0
    # One row per request listing its offers (the edges come sorted by request, so the CSR
    # arrays are built directly, without a sort); scipy treats it as undirected.
    nodes = n_off + n_req
    indptr = np.zeros(nodes + 1, dtype=np.int64)
    indptr[n_off + 1 :] = np.cumsum(np.bincount(p.edge_request, minlength=n_req))
    order = np.argsort(p.edge_request, kind="stable")
    adjacency = sp.csr_matrix(
        (np.ones(n_edges, dtype=np.int8), p.edge_offer[order], indptr), shape=(nodes, nodes)
    )
    _, labels = connected_components(adjacency, directed=False)
    # Number the components that have edges 0, 1, ... in the order of their labels (scipy
    # labels in order of each component's smallest node).
    edge_label = labels[p.edge_offer]
    used = np.bincount(edge_label, minlength=labels.max() + 1) > 0
    renumber = np.cumsum(used) - 1
    return renumber[edge_label].astype(np.int64), int(used.sum())


def _max_weight_b_matching(p: Prepared, edges: np.ndarray) -> np.ndarray:
    """The exact best choice of ``edges`` under the offers' and requests' capacities (no
    budget, no share row), as a mask over ``edges``: OR-Tools' min-cost flow on source ->
    offers (their capacity) -> requests (each edge once, cost ``-score``) -> sink (their
    capacity), with a free source -> sink bypass so that no pair is forced. All integers:
    exact for any score the input bounds allow."""
    n = len(edges)
    if not n:
        return np.zeros(0, dtype=bool)
    eo, er = p.edge_offer[edges], p.edge_request[edges]
    n_o, n_r = len(p.offer_capacity), len(p.request_capacity)
    # No node can use more than its degree: keeps every capacity, and the flow, small (and
    # nodes without edges get none, so every node can keep its own index).
    cap_o = np.minimum(p.offer_capacity, np.bincount(eo, minlength=n_o))
    cap_r = np.minimum(p.request_capacity, np.bincount(er, minlength=n_r))
    flow = int(min(cap_o.sum(), cap_r.sum()))
    source, sink = n_o + n_r, n_o + n_r + 1
    tails = np.concatenate([eo, np.full(n_o, source), n_o + np.arange(n_r), [source]])
    heads = np.concatenate([n_o + er, np.arange(n_o), np.full(n_r, sink), [sink]])
    caps = np.concatenate([np.ones(n, np.int64), cap_o, cap_r, [flow]])
    costs = np.concatenate([-p.edge_score[edges].astype(np.int64), np.zeros(n_o + n_r + 1)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    arcs = mcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        caps.astype(np.int64),
        costs.astype(np.int64),
    )
    mcf.set_nodes_supplies(np.array([source, sink]), np.array([flow, -flow]))
    status = mcf.solve()
    if status != mcf.OPTIMAL:  # pragma: no cover - the bypass makes every instance feasible
        raise RuntimeError(f"min-cost flow: {status}")
    return mcf.flows(arcs[:n]) > 0


@dataclass
class _Sub:
    chosen: np.ndarray
    bound: int
    lp_bound: int
    optimal: bool


def _share_check(share: Fraction, fixed_priority: int, fixed_other: int, possible: int) -> None:
    """Raise the infeasibility of the share row in words a fund manager can act on."""
    if share == 1:
        raise Infeasible(
            f"min_priority_share is 100% but {fixed_other} fixed pairs are outside priority areas",
            constraint="min_priority_share",
        )
    need = math.ceil(share * fixed_other / (1 - share))
    raise Infeasible(
        f"min_priority_share {_percent(share)} cannot be met: the fixed pairs include "
        f"{fixed_other} outside priority areas, so at least {need} priority-area matches are "
        f"needed, but the fixed pairs give {fixed_priority} and at most {possible} more are "
        "possible",
        constraint="min_priority_share",
    )


def _percent(share: Fraction) -> str:
    value = share * 100
    return f"{value.numerator}%" if value.denominator == 1 else f"{float(value):.2f}%"


def _solve_group(
    p: Prepared,
    edges: np.ndarray,
    share: Fraction,
    fixed_priority: int,
    fixed_other: int,
    progress: Progress | None = None,
) -> _Sub:
    def stage(name: str, done: int = 0, total: int = 1) -> None:
        if progress:
            progress(f"solving: {name}", done, total)

    params = p.instance.params
    score = p.edge_score[edges].astype(np.float64)
    n = len(edges)
    if n == 0:
        return _Sub(np.zeros(0, bool), 0, 0, True)
    share_row = None
    if share:
        # P / (P + N) >= num / den  <=>  (den - num) * P - num * N >= 0, fixed pairs included:
        # sum(coef * x) >= num * N_fixed - (den - num) * P_fixed.
        num, den = share.numerator, share.denominator
        prio = p.request_priority[p.edge_request[edges]]
        coef = np.where(prio, den - num, -num).astype(np.float64)
        share_row = (coef, num * fixed_other - (den - num) * fixed_priority)
    state = _Residual(p, edges, share_row)
    A, b = state.model(np.arange(n))
    request_rows = state.request_rows
    if A is None:
        total = int(score.sum())
        return _Sub(np.ones(n, dtype=bool), total, total, True)

    stage("linear relaxation")
    interior = state.has_budget_rows or share_row is not None
    lp = _lp(score, A, b, interior=interior, presolve=interior)
    if lp.status == 2:
        # Capacity and budget rows alone are met by choosing nothing: the share row failed.
        _share_check(share, fixed_priority, fixed_other, _most_priority(p, edges, A, b))
    x = lp.x
    lp_value = -lp.fun
    lp_bound = _whole_bound(lp_value)
    if np.all((x < _EPS) | (x > 1 - _EPS)) and state.fits(x > 0.5):
        # An integral LP optimum that meets every row exactly (HiGHS' own check has a
        # tolerance, which a budget of many digits could hide a whole unit in).
        total = int(p.edge_score[edges][x > 0.5].sum())
        return _Sub(x > 0.5, max(total, lp_bound), max(total, lp_bound), total >= lp_bound)

    stage("rounding and local search")
    chosen, feasible = state.round(score, x)
    if feasible:
        chosen = state.improve(p.edge_score[edges])
    incumbent = int(p.edge_score[edges][chosen].sum()) if feasible else None
    if incumbent is not None and lp_bound <= incumbent:
        return _Sub(chosen, lp_bound, lp_bound, True)
    # Reduced costs of the maximisation: an edge whose reduced cost is below -gap cannot be
    # in any solution better than the incumbent (such a solution is worth at most
    # lp_value + reduced cost). The rest is small enough for branch and bound only on small
    # problems; larger ones keep the LP-guided rounding and report its gap to the bound.
    gap = lp_value - incumbent if incumbent is not None else lp_value + 1
    reduced = score - A.T @ (-lp.ineqlin.marginals)
    keep = (reduced >= -gap - _EPS) | (x > _EPS)
    if incumbent is not None:
        keep |= chosen
    candidates = np.nonzero(keep)[0]
    best_bound = lp_bound
    optimal = False
    lagrangian = None  # the Lagrangian bound and the subproblem choices behind it
    if len(candidates) <= SUBPROBLEM_EDGES:
        stage("branch and bound")
        res = _binary_program(score, A, b, candidates, float(params.mip_gap), params)
        if res.x is not None:
            if incumbent is None or -res.fun > incumbent + _EPS:
                chosen = np.zeros(n, dtype=bool)
                chosen[candidates[res.x > 0.5]] = True
                incumbent = int(score[chosen].sum())
            dual = getattr(res, "mip_dual_bound", None)
            if dual is not None and np.isfinite(dual):
                # Nothing outside the candidates beats the incumbent, so the sub-problem's
                # bound (or the incumbent) bounds the whole problem.
                best_bound = min(lp_bound, max(incumbent, _whole_bound(-dual)))
            optimal = res.status == 0 and best_bound <= incumbent
    elif incumbent is not None:
        if share_row is None:
            lagrangian = _knapsack_bound(
                p,
                edges,
                score,
                request_rows,
                -lp.ineqlin.marginals,
                incumbent,
                stage,
                choices=LAGRANGIAN_CHOICES,
            )
        stage("restricted integer program")
        chosen = _restricted_mip(
            p,
            edges,
            score,
            A,
            b,
            x,
            reduced,
            chosen,
            share_row,
            None if lagrangian is None else lagrangian[1],
        )
        incumbent = int(score[chosen].sum())
    if incumbent is None:
        # Neither rounding nor the integer solver found an assignment meeting the share.
        _share_check(share, fixed_priority, fixed_other, _most_priority(p, edges, A, b))
    if not optimal and share_row is None:
        if lagrangian is None:
            lagrangian = _knapsack_bound(
                p, edges, score, request_rows, -lp.ineqlin.marginals, incumbent, stage
            )
        best_bound = min(best_bound, max(incumbent, lagrangian[0]))
    if optimal or best_bound <= incumbent:
        best_bound = incumbent
        optimal = True
    return _Sub(chosen, best_bound, lp_bound, optimal)


def _restricted_mip(
    p: Prepared, edges, score, A, b, x, reduced, chosen, share_row, lagrangian=None
):
    """A better incumbent for problems too large for the proof above: branch and bound on
    the edges the LP uses, the incumbent's and the Lagrangian subproblems' choices at the
    best multipliers found (``lagrangian``, an edge mask: each offer's best knapsack, which
    the LP's fractional solution does not show), all of them when they are at most
    ``RESTRICTED_KEPT`` (``lagrangian`` may hold the choices at several multipliers, see
    ``LAGRANGIAN_CHOICES``), plus, when ``RESTRICTED_REDUCED`` is set (not by default), those
    whose reduced cost is within it of zero while the total stays within
    ``RESTRICTED_EDGES``; the rest fixed at zero (the
    LP-guided neighbourhood of RINS); then the local search again. The incumbent is among
    the edges, so the result is never worse.

    Measured at 2,000 x 10,000: without the Lagrangian choices, 14,000 edges, 17 s, +0.15 %
    of the total; at 15,300 edges (reduced cost within 10) HiGHS had not finished after
    200 s, hence the cap on the reduced-cost edges. With them (581 edges outside the LP
    support and the incumbent) 6,216,560 becomes 6,229,219 (+0.20 %, 22 s). At 10,000 x
    50,000 the kept edges alone are 52,000 (the run used to stop there): HiGHS solves them
    in 7 s, 30,488,400 becomes 30,552,835 (+0.21 %), and that program's own bound is
    30,553,008, so more can only come from other edges. Adding the reduced-cost edges
    (69,400 edges) at the 0.1 % gap gave less (30,544,774 before the local search: HiGHS
    stops at the root with a poorer solution), but at ``RESTRICTED_GAP`` (1e-4; HiGHS still
    ends at the root, gap 4.8e-5) it gives 30,556,138, then 30,556,609 after the local search
    (+0.012 %; the gap to the LP bound goes from 0.510 % to 0.498 %), HiGHS taking 32 s of
    CPU instead of 9 s. At 2,000 x 10,000 (where all reduced-cost edges within 5 already
    fit: 14,300) the tighter gap gives 6,228,462 instead of 6,227,770 (27 s of HiGHS
    instead of 16 s). A zero gap ran into the time limit at 2,000 x 10,000 (not
    deterministic); a second round from the improved incumbent added 88 points at 10,000 x
    50,000 (+38 s), so neither is done. Blocks of offers solved one at a time with the rest
    fixed gave less (+0.02 % in blocks of 10,000 edges, +0.10 % in blocks of 30,000).
    Repairing the Lagrangian choices into an assignment directly (the textbook Lagrangian
    heuristic: keep the best-scoring pairs of each over-full request, then the local search)
    reached only 6,210,808 at 2,000 x 10,000, below the incumbent, so it is not done.
    Keeping the choices at the ten best multipliers instead of the best one gave 6,230,949
    instead of 6,227,770 at 2,000 x 10,000 (+17 s) but 30,549,240 instead of 30,552,835 at
    10,000 x 50,000 (the larger program stops at the 0.1 % gap sooner), so it is not done
    either."""
    keep = (x > _EPS) | chosen
    if lagrangian is not None:
        keep |= lagrangian
    if keep.sum() > RESTRICTED_KEPT:
        return chosen
    if RESTRICTED_REDUCED is not None:
        near = np.nonzero(~keep & (reduced >= -RESTRICTED_REDUCED))[0]
        room = max(RESTRICTED_EDGES - int(keep.sum()), 0)
        keep[near[np.lexsort((near, -reduced[near]))][:room]] = True
    candidates = np.nonzero(keep)[0]
    params = p.instance.params
    res = _binary_program(
        score, A, b, candidates, min(float(params.mip_gap), RESTRICTED_GAP), params
    )
    if res.x is None or -res.fun <= score[chosen].sum() + _EPS:
        return chosen
    state = _Residual(p, edges, share_row)
    for e in candidates[res.x > 0.5].tolist():
        state.take(e)
    if state.slack < 0:  # pragma: no cover - HiGHS' answer breaking the share row
        return chosen
    return state.improve(p.edge_score[edges])


def _binary_program(score: np.ndarray, A, b, candidates: np.ndarray, gap: float, params):
    """HiGHS' branch and bound on the ``candidates`` edges (the rest fixed at zero), limited
    by node count (deterministic) and by the run's time limit (the safety net)."""
    return milp(
        -score[candidates],
        constraints=LinearConstraint(A[:, candidates], -np.inf, b),
        integrality=np.ones(len(candidates)),
        bounds=Bounds(0, 1),
        options={
            "mip_rel_gap": gap,
            "node_limit": NODE_LIMIT,
            "time_limit": params.time_limit,
            "presolve": True,
        },
    )


def _lp(score: np.ndarray, A, b, *, interior: bool = False, presolve: bool = True):
    # Measured on the benchmark instances: without budget rows, dual simplex with devex
    # pricing is fastest (2.3 s against 4.3 s for interior point at 200,000 edges), and
    # without presolve faster still (three runs each: 2.39-2.66 s against 3.11-3.18 s at
    # 200,000 edges; 17.1 s against 22.5 s at 1,000,000; the same optimum): presolve finds
    # little to remove in a bipartite incidence matrix and costs a pass over it. (Only the
    # first LP of a problem without budgets skips it: the dive's re-solves keep the vertices
    # the budget results were measured with.) With budget rows simplex slows down five-fold
    # and interior point (with crossover, so the answer is still a vertex with duals) is
    # fastest. Both return vertices: integral where the matrix is totally unimodular.
    if interior:
        res = linprog(-score, A_ub=A, b_ub=b, bounds=(0, 1), method="highs-ipm")
    else:
        res = linprog(
            -score,
            A_ub=A,
            b_ub=b,
            bounds=(0, 1),
            method="highs-ds",
            options={"simplex_dual_edge_weight_strategy": "devex", "presolve": presolve},
        )
    if res.status not in (0, 2):  # pragma: no cover - HiGHS failing on a bounded LP
        raise RuntimeError(f"HiGHS: {res.message}")
    return res


class _Residual:
    """Capacities, budgets and the share row left while an assignment is built."""

    def __init__(self, p: Prepared, edges: np.ndarray, share_row):
        self.p = p
        self.eo = p.edge_offer[edges]
        self.er = p.edge_request[edges]
        self.amount = p.request_amount[self.er]
        self.n = len(edges)
        # Copies of the whole arrays, indexed like them: simple and vectorisable.
        self.cap_o = p.offer_capacity.copy()
        self.cap_r = p.request_capacity.copy()
        self.has_budget = p.has_budget
        self.budget = p.offer_budget.copy()
        self.share_coef = share_row[0] if share_row else None
        # Left side of the share row minus its right side so far; must end >= 0.
        self.slack = -share_row[1] if share_row else 0
        self.chosen = np.zeros(self.n, dtype=bool)
        self.has_budget_rows = False

    def model(self, active: np.ndarray):
        """The LP rows over the ``active`` edges given what is left: capacity rows only
        where a node has more edges than capacity, budget rows only where its edges could
        overspend. Returns ``(A, b)``; both are None when no row can bind."""
        eo, er = self.eo[active], self.er[active]
        n = len(active)
        rows, rhs = [], []
        offers, o_local = np.unique(eo, return_inverse=True)
        cap = self.cap_o[offers]
        tight = np.bincount(o_local, minlength=len(offers)) > cap
        if tight.any():
            rows.append(_incidence(o_local, tight, n, np.ones(n)))
            rhs.append(cap[tight])
        reqs, r_local = np.unique(er, return_inverse=True)
        cap = self.cap_r[reqs]
        tight = np.bincount(r_local, minlength=len(reqs)) > cap
        first = sum(len(r) for r in rhs)
        #: The request capacity rows: (first row, request indices), for the knapsack bound.
        self.request_rows = (first, reqs[tight])
        if tight.any():
            rows.append(_incidence(r_local, tight, n, np.ones(n)))
            rhs.append(cap[tight])
        amount = self.amount[active].astype(np.float64)
        budget = self.budget[offers]
        spend = np.bincount(o_local, weights=amount, minlength=len(offers))
        tight_b = self.has_budget[offers] & (spend > budget)
        if tight_b.any():
            rows.append(_incidence(o_local, tight_b, n, amount))
            rhs.append(budget[tight_b])
        if self.share_coef is not None:
            rows.append(sp.csr_matrix(-self.share_coef[active][None, :]))
            rhs.append(np.array([self.slack]))
        self.has_budget_rows = bool(tight_b.any())
        if not rows:
            return None, None
        return sp.vstack(rows, format="csr"), np.concatenate(rhs).astype(np.float64)

    def fits(self, chosen: np.ndarray) -> bool:
        """Whether choosing the ``chosen`` edges (a mask) on top of what is taken keeps every
        capacity, budget and the share row, checked exactly. (The amounts are summed in
        float64, but a sum that could decide the verdict is at most a budget, at most
        ``MAX_MONEY`` < 2**53: every partial sum is an exact integer.)"""
        eo, er = self.eo[chosen], self.er[chosen]
        if (np.bincount(eo, minlength=len(self.cap_o)) > self.cap_o).any():
            return False
        if (np.bincount(er, minlength=len(self.cap_r)) > self.cap_r).any():
            return False
        spend = np.bincount(eo, weights=self.amount[chosen], minlength=len(self.budget))
        if (self.has_budget & (spend > self.budget)).any():
            return False
        if self.share_coef is not None:
            return self.slack + int(self.share_coef[chosen].sum()) >= 0
        return True

    def take(self, e: int) -> bool:
        """Choose edge ``e`` if what is left allows it."""
        o, r = int(self.eo[e]), int(self.er[e])
        if self.chosen[e] or self.cap_o[o] <= 0 or self.cap_r[r] <= 0:
            return False
        amount = int(self.amount[e])
        if self.has_budget[o] and amount > self.budget[o]:
            return False
        coef = self.share_coef[e] if self.share_coef is not None else 0
        if coef < 0 and self.slack + coef < 0:
            return False
        self.chosen[e] = True
        self.cap_o[o] -= 1
        self.cap_r[r] -= 1
        if self.has_budget[o]:
            self.budget[o] -= amount
        self.slack += coef
        return True

    def round(self, score: np.ndarray, x: np.ndarray, rounds: int = 60) -> tuple[np.ndarray, bool]:
        """LP diving: take the edges the LP solution sets to 1 and a small batch (2 %, at
        least one) of the fractional ones, largest value first, while they fit; re-solve the
        LP on what is left (requests with room, offers with capacity and budget left) and
        repeat until the LP is integral; finally fill greedily by score. Small batches let
        each LP re-allocate what the last decisions made impossible (measured: much better
        than rounding all fractional edges at once). Returns the choice and whether it meets
        the share row."""
        active = np.arange(self.n)
        for _ in range(rounds):
            whole = x > 1 - _EPS
            for e in active[whole].tolist():
                self.take(e)
            frac = (x > _EPS) & ~whole
            if not frac.any():
                break
            idx = active[frac]
            order = np.lexsort((idx, -score[idx], -np.round(x[frac], 6)))
            batch = max(1, len(idx) // 50)
            taken = 0
            for e in idx[order].tolist():
                if taken >= batch:
                    break
                taken += self.take(e)
            active = self._open_edges()
            if not len(active):
                break
            A, b = self.model(active)
            if A is None:
                for e in active.tolist():
                    self.take(e)
                break
            lp = _lp(score[active], A, b)
            if lp.status != 0:
                break
            x = lp.x
        # Fill whatever is still open, best score first.
        rest = self._open_edges()
        for e in rest[np.lexsort((rest, -score[rest]))].tolist():
            self.take(e)
        return self.chosen.copy(), self.slack >= 0

    def improve(self, score: np.ndarray, passes: int = LOCAL_SEARCH_PASSES) -> np.ndarray:
        """Local search on the current (feasible) choice. For every request with room left,
        the best of: (a) adding it to an offer with capacity and budget for it; (b) swapping
        it for one of an offer's requests, which goes unmatched; (c) the same swap with that
        request moved to another offer that has room for it. Then (d) moving the request, if
        matched, to an offer where it scores higher and fits. Only strictly improving moves
        are made and each keeps capacities, budgets and the share row, so the result stays
        feasible and never scores less. Deterministic: requests in index order, each
        request's edges by score, then offer. Returns the choice."""
        eo, er = self.eo.tolist(), self.er.tolist()
        amount, sc = self.amount.tolist(), score.tolist()
        cap_o, cap_r, budget = self.cap_o.tolist(), self.cap_r.tolist(), self.budget.tolist()
        has_budget = self.has_budget.tolist()
        coef = self.share_coef.tolist() if self.share_coef is not None else [0] * self.n
        limited = self.share_coef is not None
        chosen = self.chosen.tolist()
        slack = self.slack
        # Edges per request, best score first (ties: smaller offer, then edge).
        by_request: dict[int, list[int]] = {}
        for e in np.lexsort((np.arange(self.n), self.eo, -score)).tolist():
            by_request.setdefault(er[e], []).append(e)
        mine: dict[int, set[int]] = {}  # chosen edges per offer
        for e in np.nonzero(self.chosen)[0].tolist():
            mine.setdefault(eo[e], set()).add(e)

        def room(o: int, e: int, cap: int = 0, money: int = 0) -> bool:
            return cap_o[o] + cap > 0 and (not has_budget[o] or amount[e] <= budget[o] + money)

        def put(e: int, on: bool) -> None:
            nonlocal slack
            o, sign = eo[e], (-1 if on else 1)
            chosen[e] = on
            cap_o[o] += sign
            cap_r[er[e]] += sign
            if has_budget[o]:
                budget[o] += sign * amount[e]
            slack -= sign * coef[e]
            if on:
                mine.setdefault(o, set()).add(e)
            else:
                mine[o].discard(e)

        def best_move(r: int) -> tuple[int, tuple | None]:
            best, move = 0, None
            for e in by_request[r]:
                o = eo[e]
                if chosen[e]:
                    continue
                if room(o, e):
                    if sc[e] > best and (not limited or slack + coef[e] >= 0):
                        best, move = sc[e], (e, None, None)
                    continue
                for f in sorted(mine.get(o, ())):
                    alternatives = by_request[er[f]]
                    gain = sc[e] - sc[f]
                    if gain + max(sc[alternatives[0]], 0) <= best:
                        continue
                    if not room(o, e, 1, amount[f]):
                        continue
                    delta = coef[e] - coef[f]
                    if gain > best and (not limited or slack + delta >= 0):
                        best, move = gain, (e, f, None)
                    for g in alternatives:
                        if gain + sc[g] <= best:
                            break
                        o2 = eo[g]
                        if o2 == o or chosen[g] or not room(o2, g):
                            continue
                        if not limited or slack + delta + coef[g] >= 0:
                            best, move = gain + sc[g], (e, f, g)
                            break
            return best, move

        for _ in range(passes):
            gained = 0
            for r in sorted(by_request):
                while cap_r[r] > 0:
                    best, move = best_move(r)
                    if move is None:
                        break
                    e, f, g = move
                    if f is not None:
                        put(f, False)
                    put(e, True)
                    if g is not None:
                        put(g, True)
                    gained += best
                for f in [f for f in by_request[r] if chosen[f]]:
                    for g in by_request[r]:
                        if sc[g] <= sc[f]:
                            break
                        if chosen[g] or not room(eo[g], g):
                            continue
                        if limited and slack + coef[g] - coef[f] < 0:
                            continue
                        put(f, False)
                        put(g, True)
                        gained += sc[g] - sc[f]
                        break
            if not gained:
                break
        self.cap_o[:] = cap_o
        self.cap_r[:] = cap_r
        self.budget[:] = budget
        self.chosen[:] = chosen
        self.slack = slack
        return self.chosen.copy()

    def _open_edges(self) -> np.ndarray:
        """Edges not chosen whose offer and request still have room for them."""
        fits = ~self.has_budget[self.eo] | (self.amount <= self.budget[self.eo])
        open_ = (self.cap_o[self.eo] > 0) & (self.cap_r[self.er] > 0) & fits & ~self.chosen
        return np.nonzero(open_)[0]


def _knapsack_bound(
    p: Prepared,
    edges: np.ndarray,
    score: np.ndarray,
    request_rows,
    duals: np.ndarray,
    incumbent: int,
    stage: Callable[[str, int, int], None] | None = None,
    choices: int = 1,
) -> tuple[int, np.ndarray]:
    """An upper bound on the integer optimum at least as tight as the LP's: the Lagrangian
    dual of the request capacity rows. For any multipliers ``mu >= 0`` and any feasible
    choice, the total is at most ``L(mu) = sum(mu_r * capacity_r)`` plus, per offer, the best
    choice of its edges by ``score - mu_r`` under the offer's own capacity and budget: a small
    knapsack, solved exactly (``_knapsack_choice``). The LP solves those knapsacks
    fractionally, so ``L`` at the LP's duals is never above the LP bound; minimising ``L``
    over ``mu`` (``_Lagrangian.minimise``) gives the Dantzig-Wolfe bound over each offer's
    knapsack polytope, which measures what the budgets' integrality alone costs. Every
    value reported is ``L`` evaluated exactly at the multipliers tried, so it is a bound
    whatever the search did. Returns the bound and the subproblem choices at the best
    multipliers found (an edge mask, for ``_restricted_mip``), or the union of the choices
    at the ``choices`` best multipliers (no longer one feasible choice per offer then)."""
    first, reqs = request_rows
    mu = np.zeros(len(p.request_capacity))
    mu[reqs] = np.maximum(duals[first : first + len(reqs)], 0.0)
    lagrangian = _Lagrangian(p, edges, score, reqs)
    step = None if stage is None else lambda k: stage("Lagrangian bound", k, LAGRANGIAN_ITERATIONS)
    value, choice = lagrangian.minimise(mu, incumbent, step, choices)
    return _whole_bound(value), choice


def _whole_bound(value: float) -> int:
    # Relative safety margin for the floating-point multipliers, then whole points.
    return math.floor(value * (1 + 1e-9) + _EPS)


class _Lagrangian:
    """``L(mu)`` and its subgradient, for the request capacity rows ``reqs`` of a group."""

    def __init__(self, p: Prepared, edges: np.ndarray, score: np.ndarray, reqs: np.ndarray):
        self.eo = p.edge_offer[edges]
        self.er = p.edge_request[edges]
        self.score = score
        self.amount = p.request_amount[self.er]
        self.cap_o = p.offer_capacity
        self.cap_r = p.request_capacity
        self.has_budget = p.has_budget
        self.budget = p.offer_budget
        self.rows = np.zeros(len(p.request_capacity), dtype=bool)
        self.rows[reqs] = True

    def evaluate(self, mu: np.ndarray) -> tuple[float, np.ndarray]:
        """``L(mu)`` and each offer's best choice at ``mu`` (one edge mask). Offers whose
        best ``capacity`` edges by profit fit the budget take them (vectorised); the others
        solve their knapsack. Only edges of positive profit can help an offer."""
        eo = self.eo
        profit = self.score - mu[self.er]
        keep = np.nonzero(profit > 0)[0]
        keep = keep[np.lexsort((keep, -profit[keep], eo[keep]))]
        ko = eo[keep]
        rank = np.arange(len(keep)) - np.searchsorted(ko, ko, side="left")
        top = rank < self.cap_o[ko]
        spend = np.bincount(ko[top], weights=self.amount[keep[top]], minlength=len(self.cap_o))
        binding = self.has_budget & (spend > self.budget)
        simple = top & ~binding[ko]
        choice = np.zeros(len(eo), dtype=bool)
        choice[keep[simple]] = True
        value = float(profit[keep[simple]].sum()) + float(mu @ self.cap_r)
        offers = np.nonzero(binding)[0]
        lo = np.searchsorted(ko, offers, side="left").tolist()
        hi = np.searchsorted(ko, offers, side="right").tolist()
        for o, a, b in zip(offers.tolist(), lo, hi, strict=True):
            items = keep[a:b]
            best, chosen = _knapsack_choice(
                profit[items], self.amount[items], int(self.cap_o[o]), int(self.budget[o])
            )
            value += best
            choice[items[chosen]] = True
        return value, choice

    def minimise(
        self,
        mu: np.ndarray,
        incumbent: int,
        step: Callable[[int], None] | None = None,
        choices: int = 1,
    ) -> tuple[float, np.ndarray]:
        """Deflected subgradient from ``mu`` (the LP's duals): direction ``d = g + 1/2 d'``
        (``g = capacity - chosen`` per request row, ``d'`` the previous direction), Polyak
        step ``lam * (L - incumbent) / |d|^2``, multipliers kept >= 0; ``lam`` starts at
        1/2 and halves after ``LAGRANGIAN_PATIENCE`` steps without a bound better by
        ``LAGRANGIAN_BETTER`` of it. Stops
        after ``LAGRANGIAN_ITERATIONS`` steps, when the bound has stopped improving (``lam``
        below ``LAGRANGIAN_MIN_STEP``, or less than ``LAGRANGIAN_PROGRESS`` of it gained
        in ``LAGRANGIAN_WINDOW`` steps) or when it meets the incumbent. Returns the smallest
        ``L`` evaluated and the choices there (the union of the choices at the ``choices``
        smallest). ``step(k)`` is told of each step taken.

        Measured at 2,000 x 10,000 (the LP's duals give 0.192 % below the LP bound): plain
        subgradient (no deflection) reached 0.501 % in 150 steps, this 0.510 % (0.508 % when
        the window rule ends it, about 20 steps earlier at ``LAGRANGIAN_PROGRESS`` 1e-5;
        0.503 % at step 91 with 3e-5); starting ``lam`` at 1/4 or 1/8 did worse (0.468 % and
        0.486 % at step 70); halving it after 3 steps without a gain of
        ``LAGRANGIAN_BETTER`` does better (see there); column generation on the Dantzig-Wolfe master
        (HiGHS LPs of 3 to 110 s, the usual instability) did much worse. At 10,000 x 50,000
        it goes from 0.146 % to 0.460 % (allowed 400 steps, it stops itself at step 154 with
        the same bound). Restarting it from the best multipliers gains next to nothing
        (0.5084 % to 0.5087 % in two restarts at 2,000 x 10,000). A step costs one
        evaluation: about 0.17 s of CPU at 2,000 x 10,000 (900 offers' knapsacks bind, the
        dynamic programs' arithmetic most of it: 3 million table cells a step, each offer's
        some 20 items; 0.4 s before ``_knapsack_choice`` was trimmed), 1.2 s at
        10,000 x 50,000 (2,300 bind, before the trim). Running only 40 steps before the
        restricted integer program (the rest after it, to the ``mip_gap``) was tried: with
        choices from the less converged multipliers HiGHS took 120 s instead of 18 s on that
        program and found less (6,226,340 against 6,228,462), so the search runs until its
        own rules end it first (see ``LAGRANGIAN_PROGRESS``)."""
        value, choice = self.evaluate(mu)
        best = value
        # The ``choices`` smallest values evaluated, with their choices, best first.
        kept = [(value, choice)]
        lam, stall = LAGRANGIAN_STEP, 0
        direction = np.zeros(len(mu))
        history = [best]
        for k in range(LAGRANGIAN_ITERATIONS):
            if step:
                step(k)
            if _whole_bound(best) <= incumbent or lam < LAGRANGIAN_MIN_STEP:
                break
            g = self.cap_r - np.bincount(self.er[choice], minlength=len(mu))
            direction = np.where(self.rows, g + 0.5 * direction, 0.0)
            direction[(mu <= 0) & (direction > 0)] = 0.0
            norm = float(direction @ direction)
            if norm == 0:  # no direction left (rows met, or slack where mu is 0)
                break
            mu = np.maximum(mu - lam * (value - incumbent) / norm * direction, 0.0)
            value, choice = self.evaluate(mu)
            if len(kept) < choices or value < kept[-1][0]:
                kept = sorted([*kept, (value, choice)], key=lambda vc: vc[0])[:choices]
            if value < best - max(0.5, LAGRANGIAN_BETTER * abs(best)):
                best, stall = value, 0
            else:
                best = min(best, value)
                stall += 1
                if stall >= LAGRANGIAN_PATIENCE:
                    lam, stall = lam / 2, 0
            history.append(best)
            # (Counted once the search has found a better bound than the LP's duals: from a
            # poor incumbent the first steps overshoot until ``lam`` has halved enough.)
            if (
                len(history) > LAGRANGIAN_WINDOW
                and best < history[0]
                and history[-LAGRANGIAN_WINDOW - 1] - best < LAGRANGIAN_PROGRESS * best
            ):
                break
        union = kept[0][1].copy()
        for _, other in kept[1:]:
            union |= other
        return best, union


def _knapsack(profit: list[float], amount: list[int], cap: int, budget: int | None) -> float:
    """Best total profit of at most ``cap`` items with amounts summing to at most ``budget``
    (``None``: no budget); ``profit`` is sorted, largest first. See ``_knapsack_choice``."""
    if budget is None or sum(amount[:cap]) <= budget:
        return sum(profit[:cap])
    return _knapsack_choice(np.array(profit, float), np.array(amount, np.int64), cap, budget)[0]


def _knapsack_choice(
    profit: np.ndarray, amount: np.ndarray, cap: int, budget: int
) -> tuple[float, np.ndarray]:
    """The best total profit of at most ``cap`` items with amounts summing to at most
    ``budget``, and which items (a mask); ``profit`` positive and sorted, largest first.

    Exact by dynamic programming over (items taken, budget used) in units of the items'
    greatest common divisor (every sum of amounts is a multiple of it, so the budget may be
    rounded down to one), after dropping the items that cannot be needed: those over the
    budget, and those with at least ``cap`` items before them (profit at least theirs) that
    cost no more (any choice with such an item can swap it for one of those, not taken,
    losing nothing). When the table would exceed ``KNAPSACK_CELLS`` (or the record of its
    decisions ``KNAPSACK_TRACE``), the smaller of two relaxations stands (the best ``cap``
    profits; the fractional knapsack on the budget): an upper bound, not exact, with a
    feasible greedy choice."""
    n = len(profit)
    mask = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(amount <= budget)
    if len(idx) > cap:
        a = amount[idx]
        head = 4 * cap
        if len(idx) > head:
            # An item after the first ``head`` that costs at least the cap-th smallest of
            # their amounts has ``cap`` cheaper (or as cheap) items before it: drop those
            # first (some of what the exact count below drops), so that the count, quadratic,
            # runs on the few left (an offer can have over a thousand items).
            limit = np.partition(a[:head], cap - 1)[cap - 1]
            sub = np.ones(len(idx), dtype=bool)
            sub[head:] = a[head:] < limit
            idx, a = idx[sub], a[sub]
        if len(idx) > cap:
            earlier_cheaper = ((a[None, :] <= a[:, None]) & _strictly_lower(len(idx))).sum(axis=1)
            idx = idx[earlier_cheaper < cap]
    if not len(idx):
        return 0.0, mask
    p, a = profit[idx], amount[idx]
    unit = math.gcd(*a.tolist()) or 1
    w = a // unit
    weights = w.tolist()
    size = min(budget // unit, sum(sorted(weights)[-cap:]))
    if (size + 1) * (cap + 1) > KNAPSACK_CELLS or len(idx) * (size + 1) * cap > KNAPSACK_TRACE:
        order = np.lexsort((np.arange(len(idx)), -p / np.maximum(a, 1))).tolist()
        frac, left, taken = 0.0, budget, 0
        for j in order:
            if a[j] <= left:
                frac += p[j]
                left -= int(a[j])
                if taken < cap:
                    mask[idx[j]] = True
                    taken += 1
            else:
                frac += p[j] * left / a[j]
                break
        return min(float(p[:cap].sum()), frac), mask
    # best[k, u]: the best profit of k items using at most u units of budget; took[t, k-1, u]:
    # whether item t improved best[k, u] (for the trace back). (Loops over Python lists and
    # preallocated views: the tables are small, so the per-call overhead is what counts.)
    best = np.full((cap + 1, size + 1), -np.inf)
    best[0, :] = 0.0
    took = np.zeros((len(idx), cap, size + 1), dtype=bool)
    for t, (value, weight) in enumerate(zip(p.tolist(), weights, strict=True)):
        rows = min(t + 1, cap)
        view = best[1 : rows + 1, weight:]
        shifted = best[:rows, : size + 1 - weight] + value
        np.greater(shifted, view, out=took[t, :rows, weight:])
        np.maximum(view, shifted, out=view)
    last = best[:, size]
    k = int(np.argmax(last))
    total = float(last[k])
    u = size
    for t in range(len(idx) - 1, -1, -1):
        if k == 0:
            break
        if took[t, k - 1, u]:
            mask[idx[t]] = True
            k -= 1
            u -= weights[t]
    return total, mask


@lru_cache(maxsize=64)
def _strictly_lower(n: int) -> np.ndarray:
    """``n x n`` mask of the entries below the diagonal (item j before item i)."""
    return np.tri(n, k=-1, dtype=bool)


def _most_priority(p: Prepared, edges: np.ndarray, A, b) -> int:
    """At most how many priority-area matches the capacity and budget rows allow (an LP
    bound, rounded down), for the infeasibility message."""
    prio = p.request_priority[p.edge_request[edges]].astype(np.float64)
    n_rows = A.shape[0] - 1  # the share row is last
    if n_rows == 0:
        return int(prio.sum())
    res = linprog(-prio, A_ub=A[:n_rows], b_ub=b[:n_rows], bounds=(0, 1), method="highs-ds")
    return math.floor(-res.fun + _EPS) if res.status == 0 else int(prio.sum())


def _incidence(local: np.ndarray, tight: np.ndarray, n: int, values: np.ndarray):
    """Rows for the ``tight`` nodes: one row per node, ``values`` on its edges."""
    row_of = np.full(len(tight), -1, dtype=np.int64)
    row_of[tight] = np.arange(int(tight.sum()))
    rows = row_of[local]
    mask = rows >= 0
    return sp.csr_matrix(
        (values[mask], (rows[mask], np.nonzero(mask)[0])), shape=(int(tight.sum()), n)
    )


# --- reference: NetworkX min-cost flow -------------------------------------------------------


def reference_total(prepared: Prepared) -> int:
    """The optimum without budgets or share rows, by NetworkX's network simplex on the
    min-cost-flow form (source -> offers -> requests -> sink, plus a free bypass so that no
    flow is forced). Slow, but an independent exact check of the OR-Tools path (tests)."""
    p = prepared
    n_off = len(p.scorer.offers)
    g = nx.DiGraph()
    total_cap = int(p.request_capacity.clip(min=0).sum())
    g.add_node("s", demand=-total_cap)
    g.add_node("t", demand=total_cap)
    g.add_edge("s", "t", capacity=total_cap, weight=0)
    for o in np.unique(p.edge_offer).tolist():
        g.add_edge("s", o, capacity=int(p.offer_capacity[o]), weight=0)
    for r in np.unique(p.edge_request).tolist():
        g.add_edge(n_off + r, "t", capacity=int(p.request_capacity[r]), weight=0)
    for o, r, s in zip(
        p.edge_offer.tolist(), p.edge_request.tolist(), p.edge_score.tolist(), strict=True
    ):
        g.add_edge(o, n_off + r, capacity=1, weight=-s)
    cost, _ = nx.network_simplex(g)
    return -cost


# --- 3. explanation --------------------------------------------------------------------------


def assemble(prepared: Prepared, solution: Solution) -> Result:
    """Proposals with breakdowns and best alternatives, plus every candidate for audit."""
    p = prepared
    offers, requests = p.scorer.offers, p.requests
    n_off = len(offers)
    sel = solution.selected
    eo, er, es = p.edge_offer, p.edge_request, p.edge_score

    pairs = [(int(o), int(r), False) for o, r in zip(eo[sel], er[sel], strict=True)]
    pairs += [(o, r, True) for o, r in p.fixed]
    pairs.sort(key=lambda t: (requests[t[1]].id, offers[t[0]].id))
    matched_to_request: dict[int, list[int]] = {}
    used_cap = np.zeros(n_off, dtype=np.int64)
    spent = np.zeros(n_off, dtype=np.int64)
    for o, r, _ in pairs:
        matched_to_request.setdefault(r, []).append(o)
        used_cap[o] += 1
        spent[o] += p.request_amount[r]

    # Best losing edge per request and per offer, from the arrays sorted by score.
    order = np.lexsort((eo, -es))
    by_request: dict[int, list[int]] = {}
    by_offer: dict[int, list[int]] = {}
    for e in order.tolist():
        if not sel[e]:
            by_request.setdefault(int(er[e]), []).append(e)
            by_offer.setdefault(int(eo[e]), []).append(e)

    currency = p.instance.currency
    enforce = p.instance.params.enforce_budgets

    def offer_lost(e: int, score: int) -> Reason:
        o, r = int(eo[e]), int(er[e])
        offer = offers[o]
        if used_cap[o] >= offer.capacity:
            return Reason(
                f"企業 {offer.id} 的名額（{offer.capacity}）已用於其他配對",
                f"company {offer.id}'s capacity ({offer.capacity}) went to other matches",
            )
        if enforce and offer.budget is not None and spent[o] + p.request_amount[r] > offer.budget:
            left = money(offer.budget - int(spent[o]), currency)
            return Reason(
                f"企業 {offer.id} 剩餘預算 {left} 不足",
                f"company {offer.id} has only {left} of its budget left",
            )
        return _score_reason(int(es[e]), score)

    def request_lost(e: int, score: int) -> Reason:
        r = int(er[e])
        request = requests[r]
        partners = matched_to_request.get(r, [])
        if len(partners) >= request.capacity:
            names = "、".join(offers[o].id for o in partners)
            return Reason(
                f"申請案 {request.id} 已配對給 {names}",
                f"request {request.id} went to {', '.join(offers[o].id for o in partners)}",
            )
        return _score_reason(int(es[e]), score)

    proposals = []
    for o, r, fixed in pairs:
        breakdown = p.scorer.explain(offers[o], requests[r])
        score = breakdown.total
        alt_o = next((e for e in by_request.get(r, ()) if int(eo[e]) != o), None)
        alt_r = next((e for e in by_offer.get(o, ()) if int(er[e]) != r), None)
        proposals.append(
            Proposal(
                offer=offers[o].id,
                request=requests[r].id,
                score=score,
                fixed=fixed,
                breakdown=breakdown,
                alternative_offer=None
                if alt_o is None
                else Alternative(
                    offers[int(eo[alt_o])].id,
                    requests[r].id,
                    int(es[alt_o]),
                    offer_lost(alt_o, score),
                ),
                alternative_request=None
                if alt_r is None
                else Alternative(
                    offers[o].id,
                    requests[int(er[alt_r])].id,
                    int(es[alt_r]),
                    request_lost(alt_r, score),
                ),
            )
        )

    candidates = [
        Candidate(offers[o].id, requests[r].id, int(s), tuple(int(v) for v in pts), bool(chosen))
        for o, r, s, pts, chosen in zip(
            eo.tolist(), er.tolist(), es.tolist(), p.edge_points, sel.tolist(), strict=True
        )
    ]
    for prop in proposals:
        if prop.fixed:
            b = prop.breakdown
            candidates.append(
                Candidate(
                    prop.offer,
                    prop.request,
                    b.total,
                    tuple(c.points for c in b.components),
                    selected=True,
                    fixed=True,
                )
            )
    candidates.sort(key=lambda c: (c.request, -c.score, c.offer))
    matched = {r for _, r, _ in pairs}
    fixed_total = sum(prop.score for prop in proposals if prop.fixed)
    total = solution.total + fixed_total
    return Result(
        proposals=tuple(proposals),
        candidates=tuple(candidates),
        total_score=total,
        status=solution.status,
        bound=solution.bound + fixed_total,
        components=solution.components,
        unmatched_requests=tuple(r.id for i, r in enumerate(requests) if i not in matched),
        stats={**p.stats, **solution.stats, "lp_bound": solution.lp_bound + fixed_total},
    )


def _score_reason(alt: int, chosen: int) -> Reason:
    if alt <= chosen:
        return Reason(f"分數較低（{alt} 對 {chosen}）", f"lower score ({alt} vs {chosen})")
    return Reason(
        f"分數較高（{alt} 對 {chosen}），但全體總分最高的組合未選它",
        f"higher score ({alt} vs {chosen}), but the best total for everyone left it out",
    )


assert len(COMPONENTS) == 6  # the candidate points layout in the output relies on it
