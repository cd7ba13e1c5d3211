"""The JSON formats of the matcher: instance in, result out (documented in the README's
"The matcher" section).

``load_instance`` validates everything before anything is solved and reports every problem
with its path (``offers[3].budget``), so bad input never reaches the solver. Every number is
checked against a documented bound (``MAX_MONEY`` and friends) chosen so that the scorer's
int64 arithmetic cannot overflow and every budget or share sum the LP and the final checks
see stays an integer below 2**53, exact in float64: a value outside them is refused by name,
never computed wrongly.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

from foundation.reference import counties, townships
from matching import areas, industry
from matching.errors import InvalidInstance
from matching.priority import apply_designations
from matching.problem import (
    ANYWHERE,
    COMPONENTS,
    KINDS,
    MAX_COUNT,
    MAX_MIN_SCORE,
    MAX_MONEY,
    MAX_SHARE_DENOMINATOR,
    MAX_TIME_LIMIT,
    MAX_WEIGHT,
    MOTIVES,
    PRIORITY_TYPES,
    Alternative,
    Breakdown,
    Exclusions,
    Instance,
    Offer,
    Pair,
    Params,
    RelatedParty,
    Request,
    Result,
    Weights,
)
from matching.scoring import conflict_pairs

INSTANCE_FORMAT = "placefund.match.instance/1"
RESULT_FORMAT = "placefund.match.result/1"
#: Currencies whose amounts must be whole units (DOMAIN.md: whole-dollar TWD only).
WHOLE_UNIT_CURRENCIES = {"TWD": 100}

#: The fields each object of the instance format may have (README: "Instance JSON"); any
#: other is an error, so that a misspelt "capacty" is not silently ignored.
TOP_FIELDS = frozenset(
    {
        "format",
        "currency",
        "params",
        "offers",
        "requests",
        "related_parties",
        "declined",
        "fixed",
        "designations",
    }
)
PARAM_FIELDS = frozenset(
    {
        "k",
        "min_score",
        "weights",
        "priority_weights",
        "enforce_budgets",
        "min_priority_share",
        "time_limit",
        "mip_gap",
    }
)
OFFER_FIELDS = frozenset(
    {
        "id",
        "name",
        "organisation",
        "kinds",
        "budget",
        "industries",
        "regions",
        "home_county",
        "motives",
        "goals",
        "capacity",
        "exclusions",
    }
)
EXCLUSION_FIELDS = frozenset({"requests", "industries", "areas"})
REQUEST_FIELDS = frozenset(
    {
        "id",
        "name",
        "organisation",
        "kind",
        "amount",
        "industry",
        "town_code",
        "priority_type",
        "tags",
        "description",
        "capacity",
    }
)
RELATED_FIELDS = frozenset({"a", "b", "declared_by", "note"})
PAIR_FIELDS = frozenset({"offer", "request"})
DESIGNATION_FIELDS = frozenset({"town_code", "type"})

#: Integer literals longer than this are not converted at all (Python refuses more than 4,300
#: digits, and converting is quadratic); the field they are in is reported as too large.
MAX_INT_DIGITS = 30


class _TooLong:
    """An integer literal too long to convert, kept as its digit count so that its field's
    check can refuse it by name (it is no int, no float and no string to any check)."""

    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"<a {self.digits:,}-digit number>"


def _parse_int(text: str) -> int | _TooLong:
    digits = len(text) - text.startswith("-")
    return _TooLong(digits) if digits > MAX_INT_DIGITS else int(text)


def _parse_constant(name: str) -> float:
    # NaN and Infinity are not JSON; Python's parser accepts them. Keep them as floats so
    # the field's own check refuses them by name (every numeric field requires finite).
    return float(name.lower().replace("infinity", "inf"))


class _Checker:
    """Collects problems instead of stopping at the first, like beancount's validators."""

    def __init__(self):
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def obj(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"must be an object, got {_kind(value)}")
            return {}
        return value

    def unknown_keys(self, value: dict, allowed: set[str], path: str) -> None:
        # Unknown keys are errors: a misspelt "capacty" would otherwise be silently ignored.
        for key in sorted(set(value) - allowed):
            shown = key if len(key) <= 60 else f"{key[:50]}..."
            self.fail(f"{path}.{shown}", "unknown field")

    def string(self, value: Any, path: str, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if value is None:
            self.fail(path, "is required (a non-empty string)")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"must be a non-empty string, got {_kind(value)}")
            return None
        return value

    def integer(self, value: Any, path: str, *, minimum: int = 0, maximum: int) -> int | None:
        if isinstance(value, _TooLong):
            self.fail(path, f"must be at most {maximum:,}, got a {value.digits:,}-digit number")
            return None
        # bool is an int in Python; JSON true is not a number.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be an integer, got {_kind(value)}")
            return None
        if value < minimum:
            self.fail(path, f"must be at least {minimum:,}, got {value}")
            return None
        if value > maximum:
            self.fail(path, f"must be at most {maximum:,}, got {value}")
            return None
        return value

    def money(self, value: Any, path: str, currency: str) -> int | None:
        if isinstance(value, float):
            self.fail(path, f"must be an integer amount in minor units, got {_short(value)}")
            return None
        amount = self.integer(value, path, maximum=MAX_MONEY)
        step = WHOLE_UNIT_CURRENCIES.get(currency)
        if amount is not None and step and amount % step:
            self.fail(
                path,
                f"{currency} amounts must be whole dollars (a multiple of {step} minor units), "
                f"got {amount}",
            )
            return None
        return amount

    def strings(self, value: Any, path: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list of strings, got {_kind(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            s = self.string(item, f"{path}[{i}]")
            if s is not None:
                out.append(s)
        return out

    def choices(self, value: Any, path: str, allowed: tuple[str, ...]) -> list[str]:
        out = []
        for i, item in enumerate(self.strings(value, path)):
            if item in allowed:
                out.append(item)
            else:
                self.fail(
                    f"{path}[{i}]", f"unknown value {_short(item)}; expected {', '.join(allowed)}"
                )
        return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, _TooLong):
        return f"a {value.digits:,}-digit number"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else "an object"
    ) + ("" if isinstance(value, dict | list) else f" ({_short(value)})")


def _short(value: Any) -> str:
    """``repr`` cut to a readable length: a message quotes the value, not a megabyte of it."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text):,} characters)"


def parse_instance(data: Any, designations: dict[str, str] | None = None) -> Instance:
    """Build an ``Instance`` from decoded JSON, validating every field. ``designations``
    (from a designation CSV) override the requests' priority types. Raises
    ``InvalidInstance`` listing every problem found."""
    c = _Checker()
    top = c.obj(data, "$")
    c.unknown_keys(
        top,
        TOP_FIELDS,
        "$",
    )
    fmt = top.get("format", INSTANCE_FORMAT)
    if fmt != INSTANCE_FORMAT:
        c.fail("format", f"must be {INSTANCE_FORMAT!r}, got {_short(fmt)}")
    currency = top.get("currency", "TWD")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
        c.fail("currency", f"must be an ISO 4217 code such as 'TWD', got {_short(currency)}")
        currency = "TWD"
    params = _params(c, top.get("params", {}))
    offers = [_offer(c, o, f"offers[{i}]", currency) for i, o in enumerate(_list(c, top, "offers"))]
    requests = [
        _request(c, r, f"requests[{i}]", currency) for i, r in enumerate(_list(c, top, "requests"))
    ]
    offers = [o for o in offers if o is not None]
    requests = [r for r in requests if r is not None]
    _unique(c, [o.id for o in offers], "offers")
    _unique(c, [r.id for r in requests], "requests")
    offer_ids = {o.id for o in offers}
    request_ids = {r.id for r in requests}
    for i, o in enumerate(offers):
        for j, rid in enumerate(sorted(o.exclusions.requests)):
            if rid not in request_ids:
                c.fail(f"offers[{i}].exclusions.requests[{j}]", f"unknown request {_short(rid)}")
    # Related parties must name a known party: a typo would silently let a conflict through.
    identities = offer_ids | request_ids
    identities |= {o.organisation for o in offers if o.organisation}
    identities |= {r.organisation for r in requests if r.organisation}
    related = []
    for i, raw in enumerate(_list(c, top, "related_parties", required=False)):
        path = f"related_parties[{i}]"
        item = c.obj(raw, path)
        c.unknown_keys(item, RELATED_FIELDS, path)
        a, b = c.string(item.get("a"), f"{path}.a"), c.string(item.get("b"), f"{path}.b")
        for side, value in (("a", a), ("b", b)):
            if value is not None and value not in identities:
                c.fail(f"{path}.{side}", f"{_short(value)} is no offer, request or organisation")
        note = item.get("note", "")
        if not isinstance(note, str):
            c.fail(f"{path}.note", "must be a string")
            note = ""
        declared = c.string(item.get("declared_by"), f"{path}.declared_by", required=False)
        if a and b:
            related.append(RelatedParty(a, b, declared, note))
    declined = _pairs(c, top, "declined", offer_ids, request_ids)
    fixed = _pairs(c, top, "fixed", offer_ids, request_ids)
    for i, pair in enumerate(fixed):
        if pair in set(declined):
            c.fail(f"fixed[{i}]", f"{pair.offer}–{pair.request} is also declined")
    if "designations" in top:
        table = {}
        for i, raw in enumerate(_list(c, top, "designations")):
            path = f"designations[{i}]"
            item = c.obj(raw, path)
            c.unknown_keys(item, DESIGNATION_FIELDS, path)
            code = c.string(item.get("town_code"), f"{path}.town_code")
            kind = c.string(item.get("type"), f"{path}.type")
            if code is not None and code not in townships():
                c.fail(f"{path}.town_code", f"unknown town code {_short(code)}")
            elif kind is not None and kind not in PRIORITY_TYPES:
                c.fail(f"{path}.type", f"unknown type {_short(kind)}")
            elif code in table:
                c.fail(f"{path}.town_code", f"town code {code} is designated twice")
            elif code and kind:
                table[code] = kind
        designations = {**table, **(designations or {})}
    if c.problems:
        raise InvalidInstance(c.problems)
    if designations is not None:
        requests = list(apply_designations(tuple(requests), designations))
    instance = Instance(
        offers=tuple(offers),
        requests=tuple(requests),
        related=tuple(related),
        declined=tuple(declined),
        fixed=tuple(fixed),
        params=params,
        currency=currency,
    )
    conflicts = conflict_pairs(instance)
    problems = [
        (f"fixed[{i}]", f"{p.offer}–{p.request} is a declared conflict of interest")
        for i, p in enumerate(fixed)
        if (p.offer, p.request) in conflicts
    ]
    if problems:
        raise InvalidInstance(problems)
    return instance


def load_instance(path: str | Path, designations: dict[str, str] | None = None) -> Instance:
    """Read and validate an instance JSON file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInstance([("$", "not UTF-8 text")]) from None
    return parse_instance(decode_json(text), designations)


def decode_json(text: str) -> Any:
    """JSON text to Python values, refusing what Python's parser would choke on: integer
    literals longer than ``MAX_INT_DIGITS`` come back as ``_TooLong`` (refused by their
    field's check), nesting too deep for the parser is an ``InvalidInstance``."""
    try:
        return json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInstance(
            [("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
        ) from None
    except RecursionError:
        raise InvalidInstance([("$", "JSON nested too deeply")]) from None


def _list(c: _Checker, top: dict, key: str, *, required: bool = True) -> list:
    value = top.get(key)
    if value is None:
        if required:
            c.fail(key, "is required (a list)")
        return []
    if not isinstance(value, list):
        c.fail(key, f"must be a list, got {_kind(value)}")
        return []
    return value


def _unique(c: _Checker, ids: list[str], path: str) -> None:
    seen: dict[str, int] = {}
    for i, value in enumerate(ids):
        if value in seen:
            c.fail(
                f"{path}[{i}].id", f"duplicate id {_short(value)} (first at {path}[{seen[value]}])"
            )
        seen.setdefault(value, i)


def _pairs(c: _Checker, top: dict, key: str, offer_ids: set, request_ids: set) -> list[Pair]:
    out: list[Pair] = []
    seen = set()
    for i, raw in enumerate(_list(c, top, key, required=False)):
        path = f"{key}[{i}]"
        item = c.obj(raw, path)
        c.unknown_keys(item, PAIR_FIELDS, path)
        o = c.string(item.get("offer"), f"{path}.offer")
        r = c.string(item.get("request"), f"{path}.request")
        if o is not None and o not in offer_ids:
            c.fail(f"{path}.offer", f"unknown offer {_short(o)}")
        elif r is not None and r not in request_ids:
            c.fail(f"{path}.request", f"unknown request {_short(r)}")
        elif o and r:
            if (o, r) in seen:
                c.fail(path, f"{o}–{r} is listed twice")
            seen.add((o, r))
            out.append(Pair(o, r))
    return out


def _params(c: _Checker, raw: Any) -> Params:
    item = c.obj(raw, "params")
    c.unknown_keys(
        item,
        PARAM_FIELDS,
        "params",
    )
    defaults = Params()
    kw: dict[str, Any] = {}
    if "k" in item:
        kw["k"] = c.integer(item["k"], "params.k", minimum=1, maximum=MAX_COUNT) or defaults.k
    if "min_score" in item:
        kw["min_score"] = (
            c.integer(item["min_score"], "params.min_score", maximum=MAX_MIN_SCORE) or 0
        )
    if "weights" in item:
        w = c.obj(item["weights"], "params.weights")
        names = set(Weights.__dataclass_fields__)
        c.unknown_keys(w, names, "params.weights")
        values = {}
        for name in sorted(names & set(w)):
            minimum, maximum = (1, MAX_COUNT) if name == "overlap_full_at" else (0, MAX_WEIGHT)
            value = c.integer(w[name], f"params.weights.{name}", minimum=minimum, maximum=maximum)
            if value is not None:
                values[name] = value
        kw["weights"] = Weights(**values)
    if "priority_weights" in item:
        pw = c.obj(item["priority_weights"], "params.priority_weights")
        c.unknown_keys(pw, set(PRIORITY_TYPES), "params.priority_weights")
        weights = dict(defaults.priority_weights)
        for name in PRIORITY_TYPES:
            if name in pw:
                value = c.integer(pw[name], f"params.priority_weights.{name}", maximum=MAX_WEIGHT)
                if value is not None:
                    weights[name] = value
        kw["priority_weights"] = weights
    if "enforce_budgets" in item:
        if isinstance(item["enforce_budgets"], bool):
            kw["enforce_budgets"] = item["enforce_budgets"]
        else:
            c.fail("params.enforce_budgets", "must be true or false")
    if item.get("min_priority_share") is not None:
        share = _fraction(c, item["min_priority_share"], "params.min_priority_share")
        if share.denominator > MAX_SHARE_DENOMINATOR:
            c.fail(
                "params.min_priority_share",
                f"must be exact to 1/{MAX_SHARE_DENOMINATOR:,} (at most 6 decimal places, or "
                f"a fraction whose denominator is at most {MAX_SHARE_DENOMINATOR:,}), "
                f"got {_short(item['min_priority_share'])}",
            )
        else:
            kw["min_priority_share"] = share
    if item.get("mip_gap") is not None:
        kw["mip_gap"] = _fraction(c, item["mip_gap"], "params.mip_gap")
    if "time_limit" in item:
        value = item["time_limit"]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 < value <= MAX_TIME_LIMIT
        ):
            c.fail(
                "params.time_limit",
                f"must be a number of seconds above 0 and at most {MAX_TIME_LIMIT:,}, "
                f"got {_kind(value)}",
            )
        else:
            kw["time_limit"] = float(value)
    return Params(**kw)


#: What ``_fraction`` reads: a decimal (optionally a percentage), at most 9 digits a side
#: of the point, or a ratio of integers. Written out by hand rather than left to
#: ``Fraction``, which accepts exponents ("1e-999999999") and would compute that power of
#: ten for minutes.
_DECIMAL = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,9}))?(%?)")
#: (A ratio may have 12 digits a side: what ``str(Fraction)`` writes back for any decimal
#: read here, e.g. "0.000000001%" as "1/100000000000", so a written instance reads again.)
_RATIO = re.compile(r"([0-9]{1,12})/([0-9]{1,12})")


