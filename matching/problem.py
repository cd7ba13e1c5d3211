"""Plain value types of the matcher: what goes in (offers, requests, related parties,
parameters) and what comes out (candidates, proposals, the result).

They are frozen dataclasses with no database or web imports, so the DB workflow, the API and
the CLI can all build them from their own sources. Money is ``int`` minor units of the
instance's currency (TWD: NT$1,000 is ``100000``); scores are ``int`` points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

#: Partnership kinds (issue 5; DOMAIN.md practices 2 and 3).
KINDS = ("product_development", "investment", "sponsorship")
#: Why a company takes part. Only ``relationship`` (giving back to the home county, 回饋故鄉)
#: changes a score: it doubles the home-county bonus. The others are kept for reports.
MOTIVES = ("brand", "tax", "innovation", "relationship")
#: Priority-area types (地方創生優先推動地區): 農山漁村, 中介城鎮, 原鄉.
PRIORITY_TYPES = ("agricultural", "intermediate", "indigenous")
#: Regions used by the township reference data.
REGIONS = ("north", "central", "south", "east", "islands")
#: Written in an offer's regions to mean "no regional preference".
ANYWHERE = "anywhere"

# --- bounds that keep the arithmetic exact (README: "Bounds") ------------------------------
# ``matching.instance`` refuses, by field, any value outside them.
#: Amounts and budgets, minor units (NT$100,000,000,000). A feasible choice never spends more
#: than a budget, so every budget sum that decides anything stays below 2**53 (exact in the
#: LP's float64), and ``weights.amount * budget`` stays below 2**63 (the scorer's int64).
MAX_MONEY = 10**13
#: Each weight and priority weight: a pair's total then stays below 10**6 (int32 scores).
MAX_WEIGHT = 100_000
#: Capacities, ``k`` and ``overlap_full_at``.
MAX_COUNT = 1_000_000
#: ``min_score`` (far above any reachable total; it only has to be comparable in int64).
MAX_MIN_SCORE = 10**9
#: ``min_priority_share`` denominator: the share row's coefficients stay small integers.
MAX_SHARE_DENOMINATOR = 1_000_000
#: ``time_limit``, seconds (about 11.5 days).
MAX_TIME_LIMIT = 1_000_000

#: Score components in the order they are reported.
COMPONENTS = ("kind", "industry", "region", "amount", "overlap", "priority")


@dataclass(frozen=True)
class Exclusions:
    """What a company refuses outright: specific requests, industries (a code excludes its
    whole subtree) and areas (a region name, county code or township code)."""

    requests: frozenset[str] = frozenset()
    industries: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()


@dataclass(frozen=True)
class Offer:
    """A company's partnership offer."""

    id: str
    kinds: frozenset[str]
    #: The most the company will spend across all its matches, in minor units; ``None``
    #: means no stated budget (no budget constraint, full amount-fit points).
    budget: int | None
    #: DGBAS codes at any level; empty means open to any industry.
    industries: tuple[str, ...] = ()
    #: Region names, county codes (5 digits) or township codes (8 digits); empty means
    #: anywhere.
    regions: tuple[str, ...] = ()
    home_county: str | None = None
    motives: frozenset[str] = frozenset()
    #: ESG or SDG goals, compared case-insensitively with the requests' tags.
    goals: frozenset[str] = frozenset()
    #: The most partners the company wants.
    capacity: int = 1
    exclusions: Exclusions = field(default_factory=Exclusions)
    name: str = ""
    #: The company's own identifier (e.g. its 統一編號), used for conflict checks.
    organisation: str | None = None


@dataclass(frozen=True)
class Request:
    """A local business asking for a partner."""

    id: str
    kind: str
    #: Amount sought, minor units.
    amount: int
    #: DGBAS code, any level (usually a 4-digit class).
    industry: str
    #: 8-digit township code.
    town_code: str
    #: Priority-area type where the township is designated, else ``None``.
    priority_type: str | None = None
    tags: frozenset[str] = frozenset()
    description: str = ""
    #: The most companies the business wants.
    capacity: int = 1
    name: str = ""
    organisation: str | None = None


