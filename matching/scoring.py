"""Scores of (offer, request) pairs: named integer components, each with its own reason.

Components (points are ``int``; defaults in ``models.Weights``):

- ``kind``: a hard constraint. The request's kind must be one the company offers. 0 points.
- ``industry``: proximity on the DGBAS tree. Full points when the request's code lies inside a
  code the company named; otherwise, in the same section, ``weight * (8 - d) // 8`` for tree
  distance ``d`` (2 for sibling classes, up to 6); 0 across sections. A company naming no
  industry gets half the points (open to anything, but below those who asked for it).
- ``region``: full points when the township is in a region, county or township the company
  named, also when it lists ``anywhere`` beside them (it prefers those areas and accepts the
  rest); half elsewhere when the company accepts anywhere (``anywhere``, or no region); 0
  otherwise. Plus the home-county bonus
  when the request is in the company's home county, doubled for the ``relationship`` motive.
- ``amount``: the company's budget per partner is ``budget // capacity``. Full points when
  the amount sought fits within it, falling linearly to 0 as the amount approaches the whole
  budget. More than the whole budget is a hard constraint.
- ``overlap``: shared request tags and company goals (case and spaces ignored);
  ``weight * min(n, full_at) // full_at``.
- ``priority``: the fund manager's boost for the request's priority-area type.

Hard constraints besides kind: the company's exclusions (requests, industries, areas), a
declared conflict of interest, a pair declined before, an amount above the whole budget.

The same numbers come out of two paths: ``explain`` for one pair (with reasons, used for
proposals) and ``candidate_arrays`` for all pairs at once (numpy, used to build the graph).
Tests check that they agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np

from foundation.reference import townships
from matching import areas, industry
from matching.problem import (
    ANYWHERE,
    COMPONENTS,
    MAX_MONEY,
    Breakdown,
    Component,
    Instance,
    Offer,
    Params,
    Reason,
    Request,
)

#: Marks a hard-constraint failure inside score tables; far below any real total (at most
#: seven times ``instance.MAX_WEIGHT``: industry, region with a doubled home bonus, amount,
#: overlap, priority), so a total with one NEG is negative.
NEG = -(10**6)
#: An offer without a budget scores as if it had this one, which no amount reaches.
NO_BUDGET = 4 * MAX_MONEY

KIND_ZH = {"product_development": "產品開發", "investment": "投資", "sponsorship": "贊助認養"}
KIND_EN = {
    "product_development": "product development",
    "investment": "investment",
    "sponsorship": "sponsorship (adoption)",
}
PRIORITY_ZH = {"agricultural": "農山漁村", "intermediate": "中介城鎮", "indigenous": "原鄉"}
PRIORITY_EN = {
    "agricultural": "agricultural, mountain and fishing village",
    "intermediate": "intermediate town",
    "indigenous": "indigenous township",
}
CURRENCY_SYMBOLS = {"TWD": "NT$"}


def money(amount: int, currency: str = "TWD") -> str:
    """Minor units as text, e.g. ``100000`` TWD as ``NT$1,000`` (cents only when present)."""
    whole, cents = divmod(amount, 100)
    text = f"{whole:,}" + (f".{cents:02d}" if cents else "")
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{currency} {text}"


def normalise_term(term: str) -> str:
    """Tags and goals compare case-insensitively and without spaces ("SDG 11" = "sdg11")."""
    return "".join(term.split()).casefold()


# --- component formulas on plain ints; the numpy path mirrors them ------------------------


def industry_points(weight: int, distance: int | None) -> int:
    """Points for a proximity (``None``: different sections)."""
    if distance is None:
        return 0
    if distance == 0:
        return weight
    return weight * max(0, 8 - distance) // 8


def amount_points(weight: int, budget: int | None, capacity: int, amount: int) -> int | None:
    """Amount-fit points, or ``None`` when the amount exceeds the whole budget."""
    if budget is None:
        return weight
    if amount > budget:
        return None
    share = budget // capacity
    if amount <= share:
        return weight
    return weight * (budget - amount) // (budget - share)


def overlap_points(weight: int, full_at: int, shared: int) -> int:
    """Points for ``shared`` common tags/goals."""
    return weight * min(shared, full_at) // max(full_at, 1)


@cache
def _proximities() -> np.ndarray:
    """``industry.proximity`` of every pair of codes (interest by row, code by column, in
    ``industry.codes()`` order), -1 for different sections: the same numbers, computed at
    once from each code's chain of ancestors. Two codes share a prefix of their chains (a
    tree), so their common ancestors are counted level by level; the interest covers the
    code when they share its whole chain, and otherwise the tree distance is
    ``depth + depth - 2 * shared``."""
    codes = industry.codes()
    index = industry.code_index()
    chains = [industry.ancestors(c)[::-1] for c in codes]  # section first
    depth = np.array([len(chain) for chain in chains], dtype=np.int16)
    levels = np.full((len(codes), int(depth.max())), -1, dtype=np.int32)
    for i, chain in enumerate(chains):
        levels[i, : len(chain)] = [index[a] for a in chain]
    shared = np.zeros((len(codes), len(codes)), dtype=np.int16)
    for level in levels.T:
        shared += (level[:, None] == level[None, :]) & (level[:, None] >= 0)
    distance = depth[:, None] + depth[None, :] - 2 * shared
    distance[shared == depth[:, None]] = 0
    distance[shared == 0] = -1
    return distance


@cache
def _interest_vector(code: str, weight: int) -> np.ndarray:
    """Industry points, for a company interested in ``code``, of every code in
    ``industry.codes()`` order (``industry_points`` over a row of ``_proximities``)."""
    distance = _proximities()[industry.code_index()[code]].astype(np.int64)
    points = weight * np.maximum(0, 8 - distance) // 8
    points[distance == 0] = weight
    points[distance < 0] = 0
    return points.astype(np.int32)


@cache
def _covered_mask(code: str) -> np.ndarray:
    """Which codes lie inside ``code`` (for industry exclusions)."""
    return _proximities()[industry.code_index()[code]] == 0


@cache
def _town_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = areas.town_codes()
    towns = townships()
    return (
        np.array(codes),
        np.array([towns[c].county_code for c in codes]),
        np.array([towns[c].region for c in codes]),
    )


def _area_mask(values: Iterable[str]) -> np.ndarray:
    codes, county, region = _town_arrays()
    values = list(values)
    return np.isin(codes, values) | np.isin(county, values) | np.isin(region, values)


def _regions_open(offer: Offer) -> bool:
    return not offer.regions or ANYWHERE in offer.regions


def _named_areas(offer: Offer) -> tuple[str, ...]:
    """The regions, counties and townships an offer names (``anywhere`` aside)."""
    return tuple(a for a in offer.regions if a != ANYWHERE)


def _home_bonus(params: Params, offer: Offer) -> int:
    return params.weights.home * (2 if "relationship" in offer.motives else 1)


def conflict_pairs(instance: Instance) -> set[tuple[str, str]]:
    """Every (offer id, request id) that is a conflict of interest: the two are related by a
    declared relation between any of their identities (own id or organisation), or belong to
    the same organisation."""
    offers_by = defaultdict(list)
    for offer in instance.offers:
        offers_by[offer.id].append(offer.id)
        if offer.organisation:
            offers_by[offer.organisation].append(offer.id)
    requests_by = defaultdict(list)
    for request in instance.requests:
        requests_by[request.id].append(request.id)
        if request.organisation:
            requests_by[request.organisation].append(request.id)
    pairs = set()
    for rel in instance.related:
        for a, b in ((rel.a, rel.b), (rel.b, rel.a)):
            for o in offers_by.get(a, ()):
                for r in requests_by.get(b, ()):
                    pairs.add((o, r))
    for org, offer_ids in offers_by.items():
        for r in requests_by.get(org, ()):
            for o in offer_ids:
                if org != o and org != r:  # only organisation identities, not equal ids
                    pairs.add((o, r))
    return pairs


@dataclass
class Scorer:
    """Everything needed to score pairs of one instance, prepared once.

    Offers are indexed in id order so results do not depend on input order.
    """

    instance: Instance
    offers: tuple[Offer, ...]
    offer_index: dict[str, int]
    conflicts: set[tuple[str, str]]
    declined: set[tuple[str, str]]
    #: Industry points (or NEG), codes x offers.
    industry_table: np.ndarray
    #: Region points incl. home bonus (or NEG), townships x offers.
    region_table: np.ndarray
    kind_bits: np.ndarray
    #: Budget per offer, -1 for none.
    budget: np.ndarray
    capacity: np.ndarray
    #: Offer goals as bit sets over ``terms``, offers x words.
    goal_bits: np.ndarray
    terms: dict[str, int]

    @classmethod
    def build(cls, instance: Instance) -> Scorer:
        """Prepare the score tables for ``instance``."""
        params = instance.params
        w = params.weights
        offers = tuple(sorted(instance.offers, key=lambda o: o.id))
        n_codes, n_towns, n = len(industry.codes()), len(areas.town_codes()), len(offers)
        ind = np.empty((n_codes, n), dtype=np.int32)
        reg = np.empty((n_towns, n), dtype=np.int32)
        _, county_of, _ = _town_arrays()
        terms: dict[str, int] = {}
        for offer in offers:
            for goal in sorted(offer.goals):
                terms.setdefault(normalise_term(goal), len(terms))
        words = (len(terms) + 63) // 64
        goal_bits = np.zeros((n, words), dtype=np.uint64)
        for j, offer in enumerate(offers):
            if offer.industries:
                col = np.max([_interest_vector(c, w.industry) for c in offer.industries], axis=0)
            else:
                col = np.full(n_codes, w.industry // 2, dtype=np.int32)
            for code in offer.exclusions.industries:
                col = np.where(_covered_mask(code), NEG, col)
            ind[:, j] = col
            named = _named_areas(offer)
            rest = w.region // 2 if _regions_open(offer) else 0
            if named:
                rcol = np.where(_area_mask(named), w.region, rest).astype(np.int32)
            else:
                rcol = np.full(n_towns, rest, dtype=np.int32)
            if offer.home_county:
                rcol = rcol + np.where(
                    county_of == offer.home_county, _home_bonus(params, offer), 0
                )
            if offer.exclusions.areas:
                rcol = np.where(_area_mask(offer.exclusions.areas), NEG, rcol)
            reg[:, j] = rcol
            for goal in offer.goals:
                bit = terms[normalise_term(goal)]
                goal_bits[j, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
        return cls(
            instance=instance,
            offers=offers,
            offer_index={o.id: j for j, o in enumerate(offers)},
            conflicts=conflict_pairs(instance),
            declined={(p.offer, p.request) for p in instance.declined},
            industry_table=ind,
            region_table=reg,
            kind_bits=np.array([_kind_bits(o.kinds) for o in offers], dtype=np.uint8),
            budget=np.array([-1 if o.budget is None else o.budget for o in offers], np.int64),
            capacity=np.array([o.capacity for o in offers], dtype=np.int64),
            goal_bits=goal_bits,
            terms=terms,
        )

    # --- one pair, with reasons -----------------------------------------------------------

    def explain(self, offer: Offer, request: Request) -> Breakdown:
        """Score one pair with a reason for every component; ``eligible`` is false (and
        ``blocker`` says why) when a hard constraint fails. Points are computed the same way
        for ineligible pairs, so a fixed pair that became ineligible still shows its score."""
        params = self.instance.params
        w = params.weights
        currency = self.instance.currency
        blockers: list[Reason] = []

        kind_zh, kind_en = KIND_ZH[request.kind], KIND_EN[request.kind]
        if request.kind in offer.kinds:
            kind_reason = Reason(f"合作類型相符：{kind_zh}", f"partnership kind matches: {kind_en}")
        else:
            kind_reason = Reason(
                f"企業不提供此合作類型（{kind_zh}）", f"the company does not offer {kind_en}"
            )
            blockers.append(kind_reason)

        ind_points, ind_reason = self._industry(offer, request.industry)
        for code in offer.exclusions.industries:
            if industry.covers(code, request.industry):
                zh, en = industry.label(code)
                blockers.append(
                    Reason(f"企業排除此行業（{zh}）", f"the company excludes industry {en}")
                )

        reg_points, reg_reason = self._region(offer, request.town_code)
        for area in offer.exclusions.areas:
            if areas.contains(area, request.town_code):
                zh, en = areas.area_label(area)
                blockers.append(Reason(f"企業排除此地區（{zh}）", f"the company excludes {en}"))

        amt = amount_points(w.amount, offer.budget, offer.capacity, request.amount)
        sought = money(request.amount, currency)
        if offer.budget is None:
            amt_reason = Reason(
                f"企業未設預算上限，所需金額 {sought}",
                f"the company set no budget; amount sought {sought}",
            )
        else:
            budget = money(offer.budget, currency)
            share = money(offer.budget // offer.capacity, currency)
            if amt is None:
                amt_reason = Reason(
                    f"所需金額 {sought} 超過企業總預算 {budget}",
                    f"amount sought {sought} exceeds the company's whole budget {budget}",
                )
                blockers.append(amt_reason)
            elif amt == w.amount:
                amt_reason = Reason(
                    f"所需金額 {sought} 在企業每位夥伴預算 {share} 之內",
                    f"amount sought {sought} is within the company's budget per partner {share}",
                )
            else:
                amt_reason = Reason(
                    f"所需金額 {sought} 超過每位夥伴預算 {share}，但在總預算 {budget} 之內",
                    f"amount sought {sought} is above the budget per partner {share} "
                    f"but within the whole budget {budget}",
                )

        goal_keys = {normalise_term(g) for g in offer.goals}
        # Reported in the request's spelling, compared on the normalised key.
        shared = sorted(
            (key, tag)
            for key, tag in {normalise_term(t): t for t in sorted(request.tags)}.items()
            if key in goal_keys
        )
        ov_points = overlap_points(w.overlap, w.overlap_full_at, len(shared))
        if shared:
            names = [t for _, t in shared]
            ov_reason = Reason(
                f"共同的目標或標籤 {len(shared)} 項：{'、'.join(names)}",
                f"{len(shared)} shared goal(s) or tag(s): {', '.join(names)}",
            )
        else:
            ov_reason = Reason("沒有共同的目標或標籤", "no shared goals or tags")

        ptype = request.priority_type
        pr_points = params.priority_weights.get(ptype, 0) if ptype else 0
        if ptype:
            pr_reason = Reason(
                f"位於地方創生優先推動地區（{PRIORITY_ZH[ptype]}），加權 {pr_points} 分",
                f"in a place-creation priority area ({PRIORITY_EN[ptype]}), "
                f"boost {pr_points} points",
            )
        else:
            pr_reason = Reason("不在地方創生優先推動地區", "not in a designated priority area")

        key = (offer.id, request.id)
        if request.id in offer.exclusions.requests:
            blockers.append(Reason("企業排除此申請案", "the company excludes this request"))
        if key in self.conflicts:
            blockers.append(
                Reason("雙方有利益衝突（關係人）", "conflict of interest: declared related parties")
            )
        if key in self.declined:
            blockers.append(Reason("此配對先前已被婉拒", "this pair was declined before"))

        amount_max = w.amount
        components = (
            Component("kind", 0, 0, kind_reason),
            Component("industry", ind_points, w.industry, ind_reason),
            Component("region", reg_points, w.region + _home_bonus(params, offer), reg_reason),
            Component("amount", amt or 0, amount_max, amt_reason),
            Component("overlap", ov_points, w.overlap, ov_reason),
            Component(
                "priority", pr_points, max(params.priority_weights.values(), default=0), pr_reason
            ),
        )
        total = sum(c.points for c in components)
        if not blockers and total < params.min_score:
            blockers.append(
                Reason(
                    f"總分 {total} 低於門檻 {params.min_score}",
                    f"total {total} is below the minimum score {params.min_score}",
                )
            )
        return Breakdown(
            offer=offer.id,
            request=request.id,
            eligible=not blockers,
            total=total,
            components=components,
            blocker=blockers[0] if blockers else None,
        )

    def _industry(self, offer: Offer, code: str) -> tuple[int, Reason]:
        weight = self.instance.params.weights.industry
        target_zh, target_en = industry.label(code)
        if not offer.industries:
            return weight // 2, Reason(
                f"企業不限行業（申請者為 {target_zh}）",
                f"the company is open to any industry (request is {target_en})",
            )
        # The company's closest code wins; ties go to the first it listed.
        best = max(
            offer.industries,
            key=lambda c: industry_points(weight, industry.proximity(c, code)),
        )
        distance = industry.proximity(best, code)
        points = industry_points(weight, distance)
        zh, en = industry.label(best)
        if distance == 0:
            return points, Reason(
                f"屬於企業關注的行業 {zh}（申請者為 {target_zh}）",
                f"within the company's industry of interest {en} (request: {code})",
            )
        if distance is None:
            sec_zh, sec_en = industry.label(industry.section(code))
            own = "、".join(industry.label(industry.section(c))[0] for c in offer.industries)
            own_en = ", ".join(industry.label(industry.section(c))[1] for c in offer.industries)
            return points, Reason(
                f"行業大類不同（申請者 {sec_zh}，企業關注 {own}）",
                f"different sections (request in {sec_en}; company interested in {own_en})",
            )
        sec_zh, sec_en = industry.label(industry.section(code))
        return points, Reason(
            f"同屬 {sec_zh}（距離 {distance}：{zh} 與 {target_zh}）",
            f"same section {sec_en} (distance {distance}: {best} and {code})",
        )

    def _region(self, offer: Offer, town_code: str) -> tuple[int, Reason]:
        params = self.instance.params
        weight = params.weights.region
        town_zh, town_en = areas.area_label(town_code)
        # The most specific area the company named that contains the township: a named area
        # earns full points even beside "anywhere" (the company prefers it).
        order = {"town": 0, "county": 1, "region": 2}
        matched = sorted(
            (a for a in _named_areas(offer) if areas.contains(a, town_code)),
            key=lambda a: order[areas.area_kind(a)],
        )
        if matched:
            points = weight
            a_zh, a_en = areas.area_label(matched[0])
            zh = f"位於企業指定的地區 {a_zh}（{town_zh}）"
            en = f"in {a_en}, an area the company named ({town_en})"
        elif _regions_open(offer):
            points = weight // 2
            zh, en = f"企業不限地區（位於{town_zh}）", f"the company accepts anywhere ({town_en})"
        else:
            points = 0
            names_zh = "、".join(areas.area_label(a)[0] for a in offer.regions)
            names_en = ", ".join(areas.area_label(a)[1] for a in offer.regions)
            zh = f"不在企業指定的地區（{names_zh}）；位於{town_zh}"
            en = f"outside the company's areas ({names_en}); {town_en}"
        town = townships()[town_code]
        if offer.home_county and offer.home_county == town.county_code:
            bonus = _home_bonus(params, offer)
            points += bonus
            if "relationship" in offer.motives:
                zh += f"；企業故鄉 {town.county_name}，回饋故鄉加倍 +{bonus}"
                en += f"; the company's home county {town.county_name_en}, doubled +{bonus}"
            else:
                zh += f"；企業故鄉 {town.county_name} +{bonus}"
                en += f"; the company's home county {town.county_name_en} +{bonus}"
        return points, Reason(zh, en)

    # --- all pairs at once -----------------------------------------------------------------

    def candidate_arrays(
        self,
        requests: tuple[Request, ...],
        k: int,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """The best ``k`` eligible offers of every request, scored with numpy in blocks.

        Returns arrays ``offer`` and ``request`` (indices into ``self.offers`` and
        ``requests``), ``score`` and ``points`` (edges x components, ``COMPONENTS`` order),
        ordered by request, then score descending, then offer id. Ties at the k-th place go
        to the smaller offer id, so the same input always keeps the same edges.
        ``progress`` is called with the number of requests done after each block.
        """
        params = self.instance.params
        w = params.weights
        n_off = len(self.offers)
        empty = {
            "offer": np.empty(0, np.int32),
            "request": np.empty(0, np.int32),
            "score": np.empty(0, np.int32),
            "points": np.empty((0, len(COMPONENTS)), np.int32),
        }
        if n_off == 0 or not requests or k <= 0:
            return empty
        code_idx = industry.code_index()
        town_idx = areas.town_index()
        r_code = np.array([code_idx[r.industry] for r in requests], dtype=np.int64)
        r_town = np.array([town_idx[r.town_code] for r in requests], dtype=np.int64)
        r_kind = np.array([_kind_bits((r.kind,)) for r in requests], dtype=np.uint8)
        r_amount = np.array([r.amount for r in requests], dtype=np.int64)
        r_prio = np.array(
            [
                params.priority_weights.get(r.priority_type, 0) if r.priority_type else 0
                for r in requests
            ],
            dtype=np.int32,
        )
        words = self.goal_bits.shape[1]
        r_tags = np.zeros((len(requests), max(words, 1)), dtype=np.uint64)
        for i, r in enumerate(requests):
            for tag in r.tags:
                bit = self.terms.get(normalise_term(tag))
                if bit is not None:
                    r_tags[i, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
        # Pairs blocked one by one (excluded requests, conflicts, declined), per request.
        req_pos = {r.id: i for i, r in enumerate(requests)}
        blocked: dict[int, list[int]] = defaultdict(list)
        for offer in self.offers:
            for rid in offer.exclusions.requests:
                if rid in req_pos:
                    blocked[req_pos[rid]].append(self.offer_index[offer.id])
        for oid, rid in self.conflicts | self.declined:
            if rid in req_pos and oid in self.offer_index:
                blocked[req_pos[rid]].append(self.offer_index[oid])

        # Amount fit as one formula for every offer: with ``d = budget - amount`` (negative:
        # over the whole budget, a hard constraint) the points are
        # ``weight * min(d + c, span) // span``, ``span = budget - budget // capacity``
        # (at least 1), where ``c`` is 1 only when that difference is 0 (the whole budget is
        # the per-partner budget, so any amount within it fits): that is ``weight`` within
        # the per-partner budget and the linear fall beyond it, as in ``amount_points``.
        # An offer with no budget gets a budget no amount reaches, so always ``weight``.
        has_budget = self.budget >= 0
        budget = np.where(has_budget, self.budget, NO_BUDGET)
        gap = np.where(has_budget, budget - budget // self.capacity, 0)
        span = np.maximum(gap, 1)
        lift = (gap == 0).astype(np.int64)
        # Hard constraints add NEG: every real total is below -NEG, so one NEG makes it
        # negative, below any ``min_score`` (>= 0).
        kind_penalty = np.array(
            [np.where(self.kind_bits & bits, 0, NEG) for bits in range(8)], dtype=np.int32
        )
        amount_max = np.int64(w.amount)
        overlap_lut = np.array(
            [overlap_points(w.overlap, w.overlap_full_at, n) for n in range(64 * words + 1)],
            dtype=np.int32,
        )
        threshold = max(params.min_score, 0)

        def amount_points_of(amounts: np.ndarray) -> np.ndarray:
            """Amount points (or NEG) of these amounts for every offer: amounts x offers."""
            d = budget[None, :] - amounts[:, None]
            over = d < 0
            np.add(d, lift, out=d)
            np.minimum(d, span, out=d)
            np.multiply(d, amount_max, out=d)
            np.floor_divide(d, span, out=d)
            d[over] = NEG
            return d.astype(np.int32)

        # Amounts sought are mostly round figures, so one row per distinct amount is a small
        # table to gather from (like industries and townships), and the integer division,
        # the costliest operation per pair, runs once per amount and offer rather than once
        # per pair. When the amounts are too varied for one table, each block gets its own.
        distinct, amount_row = np.unique(r_amount, return_inverse=True)
        if len(distinct) * n_off <= 8_000_000:
            table = amount_points_of(distinct)

            def amount_table(sl: slice) -> np.ndarray:
                return table[amount_row[sl]]
        else:

            def amount_table(sl: slice) -> np.ndarray:
                values, rows = np.unique(r_amount[sl], return_inverse=True)
                return amount_points_of(values)[rows]

        block = max(1, min(len(requests), 2_000_000 // max(n_off, 1)))
        kk = min(k, n_off)
        outs = []
        for start in range(0, len(requests), block):
            sl = slice(start, min(start + block, len(requests)))
            total = self.industry_table[r_code[sl]]
            total += self.region_table[r_town[sl]]
            total += kind_penalty[r_kind[sl]]
            total += r_prio[sl][:, None]
            total += amount_table(sl)
            if words:
                shared = np.bitwise_count(self.goal_bits[None, :, 0] & r_tags[sl, 0][:, None])
                for word in range(1, words):
                    shared = shared + np.bitwise_count(
                        self.goal_bits[None, :, word] & r_tags[sl, word][:, None]
                    )
                total += overlap_lut[shared]
                del shared
            else:
                total += overlap_lut[0]
            for i in range(sl.start, sl.stop):
                if i in blocked:
                    total[i - sl.start, blocked[i]] = NEG
            # The k best of each row: every total at or above a floor that at least k totals
            # reach, sorted, the first k kept (ties to the smaller offer index). The floor is
            # the k-th largest of the maxima of 4k column groups (k distinct columns reach
            # it), which costs one pass instead of a partition of every row.
            floor = np.full(total.shape[0], threshold, dtype=np.int64)
            if kk < n_off:
                groups = min(n_off, 4 * kk)
                width = n_off // groups
                tops = total[:, : groups * width].reshape(len(total), groups, width).max(axis=2)
                kth = np.partition(tops, groups - kk, axis=1)[:, groups - kk]
                np.maximum(floor, kth, out=floor)
            rows, cols = np.nonzero(total >= floor[:, None])
            scores = total[rows, cols]
            order = np.lexsort((cols, -scores.astype(np.int64), rows))
            rows, cols, scores = rows[order], cols[order], scores[order]
            first = np.searchsorted(rows, rows, side="left")
            keep = np.arange(len(rows)) - first < kk
            outs.append((rows[keep] + sl.start, cols[keep], scores[keep]))
            if progress:
                progress(sl.stop - sl.start)
        if not outs:
            return empty
        req = np.concatenate([o[0] for o in outs])
        off = np.concatenate([o[1] for o in outs])
        score = np.concatenate([o[2] for o in outs]).astype(np.int64)
        # The components of the kept edges only, by the same formulas.
        ind = self.industry_table[r_code[req], off].astype(np.int64)
        reg = self.region_table[r_town[req], off].astype(np.int64)
        d = np.minimum(budget[off] - r_amount[req] + lift[off], span[off])
        amount = amount_max * d // span[off]
        if words:
            shared = np.zeros(len(req), dtype=np.int64)
            for word in range(words):
                shared += np.bitwise_count(self.goal_bits[off, word] & r_tags[req, word])
            overlap = overlap_lut[shared].astype(np.int64)
        else:
            overlap = np.zeros(len(req), dtype=np.int64)
        prio = r_prio[req].astype(np.int64)
        comp = np.stack([np.zeros(len(req), np.int64), ind, reg, amount, overlap, prio], axis=1)
        return {
            "offer": off.astype(np.int32),
            "request": req.astype(np.int32),
            "score": score.astype(np.int32),
            "points": comp.astype(np.int32),
        }


def _kind_bits(kinds: Iterable[str]) -> int:
    bits = 0
    for kind in kinds:
        bits |= 1 << ("product_development", "investment", "sponsorship").index(kind)
    return bits