def parse_share(text: str) -> Fraction | None:
    """A share written as "0.3", "30%" or "1/3", exactly (any size: the caller checks the
    range); None for anything else. Bounded work whatever the text (no exponents)."""
    text = text.strip()
    if m := _DECIMAL.fullmatch(text):
        whole, frac, percent = m.group(1), m.group(2) or "", m.group(3)
        return Fraction(int(whole + frac), 10 ** len(frac) * (100 if percent else 1))
    if (m := _RATIO.fullmatch(text)) and int(m.group(2)):
        return Fraction(int(m.group(1)), int(m.group(2)))
    return None


def _fraction(c: _Checker, value: Any, path: str) -> Fraction:
    """A share from 0 to 1, given as a string ("0.3", "30%", "1/3"): strings keep it exact
    (no float rounding); a number is not accepted ("30" would be ambiguous)."""
    share = parse_share(value) if isinstance(value, str) else None
    if share is None:
        c.fail(
            path,
            'must be a string such as "0.3", "30%" or "1/3" (at most 9 digits a side of '
            "the point, 12 a side of the slash), "
            f"got {_kind(value)}",
        )
        return Fraction(0)
    if not 0 <= share <= 1:
        c.fail(path, f"must be between 0 and 1, got {_short(value)}")
        return Fraction(0)
    return share