@dataclass(frozen=True)
class RelatedParty:
    """A declared relation between two parties (offer ids, request ids or organisation
    identifiers). Any offer and request whose identities are related are a conflict of
    interest and never matched."""

    a: str
    b: str
    declared_by: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Pair:
    """An (offer, request) pair, used for declined and fixed pairs."""

    offer: str
    request: str


@dataclass(frozen=True)
class Weights:
    """The most points each component can give. Defaults add up to 1000 with the default
    priority weight. ``kind`` is a hard constraint and gives no points."""

    industry: int = 300
    region: int = 200
    #: Home-county bonus (part of the region component); doubled when the company's motives
    #: include ``relationship``.
    home: int = 50
    amount: int = 150
    overlap: int = 150
    #: Number of shared tags/goals that earns the full overlap points.
    overlap_full_at: int = 3


@dataclass(frozen=True)
class Params:
    """Solver and scoring parameters a fund manager sets for a run."""

    #: Candidates kept per request (the best ``k`` offers by score).
    k: int = 20
    #: Pairs scoring below this are never candidates.
    min_score: int = 1
    weights: Weights = field(default_factory=Weights)
    #: Boost per priority-area type, set by fund managers.
    priority_weights: dict[str, int] = field(
        default_factory=lambda: {t: 100 for t in PRIORITY_TYPES}
    )
    #: When false, budgets only shape the amount-fit score and per-pair eligibility; the sum
    #: over a company's matches is not limited (the problem is then a pure b-matching).
    enforce_budgets: bool = True
    #: Least share of all matches (fixed ones included) that must go to priority-area
    #: townships; ``None`` or 0 for no such constraint.
    min_priority_share: Fraction | None = None
    #: Seconds the integer solver may spend on the budget-constrained part.
    time_limit: float = 60.0
    #: Relative gap at which the integer solver may stop (5/1000 = 0.5 %).
    mip_gap: Fraction = Fraction(1, 1000)


@dataclass(frozen=True)
class Instance:
    """Everything one matching run needs."""

    offers: tuple[Offer, ...]
    requests: tuple[Request, ...]
    related: tuple[RelatedParty, ...] = ()
    declined: tuple[Pair, ...] = ()
    fixed: tuple[Pair, ...] = ()
    params: Params = field(default_factory=Params)
    currency: str = "TWD"


@dataclass(frozen=True)
class Reason:
    """One human-readable sentence in Traditional Chinese and English."""

    zh: str
    en: str


@dataclass(frozen=True)
class Component:
    """One named score component of a pair, explainable on its own."""

    name: str
    points: int
    max_points: int
    reason: Reason


@dataclass(frozen=True)
class Breakdown:
    """A pair's full score: ``eligible`` is false when a hard constraint fails (``blocker``
    says which), and then the pair is never a candidate."""

    offer: str
    request: str
    eligible: bool
    total: int
    components: tuple[Component, ...]
    blocker: Reason | None = None


@dataclass(frozen=True)
class Candidate:
    """A candidate edge kept after pruning, with its component points (in ``COMPONENTS``
    order) so the output can be audited without recomputing."""

    offer: str
    request: str
    score: int
    points: tuple[int, ...]
    selected: bool = False
    fixed: bool = False


@dataclass(frozen=True)
class Alternative:
    """The best pair that lost, and why."""

    offer: str
    request: str
    score: int
    reason: Reason


@dataclass(frozen=True)
class Proposal:
    """A pair in the assignment with its explanation."""

    offer: str
    request: str
    score: int
    fixed: bool
    breakdown: Breakdown
    #: Best other company for this request that was not chosen.
    alternative_offer: Alternative | None
    #: Best other request for this company that was not chosen.
    alternative_request: Alternative | None


@dataclass(frozen=True)
class Result:
    """The outcome of a run."""

    proposals: tuple[Proposal, ...]
    candidates: tuple[Candidate, ...]
    total_score: int
    #: ``optimal`` when proven optimal, ``feasible`` when the integer solver stopped at its
    #: gap or time limit (``bound`` then says how far from optimal it can be at most).
    status: str
    #: Upper bound on the best total (LP relaxation or integer solver bound, rounded down).
    bound: int
    components: int
    unmatched_requests: tuple[str, ...] = ()
    stats: dict[str, float] = field(default_factory=dict, compare=False)
