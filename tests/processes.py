"""Real `placefund worker` and `placefund serve` processes on a test's PostgreSQL schema.

Each process is ``python -m placefund.cli ...`` from this checkout (never the installed
console script, which may belong to another checkout), in a process group of its own, its
stderr (JSON lines) kept in a file for the assertion messages. Its connections carry an
``application_name`` of the test's choosing, so a test can find them in
``pg_stat_activity`` (and terminate them) without touching anybody else's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]


def schema_of(database) -> str:
    with database.engine.connect() as conn:
        return conn.execute(text("SHOW search_path")).scalar()


def database_url(database, application_name: str) -> str:
    """``DATABASE_URL`` for a process on ``database``'s private schema."""
    base = database.engine.url.render_as_string(hide_password=False)
    options = quote(f"-csearch_path={schema_of(database)}")
    return f"{base}?options={options}&application_name={application_name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, what: str, seconds: float = 120.0, every: float = 0.2):
    """Poll ``condition`` until it returns something true; fail naming ``what`` after
    ``seconds`` (a bound on the wait, never a measurement)."""
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(every)


class Process:
    """One `placefund` command running in the background."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        with log.open("wb") as stderr:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "placefund.cli", *args],
                cwd=ROOT,
                env=full,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, seconds: float = 90.0) -> None:
        """Stop the process group (SIGTERM: a worker finishes its jobs, gunicorn its
        requests); SIGKILL if it is still there after ``seconds``."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def start_worker(url: str, log: Path, *args: str, env: dict[str, str] | None = None) -> Process:
    return Process(["worker", *args], {"DATABASE_URL": url, **(env or {})}, log)


class Server(Process):
    """`placefund serve` on a free port, waited for until it answers /healthz; with
    ``with_worker``, its supervised `placefund worker` child too (whose lines are in the
    same log)."""

    def __init__(
        self,
        url: str,
        log: Path,
        env: dict[str, str] | None = None,
        workers: int = 1,
        *,
        with_worker: bool = False,
    ):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(
            ["serve", "--port", str(self.port), "--workers", str(workers), "--threads", "2",
             "--no-access-log", *(["--with-worker"] if with_worker else [])],
            {"DATABASE_URL": url, **(env or {})},
            log,
        )  # fmt: skip
        try:
            wait_for(self._answers, f"serve on port {self.port} to answer")
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        if not self.alive():
            raise AssertionError(f"serve exited: {self.tail()}")
        try:
            return requests.get(f"{self.base}/healthz", timeout=10).ok
        except requests.RequestException:
            return False

    def stop(self, sig: int = signal.SIGTERM, seconds: float = 60.0) -> None:
        super().stop(sig, seconds)
