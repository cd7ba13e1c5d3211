"""Reference data shipped with the service: Taiwan's 368 townships and the DGBAS industries."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Township:
    code: str
    name: str
    kind: str
    county_code: str
    county_name: str
    county_name_en: str
    region: str
    #: As in Taiwan's postal district list (Hanyu Pinyin): "Zhushan Township"
    name_en: str = ""


@dataclass(frozen=True)
class Industry:
    code: str
    parent_code: str | None
    level: int
    name: str


def _rows(filename: str):
    with resources.files("foundation.data").joinpath(filename).open(encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


@cache
def townships() -> dict[str, Township]:
    """Town code (8 digits, as text) to township."""
    return {
        r["town_code"]: Township(
            r["town_code"],
            r["town_name"],
            r["town_kind"],
            r["county_code"],
            r["county_name"],
            r["county_name_en"],
            r["region"],
            r["town_name_en"],
        )
        for r in _rows("tw_townships.csv")
    }


@cache
def counties() -> dict[str, tuple[str, str, str]]:
    """County code to (name, English name, region)."""
    return {
        t.county_code: (t.county_name, t.county_name_en, t.region) for t in townships().values()
    }


@cache
def industries() -> dict[str, Industry]:
    return {
        r["code"]: Industry(r["code"], r["parent_code"] or None, int(r["level"]), r["name"])
        for r in _rows("tw_industries.csv")
    }