def _offer(c: _Checker, raw: Any, path: str, currency: str) -> Offer | None:
    item = c.obj(raw, path)
    if not isinstance(raw, dict):
        return None  # reported by c.obj; an empty object goes on to name its missing fields
    c.unknown_keys(
        item,
        OFFER_FIELDS,
        path,
    )
    oid = c.string(item.get("id"), f"{path}.id")
    kinds = c.choices(item.get("kinds"), f"{path}.kinds", KINDS)
    if item.get("kinds") is None or (isinstance(item["kinds"], list) and not item["kinds"]):
        c.fail(f"{path}.kinds", "is required: list at least one partnership kind")
    budget = item.get("budget")
    if budget is not None:
        budget = c.money(budget, f"{path}.budget", currency)
    codes = c.strings(item.get("industries"), f"{path}.industries")
    for i, code in enumerate(codes):
        if not industry.is_code(code):
            c.fail(f"{path}.industries[{i}]", f"unknown DGBAS industry code {_short(code)}")
    regions = c.strings(item.get("regions"), f"{path}.regions")
    for i, area in enumerate(regions):
        if area != ANYWHERE and not areas.is_area(area):
            c.fail(
                f"{path}.regions[{i}]",
                f"{_short(area)} is not a region name, county code, township code or 'anywhere'",
            )
    home = c.string(item.get("home_county"), f"{path}.home_county", required=False)
    if home is not None and home not in counties():
        c.fail(f"{path}.home_county", f"unknown county code {_short(home)}")
    motives = c.choices(item.get("motives"), f"{path}.motives", MOTIVES)
    goals = c.strings(item.get("goals"), f"{path}.goals")
    capacity = c.integer(item.get("capacity", 1), f"{path}.capacity", minimum=1, maximum=MAX_COUNT)
    ex = c.obj(item.get("exclusions", {}), f"{path}.exclusions")
    c.unknown_keys(ex, EXCLUSION_FIELDS, f"{path}.exclusions")
    ex_requests = c.strings(ex.get("requests"), f"{path}.exclusions.requests")
    ex_codes = c.strings(ex.get("industries"), f"{path}.exclusions.industries")
    for i, code in enumerate(ex_codes):
        if not industry.is_code(code):
            c.fail(
                f"{path}.exclusions.industries[{i}]", f"unknown DGBAS industry code {_short(code)}"
            )
    ex_areas = c.strings(ex.get("areas"), f"{path}.exclusions.areas")
    for i, area in enumerate(ex_areas):
        if not areas.is_area(area):
            c.fail(f"{path}.exclusions.areas[{i}]", f"unknown area {_short(area)}")
    name = item.get("name", "")
    if not isinstance(name, str):
        c.fail(f"{path}.name", f"must be a string, got {_kind(name)}")
    org = c.string(item.get("organisation"), f"{path}.organisation", required=False)
    if oid is None or capacity is None or (budget is None and item.get("budget") is not None):
        return None
    return Offer(
        id=oid,
        kinds=frozenset(kinds),
        budget=budget,
        industries=tuple(dict.fromkeys(codes)),
        regions=tuple(dict.fromkeys(regions)),
        home_county=home,
        motives=frozenset(motives),
        goals=frozenset(goals),
        capacity=capacity,
        exclusions=Exclusions(frozenset(ex_requests), tuple(ex_codes), tuple(ex_areas)),
        name=name if isinstance(name, str) else "",
        organisation=org,
    )


def _request(c: _Checker, raw: Any, path: str, currency: str) -> Request | None:
    item = c.obj(raw, path)
    if not isinstance(raw, dict):
        return None  # reported by c.obj; an empty object goes on to name its missing fields
    c.unknown_keys(
        item,
        REQUEST_FIELDS,
        path,
    )
    rid = c.string(item.get("id"), f"{path}.id")
    kind = c.string(item.get("kind"), f"{path}.kind")
    if kind is not None and kind not in KINDS:
        c.fail(f"{path}.kind", f"unknown kind {_short(kind)}; expected {', '.join(KINDS)}")
        kind = None
    if item.get("amount") is None:
        c.fail(f"{path}.amount", "is required (an integer amount in minor units)")
        amount = None
    else:
        amount = c.money(item["amount"], f"{path}.amount", currency)
    code = c.string(item.get("industry"), f"{path}.industry")
    if code is not None and not industry.is_code(code):
        c.fail(f"{path}.industry", f"unknown DGBAS industry code {_short(code)}")
        code = None
    town = c.string(item.get("town_code"), f"{path}.town_code")
    if town is not None and town not in townships():
        c.fail(f"{path}.town_code", f"unknown township code {_short(town)}")
        town = None
    ptype = c.string(item.get("priority_type"), f"{path}.priority_type", required=False)
    if ptype is not None and ptype not in PRIORITY_TYPES:
        c.fail(f"{path}.priority_type", f"unknown type {_short(ptype)}; expected {PRIORITY_TYPES}")
    tags = c.strings(item.get("tags"), f"{path}.tags")
    description = item.get("description", "")
    if not isinstance(description, str):
        c.fail(f"{path}.description", "must be a string")
    capacity = c.integer(item.get("capacity", 1), f"{path}.capacity", minimum=1, maximum=MAX_COUNT)
    org = c.string(item.get("organisation"), f"{path}.organisation", required=False)
    name = item.get("name", "")
    if not isinstance(name, str):
        c.fail(f"{path}.name", f"must be a string, got {_kind(name)}")
    if None in (rid, kind, amount, code, town, capacity):
        return None
    return Request(
        id=rid,
        kind=kind,
        amount=amount,
        industry=code,
        town_code=town,
        priority_type=ptype,
        tags=frozenset(tags),
        description=description if isinstance(description, str) else "",
        capacity=capacity,
        name=name if isinstance(name, str) else "",
        organisation=org,
    )


