"""The dependency rule of ARCHITECTURE.md, as import-linter checks it in ``make test``.

The real tree is checked by ``lint-imports`` itself (the Makefile runs it before pytest); these
tests show that each contract would catch a wrong import: a copy of the packages with one
import added that the rule forbids must fail the check, and the untouched copy must pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "placefund",
    "api",
    "admin",
    "web",
    "jobs",
    "matching",
    "ledger",
    "identity",
    "foundation",
)


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name,
            tree / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.mo", "*.po", "templates", "static"),
        )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def _lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
            "--no-cache",
        ],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_as_it_is_keeps_every_contract(tmp_path):
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the two faces never import each other
        ("admin/_wrong.py", "import api.auth", "admin is not allowed to import api"),
        ("api/_wrong.py", "import admin.forms", "api is not allowed to import admin"),
        # a face never imports the composition root
        ("api/_wrong.py", "import placefund.app", "api is not allowed to import placefund"),
        # the domain never imports a face or Flask
        ("ledger/_wrong.py", "import web.request", "ledger is not allowed to import web"),
        ("matching/_wrong.py", "import flask", "matching is not allowed to import flask"),
        # the foundation imports nothing of ours
        (
            "foundation/_wrong.py",
            "import ledger.money",
            "foundation is not allowed to import ledger",
        ),
        # inside the ledger, the books know nothing of the fund's operations
        (
            "ledger/books/_wrong.py",
            "import ledger.fund.pledges",
            "ledger.books is not allowed to import ledger.fund",
        ),
    ],
)
def test_a_forbidden_import_breaks_the_build(tmp_path, module, line, broken):
    tree = _copy(tmp_path)
    (tree / module).write_text(f'"""A wrong import, for the test."""\n\n{line}  # noqa: F401\n')
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout
