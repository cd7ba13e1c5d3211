"""Bad input to ``placefund match solve``: exit 2, a message naming the field, no output file,
no traceback, and parsing that ends (a guard fails the test if one input takes minutes, as a
huge decimal exponent once did)."""

from __future__ import annotations

import contextlib
import json
import signal
from unittest import mock

import pytest
from click.testing import CliRunner

from matching import cli
from matching.cli import match
from tests.matching.conftest import ZHUSHAN

HUGE = 10**30


def base():
    return {
        "offers": [{"id": "o1", "kinds": ["sponsorship"], "budget": 100000, "capacity": 1}],
        "requests": [
            {
                "id": "r1",
                "kind": "sponsorship",
                "amount": 50000,
                "industry": "0895",
                "town_code": ZHUSHAN,
            }
        ],
    }


def changed(path: str, value):
    """``base()`` as JSON text with the value at ``path`` (dotted, list indices as numbers)
    replaced by raw JSON text ``value`` (so literals Python cannot build survive)."""
    data = base()
    marker = "__VALUE__"
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(last)] = marker
    else:
        node[last] = marker
    return json.dumps(data).replace(json.dumps(marker), value)


THOUSAND_DIGITS = "9" * 5000

CASES = [
    # (case, instance JSON text, field the message must name)
    ("capacity 10**30", changed("offers.0.capacity", str(HUGE)), "offers[0].capacity"),
    ("budget 10**30", changed("offers.0.budget", str(HUGE)), "offers[0].budget"),
    ("budget 9e18", changed("offers.0.budget", str(9 * 10**18)), "offers[0].budget"),
    ("amount 10**30", changed("requests.0.amount", str(HUGE)), "requests[0].amount"),
    ("request capacity 10**30", changed("requests.0.capacity", str(HUGE)), "requests[0].capacity"),
    ("weight 10**30", changed("params.weights.amount", str(HUGE)), "params.weights.amount"),
    ("weight 1e9", changed("params.weights.amount", str(10**9)), "params.weights.amount"),
    (
        "region weight 2e9",
        changed("params.weights.region", str(2 * 10**9)),
        "params.weights.region",
    ),
    (
        "priority weight 10**30",
        changed("params.priority_weights.agricultural", str(HUGE)),
        "params.priority_weights.agricultural",
    ),
    ("k 10**30", changed("params.k", str(HUGE)), "params.k"),
    ("min_score 10**30", changed("params.min_score", str(HUGE)), "params.min_score"),
    (
        "overlap_full_at 10**30",
        changed("params.weights.overlap_full_at", str(HUGE)),
        "params.weights.overlap_full_at",
    ),
    ("5000-digit amount", changed("requests.0.amount", THOUSAND_DIGITS), "requests[0].amount"),
    ("5000-digit negative k", changed("params.k", "-" + THOUSAND_DIGITS), "params.k"),
    ("5000-digit id", changed("offers.0.id", THOUSAND_DIGITS), "offers[0].id"),
    ("deep JSON", "[" * 100_000 + "]" * 100_000, "$"),
    ("deep JSON in a field", changed("offers.0.name", "[" * 100_000 + "]" * 100_000), "$"),
    (
        "share with a huge exponent",
        changed("params.min_priority_share", '"1e-999999999"'),
        "params.min_priority_share",
    ),
    (
        "share with a huge positive exponent",
        changed("params.min_priority_share", '"1E+999999999"'),
        "params.min_priority_share",
    ),
    ("mip_gap with a huge exponent", changed("params.mip_gap", '"1e-999999999"'), "params.mip_gap"),
    (
        "share too precise",
        changed("params.min_priority_share", '"0.1234567"'),
        "min_priority_share",
    ),
    ("share as a number", changed("params.min_priority_share", "0.3"), "min_priority_share"),
    ("share above 1", changed("params.min_priority_share", '"150%"'), "min_priority_share"),
    ("share 1/0", changed("params.min_priority_share", '"1/0"'), "min_priority_share"),
    ("time_limit NaN", changed("params.time_limit", "NaN"), "params.time_limit"),
    ("time_limit Infinity", changed("params.time_limit", "Infinity"), "params.time_limit"),
    ("time_limit overflowing", changed("params.time_limit", "1e400"), "params.time_limit"),
    ("time_limit a string", changed("params.time_limit", '"1e-99999999"'), "params.time_limit"),
    ("time_limit 0", changed("params.time_limit", "0"), "params.time_limit"),
    ("time_limit 10**30", changed("params.time_limit", str(HUGE)), "params.time_limit"),
    ("empty offer", changed("offers.0", "{}"), "offers[0].id"),
    ("empty offer's kinds", changed("offers.0", "{}"), "offers[0].kinds"),
    ("empty request", changed("requests.0", "{}"), "requests[0].id"),
    ("empty request's amount", changed("requests.0", "{}"), "requests[0].amount"),
    ("empty request's town", changed("requests.0", "{}"), "requests[0].town_code"),
    ("empty request's kind", changed("requests.0", "{}"), "requests[0].kind"),
    ("empty request's industry", changed("requests.0", "{}"), "requests[0].industry"),
    ("offer as a list", changed("offers.0", "[]"), "offers[0]"),
    ("name not a string", changed("offers.0.name", "5"), "offers[0].name"),
    ("amount as a float", changed("requests.0.amount", "500.5"), "requests[0].amount"),
    ("negative budget", changed("offers.0.budget", "-100"), "offers[0].budget"),
    ("capacity 0", changed("offers.0.capacity", "0"), "offers[0].capacity"),
    ("budget NaN", changed("offers.0.budget", "NaN"), "offers[0].budget"),
    ("unknown field", changed("offers.0.capacty", "2"), "offers[0].capacty"),
    ("top level a list", "[]", "$"),
    ("not JSON", "{offers: []}", "$"),
]


