"""Every line a running server writes is one JSON object: the app's error inside a request
(with its request id and the exception as fields), gunicorn's own error with its traceback,
and the sealer's lines, marked as the sealer's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from placefund.app import Database
from placefund.migrate import upgrade
from tests.factories import donate
from tests.localstripe_server import free_port
from tests.placefund.test_server import PLACEFUND, ROOT, _get, _stop


def _json_lines(path) -> list[dict]:
    """Every line of the file, each of which must be a JSON object."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        assert raw.strip(), "an empty line"
        line = json.loads(raw)  # fails on a line that is not JSON (a bare traceback line)
        assert isinstance(line, dict)
        lines.append(line)
    return lines


def _wait_for(path, found, seconds: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + seconds
    while True:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        complete = text[: text.rfind("\n") + 1]
        lines = [json.loads(raw) for raw in complete.splitlines()]
        if any(found(line) for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


@pytest.fixture(scope="module")
def failing_logs(tmp_path_factory):
    """The failing app server of test_server.py, its stderr kept in a file."""
    tmp = tmp_path_factory.mktemp("logs")
    database = Database(f"sqlite:///{tmp / 'served.db'}")
    upgrade(database.engine)
    database.engine.dispose()
    port, log = free_port(), tmp / "stderr.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'served.db'}",
        "SECRET_KEY": "served-test",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.placefund.failing_app_server", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    for _ in range(300):
        try:
            if _get(port, "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    yield port, log
    _stop(process)


def test_an_error_in_a_request_is_one_json_line_with_its_request_id(failing_logs):
    port, log = failing_logs
    status, headers, _ = _get(port, "/api/v1/test/view-fails", "X-Request-ID: log-test-1\r\n")
    assert status == 500 and headers["x-request-id"] == "log-test-1"
    lines = _wait_for(log, lambda line: line.get("exc_type") == "RuntimeError")
    (error,) = [line for line in lines if line.get("exc_message") == "the view failed"]
    assert error["request_id"] == "log-test-1"
    assert error["level"] == "error" and error["component"] == "web"
    assert "Traceback" in error["exc"] and 'raise RuntimeError("the view failed")' in error["exc"]
    _json_lines(log)  # and every other line so far


def test_an_error_escaping_the_app_keeps_the_request_id(failing_logs):
    port, log = failing_logs
    status, _, _ = _get(port, "/api/v1/test/teardown-fails", "X-Request-ID: log-test-2\r\n")
    assert status == 500
    lines = _wait_for(log, lambda line: line.get("exc_message") == "the teardown failed")
    (error,) = [line for line in lines if line.get("exc_message") == "the teardown failed"]
    assert error["request_id"] == "log-test-2" and error["logger"] == "placefund.api"
    _json_lines(log)


def test_gunicorns_own_error_is_one_json_line_with_the_exception(failing_logs):
    port, log = failing_logs
    assert _get(port, "/api/v1/test/body-fails")[0] == 500
    lines = _wait_for(log, lambda line: line.get("exc_message") == "the body failed")
    (error,) = [line for line in lines if line.get("exc_message") == "the body failed"]
    assert error["logger"] == "gunicorn.error" and error["exc_type"] == "RuntimeError"
    assert "Traceback" in error["exc"]
    _json_lines(log)


def test_the_sealers_lines_are_json_marked_as_the_sealers(tmp_path, database):
    donate(database, 2)
    log = tmp_path / "sealer.log"
    env = {**os.environ, "DATABASE_URL": str(database.engine.url), "PYTHONPATH": str(ROOT)}
    with log.open("wb") as stderr:
        sealer = subprocess.Popen(
            [str(PLACEFUND), "ledger", "seal", "--follow", "--interval", "0.2"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        lines = _wait_for(log, lambda line: line.get("msg") == "sealed")
    finally:
        _stop(sealer)
    (sealed,) = [line for line in lines if line.get("msg") == "sealed"]
    assert sealed["entries"] == 2 and sealed["component"] == "sealer"
    assert sealed["logger"] == "placefund.sealer"
    _json_lines(log)
