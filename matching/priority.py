"""Priority-area designations (地方創生優先推動地區) that fund managers import as CSV.

The official list of the 134 priority townships is data, not code: managers import it.
Format: UTF-8 (a BOM is fine), a header naming at least ``town_code`` and ``type``; other
columns (a township name, a note) are ignored. Types are ``agricultural`` (農山漁村),
``intermediate`` (中介城鎮) or ``indigenous`` (原鄉), in English or Chinese. Blank lines and
lines starting with ``#`` are skipped, so a file can say that it is illustrative.

Every bad line is reported with its line number (the header is line 1) in one error.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

from foundation.reference import townships
from matching.errors import DesignationError, InvalidInstance
from matching.problem import PRIORITY_TYPES, Request

TYPE_ALIASES = {
    **{t: t for t in PRIORITY_TYPES},
    "農山漁村": "agricultural",
    "中介城鎮": "intermediate",
    "原鄉": "indigenous",
}


def parse_designations(text: str) -> dict[str, str]:
    """Parse designation CSV text into ``{town_code: type}``; raise ``DesignationError``
    listing every bad line."""
    text = text.removeprefix("\ufeff")
    # Keep physical line numbers: feed the reader only non-comment lines, remembering where
    # each came from (csv would otherwise count records, not lines).
    numbered = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise DesignationError([(1, "the file is empty; expected a header town_code,type")])
    header_line, header = numbered[0]
    columns = [c.strip().casefold() for c in next(csv.reader([header]))]
    missing = [c for c in ("town_code", "type") if c not in columns]
    if missing:
        raise DesignationError(
            [(header_line, f"the header lacks {', '.join(missing)}; found {', '.join(columns)}")]
        )
    code_at, type_at = columns.index("town_code"), columns.index("type")
    towns = townships()
    result: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    problems: list[tuple[int, str]] = []
    for n, line in numbered[1:]:
        try:
            fields = next(csv.reader(io.StringIO(line), strict=True))
        except csv.Error as exc:
            problems.append((n, f"not valid CSV ({exc})"))
            continue
        if len(fields) != len(columns):
            problems.append((n, f"expected {len(columns)} fields, found {len(fields)}"))
            continue
        code, kind = fields[code_at].strip(), fields[type_at].strip()
        if not (code.isdigit() and len(code) == 8):
            hint = " (a leading zero lost in a spreadsheet?)" if code.isdigit() else ""
            problems.append((n, f"town code {code!r} is not 8 digits{hint}"))
            continue
        if code not in towns:
            problems.append((n, f"unknown town code {code}"))
            continue
        normalised = TYPE_ALIASES.get(kind.casefold(), TYPE_ALIASES.get(kind))
        if normalised is None:
            problems.append(
                (n, f"unknown type {kind!r}; expected one of {', '.join(PRIORITY_TYPES)}")
            )
            continue
        if code in result:
            problems.append(
                (n, f"town code {code} is listed again (first on line {first_seen[code]})")
            )
            continue
        result[code] = normalised
        first_seen[code] = n
    if problems:
        raise DesignationError(problems)
    return result


def read_designations(path: str | Path) -> dict[str, str]:
    """Read a designation CSV file (see ``parse_designations``)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DesignationError(
            [(raw[: exc.start].count(b"\n") + 1, "not UTF-8 text (save the file as UTF-8)")]
        ) from None
    return parse_designations(text)


def apply_designations(
    requests: tuple[Request, ...], designations: dict[str, str]
) -> tuple[Request, ...]:
    """Set every request's priority type from the designations, which are authoritative.
    A request that states a different type is an input error, not silently overwritten."""
    problems = []
    out = []
    for i, request in enumerate(requests):
        designated = designations.get(request.town_code)
        if request.priority_type is not None and request.priority_type != designated:
            problems.append(
                (
                    f"requests[{i}].priority_type",
                    f"request {request.id} states {request.priority_type!r} but township "
                    f"{request.town_code} is "
                    + (f"designated {designated!r}" if designated else "not designated"),
                )
            )
        out.append(replace(request, priority_type=designated))
    if problems:
        raise InvalidInstance(problems)
    return tuple(out)
