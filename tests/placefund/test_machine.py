"""tests/machine.py: a browser test that cannot run is reported loudly, and fails where the
machine was prepared (PLACEFUND_REQUIRE_MACHINE=1, as `make test` and CI set it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

NEEDS_A_BROWSER = """
import pytest

@pytest.mark.browser
@pytest.mark.skipif(True, reason="needs Debian's Chromium (/usr/bin/chromium)")
def test_in_the_browser():
    pass

def test_plain():
    pass

@pytest.mark.skipif(True, reason="no constraint binds")
def test_skipped_for_its_own_reasons():
    pass
"""


def _run(tmp_path, **env) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(NEEDS_A_BROWSER)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    browser: needs Chromium\n")
    environ = {k: v for k, v in os.environ.items() if k != "PLACEFUND_REQUIRE_MACHINE"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.machine", "-p", "no:cacheprovider",
         "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


def test_a_missing_browser_is_named_in_the_summary(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "NOT TESTED: parts of the machine are missing" in result.stdout
    assert "test_sample.py::test_in_the_browser: Skipped: needs Debian's Chromium" in result.stdout
    assert "test_skipped_for_its_own_reasons:" not in result.stdout
    assert "1 passed, 2 skipped" in result.stdout


def test_a_missing_browser_fails_where_the_machine_was_prepared(tmp_path):
    result = _run(tmp_path, PLACEFUND_REQUIRE_MACHINE="1")
    assert result.returncode == 1, result.stdout
    assert "PLACEFUND_REQUIRE_MACHINE=1" in result.stdout
    # The skip that has nothing to do with the machine stays a skip
    assert "1 passed, 1 skipped, 1 error" in result.stdout
