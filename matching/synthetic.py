"""Synthetic instances for tests, demos and the benchmark, deterministic from a seed.

They use the real township and DGBAS codes. Their priority-area designations are
ILLUSTRATIVE ONLY (a seeded pick of 134 townships in the published type counts), not the
official list, which fund managers import (see ``matching.priority``).
"""

from __future__ import annotations

import random
from fractions import Fraction

from foundation.reference import counties, townships
from matching import areas, industry
from matching.problem import (
    KINDS,
    MOTIVES,
    REGIONS,
    Exclusions,
    Instance,
    Offer,
    Pair,
    Params,
    RelatedParty,
    Request,
)

TERMS = (
    *(f"SDG{i}" for i in range(1, 18)),
    "ESG-E",
    "ESG-S",
    "ESG-G",
    "地方品牌",
    "觀光",
    "青年返鄉",
    "食農教育",
    "文化保存",
    "循環經濟",
    "長照",
    "數位轉型",
)


def illustrative_designations(seed: int = 0) -> dict[str, str]:
    """134 townships with the published counts per type (62 agricultural, 24 intermediate,
    48 indigenous), picked at random: ILLUSTRATIVE, not the official designation."""
    rng = random.Random(f"designations-{seed}")
    towns = townships()
    rural = [c for c in areas.town_codes() if towns[c].kind == "rural_township"]
    urban = [c for c in areas.town_codes() if towns[c].kind in ("urban_township", "city")]
    picked_rural = rng.sample(rural, 62 + 48)
    picked_urban = rng.sample(urban, 24)
    out = dict.fromkeys(picked_rural[:62], "agricultural")
    out.update(dict.fromkeys(picked_rural[62:], "indigenous"))
    out.update(dict.fromkeys(picked_urban, "intermediate"))
    return out


def _amount(rng: random.Random) -> int:
    # NT$50,000 to about NT$5,000,000, log-uniform, in whole NT$10,000; minor units.
    return int(round(10 ** rng.uniform(4.7, 6.7), -4)) * 100


def generate(
    n_offers: int,
    n_requests: int,
    seed: int = 0,
    *,
    params: Params | None = None,
    related_share: Fraction = Fraction(1, 100),
    declined_share: Fraction = Fraction(1, 100),
) -> Instance:
    """A random but realistic-looking instance. Same arguments, same instance."""
    rng = random.Random(seed)
    codes = industry.codes()
    classes = [c for c in codes if not any(True for _ in industry.tree().successors(c))]
    by_level = {level: [c for c in codes if len(c) == level] for level in (1, 2, 3, 4)}
    county_codes = sorted(counties())
    town_codes = areas.town_codes()
    designations = illustrative_designations(seed)

    requests = []
    for i in range(n_requests):
        town = rng.choice(town_codes)
        requests.append(
            Request(
                id=f"R{i:06d}",
                kind=rng.choice(KINDS),
                amount=_amount(rng),
                industry=rng.choice(classes),
                town_code=town,
                priority_type=designations.get(town),
                tags=frozenset(rng.sample(TERMS, rng.randint(1, 4))),
                description="",
                capacity=1 if rng.random() < 0.9 else 2,
                organisation=f"ORG-R{i}",
            )
        )

    offers = []
    for j in range(n_offers):
        capacity = rng.randint(1, 10)
        n_kinds = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
        interests = []
        if rng.random() > 0.1:
            for _ in range(rng.randint(1, 3)):
                level = rng.choices((1, 2, 3, 4), weights=(15, 35, 30, 20))[0]
                interests.append(rng.choice(by_level[level]))
        if rng.random() < 0.2:
            regions: list[str] = []
        else:
            regions = []
            for _ in range(rng.randint(1, 3)):
                kind = rng.random()
                if kind < 0.4:
                    regions.append(rng.choice(REGIONS))
                elif kind < 0.85:
                    regions.append(rng.choice(county_codes))
                else:
                    regions.append(rng.choice(town_codes))
        exclusions = Exclusions()
        if rng.random() < 0.05:
            exclusions = Exclusions(
                industries=(rng.choice(codes),) if rng.random() < 0.5 else (),
                areas=(rng.choice(county_codes),),
            )
        typical = _amount(rng)
        offers.append(
            Offer(
                id=f"C{j:05d}",
                kinds=frozenset(rng.sample(KINDS, n_kinds)),
                budget=capacity * typical * rng.randint(6, 20) // 10 // 10000 * 10000,
                industries=tuple(dict.fromkeys(interests)),
                regions=tuple(dict.fromkeys(regions)),
                home_county=rng.choice(county_codes),
                motives=frozenset(rng.sample(MOTIVES, rng.randint(0, 3))),
                goals=frozenset(rng.sample(TERMS, rng.randint(1, 4))),
                capacity=capacity,
                exclusions=exclusions,
                organisation=f"ORG-C{j}",
            )
        )

    related = []
    declined = []
    if offers:
        for request in requests:
            if rng.random() < related_share:
                related.append(
                    RelatedParty(
                        rng.choice(offers).organisation,
                        request.organisation,
                        "offer",
                        "subsidiary",
                    )
                )
            if rng.random() < declined_share:
                declined.append(Pair(rng.choice(offers).id, request.id))
    return Instance(
        offers=tuple(offers),
        requests=tuple(requests),
        related=tuple(related),
        declined=tuple(dict.fromkeys(declined)),
        params=params or Params(),
    )
