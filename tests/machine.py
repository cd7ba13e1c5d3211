"""Tests that need a part of the machine (Debian's Chromium) are never skipped quietly.

Such a test is marked ``browser``; when that part is missing it skips, and the summary says
so in a section of its own. Where the machine has been prepared (``make test`` and CI run
scripts/prepare-machine first, then set PLACEFUND_REQUIRE_MACHINE=1), a missing part is a
broken machine, not a reason: the skip becomes a failure.
"""

from __future__ import annotations

import os

import pytest

REQUIRED = os.environ.get("PLACEFUND_REQUIRE_MACHINE") == "1"
#: Markers of tests that need something outside Python
MACHINE_MARKERS = ("browser",)

_skipped: list[str] = []


def _needs_machine(item) -> bool:
    return any(item.get_closest_marker(marker) for marker in MACHINE_MARKERS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and _needs_machine(item)):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if REQUIRED:
        report.outcome = "failed"
        report.longrepr = (
            f"{reason}\n(PLACEFUND_REQUIRE_MACHINE=1: the machine was prepared, so a missing "
            "part fails the test; see scripts/prepare-machine)"
        )
    else:
        _skipped.append(f"{item.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter):
    if not _skipped:
        return
    terminalreporter.section("NOT TESTED: parts of the machine are missing", sep="!", red=True)
    for line in _skipped:
        terminalreporter.line(line, red=True)
    terminalreporter.line(
        f"{len(_skipped)} test(s) above did not run; `scripts/prepare-machine test` (as root) "
        "installs what they need.",
        red=True,
        bold=True,
    )