# --- writing ---------------------------------------------------------------------------------


def instance_to_json(instance: Instance) -> dict:
    """The JSON form of an instance (what ``parse_instance`` reads)."""
    p = instance.params

    def offer(o: Offer) -> dict:
        return {
            "id": o.id,
            "name": o.name,
            "organisation": o.organisation,
            "kinds": sorted(o.kinds),
            "budget": o.budget,
            "industries": list(o.industries),
            "regions": list(o.regions),
            "home_county": o.home_county,
            "motives": sorted(o.motives),
            "goals": sorted(o.goals),
            "capacity": o.capacity,
            "exclusions": {
                "requests": sorted(o.exclusions.requests),
                "industries": list(o.exclusions.industries),
                "areas": list(o.exclusions.areas),
            },
        }

    def request(r: Request) -> dict:
        return {
            "id": r.id,
            "name": r.name,
            "organisation": r.organisation,
            "kind": r.kind,
            "amount": r.amount,
            "industry": r.industry,
            "town_code": r.town_code,
            "priority_type": r.priority_type,
            "tags": sorted(r.tags),
            "description": r.description,
            "capacity": r.capacity,
        }

    params: dict[str, Any] = {
        "k": p.k,
        "min_score": p.min_score,
        "weights": dict(vars(p.weights)),
        "priority_weights": dict(p.priority_weights),
        "enforce_budgets": p.enforce_budgets,
        "time_limit": p.time_limit,
        "mip_gap": str(p.mip_gap),
    }
    if p.min_priority_share:
        params["min_priority_share"] = str(p.min_priority_share)
    return {
        "format": INSTANCE_FORMAT,
        "currency": instance.currency,
        "params": params,
        "offers": [offer(o) for o in instance.offers],
        "requests": [request(r) for r in instance.requests],
        "related_parties": [
            {"a": r.a, "b": r.b, "declared_by": r.declared_by, "note": r.note}
            for r in instance.related
        ],
        "declined": [{"offer": d.offer, "request": d.request} for d in instance.declined],
        "fixed": [{"offer": f.offer, "request": f.request} for f in instance.fixed],
    }


