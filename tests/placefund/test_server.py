"""A real ``placefund serve`` (gunicorn) on loopback: every answer under /api and /webhooks
is a problem document, including the ones gunicorn writes itself and a 500 from outside
the app's error handlers. Its JSON log lines never carry a token, and it starts a supervised
child (``--with-worker``'s worker) again when the child exits."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from placefund import server
from placefund.app import Database
from placefund.migrate import upgrade
from tests.localstripe_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PLACEFUND = Path(sys.executable).parent / "placefund"


def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` as is; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head, blank, body = data.partition(b"\r\n\r\n")
            length = [
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")[1:]
                if line.lower().startswith(b"content-length:")
            ]
            if blank and length and len(body) >= length[0]:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _get(port: int, target: str, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    return _exchange(
        port,
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n".encode(),
    )


def _problem(answer, status: int) -> dict:
    got, headers, body = answer
    assert got == status, (got, body[:300])
    assert headers["content-type"] == "application/problem+json"
    document = json.loads(body)
    assert document["status"] == status and document["code"] and document["detail"]
    return document


def _serve(tmp_path, argv) -> tuple[subprocess.Popen, int]:
    database = Database(f"sqlite:///{tmp_path / 'served.db'}")
    upgrade(database.engine)
    database.engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "SECRET_KEY": "served-test",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [*argv, str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):  # 30 s at most
        try:
            if _get(port, "/healthz")[0] == 200:
                return process, port
        except OSError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not start")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    argv = [str(PLACEFUND), "serve", "--host", "127.0.0.1", "--workers", "1", "--threads", "2"]
    process, port = _serve(tmp, [*argv, "--no-access-log", "--port"])
    yield port
    _stop(process)


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("failing")
    process, port = _serve(tmp, [sys.executable, "-m", "tests.placefund.failing_app_server"])
    yield port
    _stop(process)


@pytest.mark.parametrize("prefix", ["/api/v1/donations?cursor=", "/webhooks/stripe?x="])
def test_a_request_line_too_long_is_a_414_problem(served, prefix):
    document = _problem(_get(served, prefix + "9" * 5000), 414)
    assert document["code"] == "uri_too_long"


def test_headers_too_large_are_a_431_problem(served):
    document = _problem(_get(served, "/api/v1/me", f"X-Big: {'a' * 9000}\r\n"), 431)
    assert document["code"] == "request_header_fields_too_large"
    many = "".join(f"X-H{i}: 1\r\n" for i in range(150))
    _problem(_get(served, "/api/v1/me", many), 431)


def test_malformed_http_is_a_400_problem(served):
    _problem(_exchange(served, b"GET /api/v1/me HTTP/1.1\r\nBad Header\r\n\r\n"), 400)
    _problem(_exchange(served, b"GET /api/v1/\x01me HTTP/1.1\r\n\r\n"), 400)


def test_the_apps_own_answers_are_unchanged(served):
    document = _problem(_get(served, "/api/v1/no-such-thing"), 404)
    assert document["instance"] == "/api/v1/no-such-thing"
    assert _get(served, "/healthz")[0] == 200


def test_an_exception_escaping_the_app_is_a_500_problem(failing):
    document = _problem(_get(failing, "/api/v1/test/teardown-fails"), 500)
    assert document["code"] == "internal_error"
    assert document["instance"] == "/api/v1/test/teardown-fails"


def test_a_body_failing_while_gunicorn_sends_it_is_a_500_problem(failing):
    _problem(_get(failing, "/api/v1/test/body-fails"), 500)
    # The worker keeps serving
    assert _get(failing, "/healthz")[0] == 200


def test_json_log_format_never_contains_tokens():
    from placefund.server import JsonFormatter

    record = logging.LogRecord("placefund.access", logging.INFO, __file__, 1, "request", (), None)
    record.request_id, record.path, record.status = "r1", "/api/v1/me", 200
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r1" and line["msg"] == "request" and line["status"] == 200


def test_a_supervised_child_is_started_again_when_it_exits(monkeypatch, tmp_path):
    # A real child that exits at once, twice; the third start stays up until stopped
    monkeypatch.setattr(server, "RESTART", (0.01, 0.02))
    starts = tmp_path / "starts"
    script = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(starts)!r})\n"
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        "sys.exit(3) if len(p.read_text()) < 3 else time.sleep(600)\n"
    )
    supervisor = server.Supervisor("worker", [sys.executable, "-c", script])
    supervisor.start()
    try:
        deadline = time.monotonic() + 60  # a bound on the wait, not a measurement
        while not (starts.exists() and starts.read_text() == "xxx"):
            assert time.monotonic() < deadline, "the child was not started three times"
            time.sleep(0.05)
        child = supervisor.child
    finally:
        supervisor.stop(timeout=10)
    assert child.poll() is not None, "the child outlived its server"
    assert starts.read_text() == "xxx" and supervisor.starts == 3
