"""One settings object: Settings reads every variable the README lists and nothing else
does; a bad value stops `placefund serve` and every other command at once, with one line
naming the variable (exit status 2), instead of a 500 on the first request that needs it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

from foundation.settings import Settings, StripeSettings
from placefund.app import create_app

ROOT = Path(__file__).resolve().parents[2]
#: The README's variables that only the test suite reads (tests/conftest.py, tests/machine.py)
TEST_ONLY = {"TEST_DATABASE_URL", "PLACEFUND_REQUIRE_MACHINE"}


def readme_variables() -> set[str]:
    """Every variable named in the first column of the README's variable tables."""
    found, in_table = set(), False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            in_table = False
        elif cells[0].lower() == "variable":
            in_table = True
        elif in_table:
            found |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]))
    return found


class Recording(Mapping[str, str]):
    """An environment that remembers which variables were asked for."""

    def __init__(self, values: dict[str, str]):
        self.values, self.asked = values, set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        self.asked.add(name)
        return name in self.values

    def get(self, name, default=None):
        self.asked.add(name)
        return self.values.get(name, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("Settings reads variables by name, never the whole environment")

    def __len__(self) -> int:
        return len(self.values)


def test_settings_read_exactly_the_variables_the_readme_lists():
    env = Recording({})
    Settings.from_env(env)
    listed = readme_variables()
    assert "STRIPE_TIMEOUT" in listed and "PLACEFUND_BANK_CODE" in listed  # the parse works
    assert listed - TEST_ONLY - env.asked == set(), "listed in the README, never read"
    assert env.asked - listed == set(), "read by Settings, missing from the README"


def _reads_the_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in ("environ", "environb", "getenv", "getenvb")
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and {a.name for a in node.names} & {"environ", "environb", "getenv", "getenvb"}
        ):
            lines.append(node.lineno)
    return lines


def test_nothing_but_the_settings_reads_the_environment():
    readers = {}
    for package in ("ledger", "matching", "api", "admin", "placefund", "identity", "foundation"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() in (
                "foundation/settings.py",
                "foundation/settings.py",
            ):
                continue
            lines = _reads_the_environment(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                readers[path.relative_to(ROOT).as_posix()] = lines
    assert readers == {}


#: One bad value of every variable Settings checks, and the words its message starts with
BAD = [
    ("PLACEFUND_FUND_NAME", ""),
    ("PLACEFUND_FUND_NAME_EN", "two\nlines"),
    ("PLACEFUND_PROXY_HOPS", "two"),
    ("PLACEFUND_RATE_LIMIT_STORAGE", "mysql://db/limits"),
    ("SESSION_COOKIE_SECURE", "maybe"),
    ("PLACEFUND_SEAL_MAX_LAG", "0"),
    ("PLACEFUND_BANK_CODE", "4"),
    ("PLACEFUND_BANK_NAME", " "),
    ("PLACEFUND_BANK_BRANCH", "x" * 81),
    ("PLACEFUND_BANK_ACCOUNT_NAME", "兩\n行"),
    ("PLACEFUND_ISSUER_NAME", ""),
    ("PLACEFUND_ISSUER_UBN", "12345678"),
    ("PLACEFUND_ISSUER_ADDRESS", ""),
    ("PLACEFUND_RECEIPT_LEGAL_BASIS", ""),
    ("PLACEFUND_RECEIPT_SEAL", "/no/such/seal.png"),
    ("STRIPE_API_BASE", "localhost:8420"),
    ("STRIPE_JS_URL", "js.stripe.com/v3/"),
    ("STRIPE_JS_URL", "https://js.stripe.com/v3/ 'unsafe-eval'"),
    ("STRIPE_MAX_RETRIES", "-1"),
    ("STRIPE_MAX_RETRIES", "many"),
    ("STRIPE_TIMEOUT", "20s"),
    ("STRIPE_TIMEOUT", "0"),
    ("STRIPE_TIMEOUT", "nan"),
    ("PLACEFUND_VA_PREFIX", "12"),
    ("PLACEFUND_VA_PREFIX", "9512A"),
    ("PLACEFUND_VA_WEIGHTS", "3,7,x"),
    ("PLACEFUND_METRICS_TOKEN", "short"),
    ("PLACEFUND_METRICS_TOKEN", "a token with spaces in it, long enough"),
    ("PLACEFUND_VA_WEIGHTS", "10,1"),
    ("PLACEFUND_VA_WEIGHTS", "0,0"),
]

#: `serve` and a command of every group: each stops before doing anything
COMMANDS = [
    ["serve", "--port", "5099"],
    ["doctor"],
    ["db", "upgrade"],
    ["demo"],
    ["ledger", "verify"],
    ["token", "revoke", "1"],
    ["stripe", "sync", "--since", "2026-01-01"],
    ["reconcile", "stripe", "--from", "2026-01-01"],
    ["match", "run"],
]


@pytest.mark.parametrize(("variable", "value"), BAD)
def test_a_bad_value_is_refused_naming_its_variable(variable, value):
    with pytest.raises(ValueError, match=f"^{variable} must be ") as refused:
        Settings.from_env({variable: value})
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("variable", "value"), BAD)
def test_every_command_stops_with_one_line_and_status_2(variable, value, monkeypatch, tmp_path):
    from placefund import server
    from placefund.cli import main

    started = []
    monkeypatch.setattr(server, "run", lambda **kw: started.append(kw))
    database = tmp_path / "untouched.db"
    for command in COMMANDS:
        result = CliRunner().invoke(
            main, command, env={variable: value, "DATABASE_URL": f"sqlite:///{database}"}
        )
        assert result.exit_code == 2, (command, result.output)
        (line,) = result.output.strip().splitlines()
        assert line.startswith(f"Error: {variable} must be "), (command, line)
        assert "Traceback" not in result.output
    assert started == [] and not database.exists()


def test_the_values_reach_the_app(tmp_path):
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'fund.db'}",
            "SECRET_KEY": "k" * 40,
            "STRIPE_SECRET_KEY": "sk_test_1",
            "STRIPE_TIMEOUT": "7.5",
            "STRIPE_MAX_RETRIES": "0",
            "STRIPE_JS_URL": "/static/stripe.js",
            "PLACEFUND_VA_PREFIX": " 8765 ",
            "PLACEFUND_VA_WEIGHTS": "3, 7, 1",
        }
    )
    assert settings.stripe == StripeSettings(
        secret_key="sk_test_1", timeout=7.5, max_retries=0, js_url="/static/stripe.js"
    )
    assert (settings.va_prefix, settings.va_weights) == ("8765", (3, 7, 1))
    app = create_app(settings)
    try:
        assert app.extensions["placefund.stripe"].settings is settings.stripe
        scheme = app.extensions["placefund.va_scheme"]
        assert (scheme.prefix, scheme.weights) == ("8765", (3, 7, 1))
    finally:
        app.extensions["placefund.db"].engine.dispose()


def test_the_defaults_are_unchanged(tmp_path):
    settings = Settings.from_env({"PLACEFUND_INSTANCE": str(tmp_path)})
    assert settings.instance == tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'placefund.db'}"
    assert settings.stripe == StripeSettings()
    assert settings.stripe.js_url == "https://js.stripe.com/v3/"
    assert (settings.stripe.max_retries, settings.stripe.timeout) == (3, 20.0)
    assert (settings.va_prefix, settings.va_weights) == ("95123", ())
    assert settings == Settings(database_url=settings.database_url, secret_key=None,
                                instance=tmp_path.resolve())  # fmt: skip