def breakdown_to_json(b: Breakdown) -> dict:
    """A pair's components with bilingual reasons."""
    out = {
        "score": b.total,
        "eligible": b.eligible,
        "components": [
            {
                "name": comp.name,
                "points": comp.points,
                "max": comp.max_points,
                "reason": {"zh": comp.reason.zh, "en": comp.reason.en},
            }
            for comp in b.components
        ],
    }
    if b.blocker:
        out["blocker"] = {"zh": b.blocker.zh, "en": b.blocker.en}
    return out


def _alternative(a: Alternative | None) -> dict | None:
    if a is None:
        return None
    return {
        "offer": a.offer,
        "request": a.request,
        "score": a.score,
        "reason": {"zh": a.reason.zh, "en": a.reason.en},
    }


def result_to_json(result: Result, instance: Instance) -> dict:
    """The JSON form of a result: summary, assignment with explanations, every candidate."""
    return {
        "format": RESULT_FORMAT,
        "currency": instance.currency,
        "summary": {
            "status": result.status,
            "total_score": result.total_score,
            "bound": result.bound,
            "lp_bound": int(result.stats.get("lp_bound", result.bound)),
            "proposals": len(result.proposals),
            "fixed": sum(p.fixed for p in result.proposals),
            "candidates": len(result.candidates),
            "components": result.components,
            "unmatched_requests": len(result.unmatched_requests),
        },
        "assignment": [
            {
                "offer": p.offer,
                "request": p.request,
                "fixed": p.fixed,
                **breakdown_to_json(p.breakdown),
                "alternative_offer": _alternative(p.alternative_offer),
                "alternative_request": _alternative(p.alternative_request),
            }
            for p in result.proposals
        ],
        "unmatched_requests": list(result.unmatched_requests),
        "candidate_components": list(COMPONENTS),
        "candidates": [
            {
                "offer": cand.offer,
                "request": cand.request,
                "score": cand.score,
                "points": list(cand.points),
                "selected": cand.selected,
                "fixed": cand.fixed,
            }
            for cand in result.candidates
        ],
    }
