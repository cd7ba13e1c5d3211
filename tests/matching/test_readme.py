"""The README's matcher section against the code: its instance example runs, its result
example is what the code writes for it, its designation CSV parses, and its field table
names every field the parser accepts and no other."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from matching import instance as fmt
from matching.cli import match
from matching.priority import parse_designations

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## The matcher (配對)")
    return text[start : text.index("\n## ", start + 1)]


def block_after(heading: str, language: str) -> str:
    text = section()
    start = text.index(heading)
    match_ = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    assert match_, f"no ```{language} block after {heading!r}"
    return match_.group(1)


def field_table() -> list[str]:
    """The backticked names in the first column of the instance field table."""
    text = section()
    start = text.index("| field | required | meaning |")
    names = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        names += re.findall(r"`([^`]+)`", line.split("|")[1])
    return names


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    src = folder / "instance.json"
    src.write_text(block_after("### Instance JSON", "json"), encoding="utf-8")
    out = folder / "result.json"
    result = CliRunner().invoke(match, ["solve", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text(encoding="utf-8"))


def assert_shown_as_written(shown, actual, path="$"):
    """Every value the README shows equals what the code wrote; lists may be abridged to
    their first items; objects show every key the code writes."""
    if isinstance(shown, dict):
        assert isinstance(actual, dict), path
        assert set(shown) == set(actual), f"{path}: keys {sorted(shown)} != {sorted(actual)}"
        for key, value in shown.items():
            assert_shown_as_written(value, actual[key], f"{path}.{key}")
    elif isinstance(shown, list):
        assert isinstance(actual, list), path
        assert len(shown) <= len(actual), path
        for i, value in enumerate(shown):
            assert_shown_as_written(value, actual[i], f"{path}[{i}]")
    else:
        assert shown == actual, f"{path}: README shows {shown!r}, the code writes {actual!r}"


def test_instance_example_runs_and_result_example_is_what_the_code_writes(solved):
    shown = json.loads(block_after("### Result JSON", "json"))
    assert_shown_as_written(shown, solved)
    # The README says the example shows the first of all proposals and candidates.
    assert len(solved["assignment"]) == 4
    assert len(solved["candidates"]) == 6


def test_instance_example_shows_every_field():
    example = json.loads(block_after("### Instance JSON", "json"))
    assert set(example) == fmt.TOP_FIELDS
    assert set(example["params"]) == fmt.PARAM_FIELDS
    assert set(example["offers"][0]) == fmt.OFFER_FIELDS
    assert set(example["offers"][0]["exclusions"]) == fmt.EXCLUSION_FIELDS
    assert set(example["requests"][0]) == fmt.REQUEST_FIELDS
    assert set(example["related_parties"][0]) == fmt.RELATED_FIELDS
    assert set(example["fixed"][0]) == set(example["declined"][0]) == fmt.PAIR_FIELDS
    assert set(example["designations"][0]) == fmt.DESIGNATION_FIELDS


def test_field_table_names_every_field_and_no_other():
    expected = set(fmt.TOP_FIELDS)
    expected |= {f"params.{name}" for name in fmt.PARAM_FIELDS}
    expected |= {f"offers[].{name}" for name in fmt.OFFER_FIELDS}
    expected |= {f"offers[].exclusions.{name}" for name in fmt.EXCLUSION_FIELDS}
    expected |= {f"requests[].{name}" for name in fmt.REQUEST_FIELDS}
    expected |= {f"related_parties[].{name}" for name in fmt.RELATED_FIELDS}
    expected |= {f"{key}[].{name}" for key in ("declined", "fixed") for name in fmt.PAIR_FIELDS}
    expected |= {f"designations[].{name}" for name in fmt.DESIGNATION_FIELDS}
    assert set(field_table()) == expected


def test_documented_bounds_are_the_codes():
    text = section()
    assert f"0 to {fmt.MAX_MONEY:,}" in text
    assert f"0 to {fmt.MAX_WEIGHT:,} each" in text
    assert f"1 to {fmt.MAX_COUNT:,}, default 20" in text
    assert f"at most {fmt.MAX_SHARE_DENOMINATOR:,}" in text
    assert f"at most {fmt.MAX_TIME_LIMIT:,}" in text
    assert f"0 to {fmt.MAX_MIN_SCORE:,}" in text
    assert f"more than {fmt.MAX_INT_DIGITS} digits" in text


def test_designation_csv_example_parses():
    table = parse_designations(block_after("#### Designation CSV", ""))
    assert table == {"10008040": "intermediate", "10013030": "agricultural"}
