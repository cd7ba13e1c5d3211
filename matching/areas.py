"""Townships, counties and regions as the matcher uses them (from foundation.reference)."""

from __future__ import annotations

from functools import cache

from foundation.reference import counties, townships
from matching.problem import ANYWHERE, REGIONS

REGIONS_ZH = {
    "north": "北部",
    "central": "中部",
    "south": "南部",
    "east": "東部",
    "islands": "離島",
}


@cache
def town_codes() -> tuple[str, ...]:
    """Every township code in sorted order, used to index score tables."""
    return tuple(sorted(townships()))


@cache
def town_index() -> dict[str, int]:
    """Township code to its position in ``town_codes()``."""
    return {code: i for i, code in enumerate(town_codes())}


def is_area(value: str) -> bool:
    """Whether ``value`` is a region name, a county code or a township code."""
    return value in REGIONS or value in counties() or value in townships()


def area_kind(value: str) -> str:
    """``region``, ``county``, ``town`` or ``anywhere`` for a valid area value."""
    if value == ANYWHERE:
        return "anywhere"
    if value in REGIONS:
        return "region"
    if value in counties():
        return "county"
    return "town"


def contains(area: str, town_code: str) -> bool:
    """Whether township ``town_code`` lies in ``area`` (itself, its county or its region)."""
    town = townships()[town_code]
    return area in (town_code, town.county_code, town.region)


def area_label(area: str) -> tuple[str, str]:
    """``(zh, en)`` label of a region name, county code or township code."""
    kind = area_kind(area)
    if kind == "region":
        return REGIONS_ZH[area], f"the {area} region"
    if kind == "county":
        name, name_en, _ = counties()[area]
        return name, name_en
    if kind == "town":
        town = townships()[area]
        # In words in both languages: "Zhushan Township, Nantou County", never the code
        return f"{town.county_name}{town.name}", f"{town.name_en}, {town.county_name_en}"
    return "不限地區", "anywhere"