@contextlib.contextmanager
def hang_guard(seconds: int = 60):
    """Fail instead of hanging (not a timing assertion: minutes mean a hang)."""

    def stop(signum, frame):
        raise AssertionError(f"parsing took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(tmp_path, text: str | bytes, *extra: str):
    src = tmp_path / "instance.json"
    if isinstance(text, bytes):
        src.write_bytes(text)
    else:
        src.write_text(text, encoding="utf-8")
    out = tmp_path / "result.json"
    args = ["solve", "--input", str(src), "--output", str(out), "--quiet", *extra]
    with hang_guard():
        result = CliRunner().invoke(match, args)
    return result, out


@pytest.mark.parametrize(("text", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_naming_the_field(tmp_path, text, field):
    result, out = run(tmp_path, text)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"{field}:" in result.output or f"{field}." in result.output, result.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["instance.json"]


def test_messages_quote_no_megabytes(tmp_path):
    text = changed("offers.0.kinds", json.dumps(["x" * 1_000_000]))
    result, _ = run(tmp_path, text)
    assert result.exit_code == 2
    assert "offers[0].kinds[0]" in result.output
    assert len(result.output) < 2_000


def test_not_utf8(tmp_path):
    result, out = run(tmp_path, b'{"offers": [], "requests": [], "x": "\xff"}')
    assert result.exit_code == 2
    assert "$: not UTF-8" in result.output
    assert not out.exists()


def test_missing_output_folder_is_found_before_solving(tmp_path):
    src = tmp_path / "instance.json"
    src.write_text(json.dumps(base()), encoding="utf-8")
    out = tmp_path / "no" / "such" / "result.json"
    with mock.patch.object(cli, "solve") as solve:
        result = CliRunner().invoke(match, ["solve", "--input", str(src), "--output", str(out)])
    assert result.exit_code == 2
    assert "--output" in result.output
    assert "does not exist" in result.output
    solve.assert_not_called()


def test_output_that_is_a_folder_is_refused_before_solving(tmp_path):
    src = tmp_path / "instance.json"
    src.write_text(json.dumps(base()), encoding="utf-8")
    with mock.patch.object(cli, "solve") as solve:
        result = CliRunner().invoke(
            match, ["solve", "--input", str(src), "--output", str(tmp_path)]
        )
    assert result.exit_code == 2
    assert "--output" in result.output
    solve.assert_not_called()


def test_unreadable_input_exits_2(tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        match, ["solve", "--input", str(tmp_path / "dir" / ".."), "--output", str(out)]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_k_option_beyond_its_bound_exits_2(tmp_path):
    result, out = run(tmp_path, json.dumps(base()), "--k", str(HUGE))
    assert result.exit_code == 2
    assert "--k" in result.output
    assert not out.exists()
