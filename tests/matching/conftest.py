"""Builders for matcher tests: small offers and requests with sensible defaults."""

from __future__ import annotations

from dataclasses import replace

from matching.problem import Instance, Offer, Params, Request

#: 宜蘭縣蘇澳鎮 (north), 南投縣竹山鎮 (central), 屏東縣東港鎮 (south).
SUAO = "10002030"
ZHUSHAN = "10008040"
DONGGANG = "10013030"


def offer(id: str = "o1", **kw) -> Offer:
    """An offer open to all kinds, with a roomy budget, unless told otherwise."""
    base = Offer(
        id=id,
        kinds=frozenset({"product_development", "investment", "sponsorship"}),
        budget=100_000_000,
        industries=("C",),
        regions=("central",),
        capacity=2,
    )
    return replace(base, **kw)


def request(id: str = "r1", **kw) -> Request:
    """A sponsorship request for NT$100,000 from a tea maker in Zhushan."""
    base = Request(id=id, kind="sponsorship", amount=10_000_000, industry="0895", town_code=ZHUSHAN)
    return replace(base, **kw)


def instance(offers, requests, **kw) -> Instance:
    params = kw.pop("params", Params())
    return Instance(offers=tuple(offers), requests=tuple(requests), params=params, **kw)
