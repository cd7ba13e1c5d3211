"""`placefund serve` with several workers and no SECRET_KEY: every worker signs with the
same key, so a sign-in form rendered by one worker is accepted by another and a signed-in
user stays signed in whichever worker answers, also after a restart.

Each request goes on a new connection, so the kernel hands it to whichever worker accepts
first: the form and its post, and the pages after, land on different workers. Start-up
warns of what `placefund doctor` would report.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from argon2 import PasswordHasher

from identity.models import Organisation, User
from placefund.app import Database
from placefund.migrate import upgrade

EMAIL = "finance@mountain-sea.example.tw"
PASSWORD = "correct-horse-battery"
SIGN_INS = 10
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CLOSE = {"Connection": "close"}


@pytest.fixture
def instance(tmp_path):
    """An instance folder whose SQLite database has one company member who can sign in
    (with a password only: a fund manager's second factor is tested in tests/admin)."""
    folder = tmp_path / "instance"
    database = Database(f"sqlite:///{folder / 'placefund.db'}")
    upgrade(database.engine)
    with database.session() as s, s.begin():
        org = Organisation(kind="company", name="山海茶業股份有限公司", ubn="04595257")
        s.add(org)
        s.flush()
        # Cheap argon2 parameters (they travel inside the hash; the server verifies as usual)
        hashed = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
        s.add(User(email=EMAIL, name="林美華", role="company_member", organisation_id=org.id,
                   password_hash=hashed))  # fmt: skip
    database.engine.dispose()
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m placefund serve` in a process group of its own (gunicorn, its workers and,
    with ``with_worker``, the background worker), stopped as a group."""

    def __init__(
        self,
        instance,
        env_extra: dict[str, str] | None = None,
        workers: int = 3,
        with_worker: bool = False,
    ):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
        env.update(PLACEFUND_INSTANCE=str(instance), **(env_extra or {}))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "placefund", "serve", "--port", str(self.port),
             "--workers", str(workers), "--threads", "1", "--no-access-log",
             *(["--with-worker"] if with_worker else [])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()  # never leave a server behind, whatever went wrong
            raise

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + 120  # a bound on the wait, not a measurement
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.process.stderr.read()[-2000:]}")
            try:
                if requests.get(f"{self.base}/healthz", headers=CLOSE, timeout=30).ok:
                    return
            except requests.RequestException:
                pass  # not listening yet, or the workers still booting
            time.sleep(0.2)
        raise AssertionError("serve did not answer within two minutes")

    def stop(self) -> tuple[str, str]:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # gunicorn's quick shutdown
        try:
            return self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.communicate()


def sign_in(base: str) -> tuple[requests.Session, str]:
    """A new browser signed in; and the home page the sign-in sent it to."""
    browser = requests.Session()
    page = browser.get(f"{base}/console/sign-in", headers=CLOSE, timeout=30)
    token = _TOKEN.search(page.text).group(1)
    answer = browser.post(
        f"{base}/console/sign-in",
        data={"csrf_token": token, "email": EMAIL, "password": PASSWORD},
        headers=CLOSE,
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[-1500:]
    home = answer.headers["Location"]
    assert "/sign-in" not in home
    return browser, home


def signed_in(base: str, browser: requests.Session, home: str) -> bool:
    """/console/ sends a signed-in browser to its home page, any other to the sign-in page."""
    page = browser.get(f"{base}/console/", headers=CLOSE, allow_redirects=False, timeout=30)
    return page.status_code == 302 and page.headers["Location"].endswith(home)


def test_sign_ins_never_fail_across_workers_and_restarts(instance):
    # Half a Stripe configuration: start-up warns of each problem, and serves anyway
    server = Server(instance, {"STRIPE_SECRET_KEY": "sk_test_1"})
    try:
        browsers = []
        for _ in range(SIGN_INS):
            browser, home = sign_in(server.base)
            assert all(signed_in(server.base, browser, home) for _ in range(2))
            browsers.append(browser)
    finally:
        _out, err = server.stop()
    key_file = instance / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert [line for line in err.splitlines() if line.startswith("Warning")] == [
        "Warning (stripe): STRIPE_PUBLISHABLE_KEY is not set: the donation page cannot take "
        "cards; set it to the same account's pk_... key.",
        "Warning (stripe): STRIPE_WEBHOOK_SECRET is not set: Stripe's webhooks are refused and "
        "payments wait for `placefund stripe sync`; set it to the endpoint's whsec_... secret.",
    ]

    restarted = Server(instance, workers=2)
    try:
        assert all(signed_in(restarted.base, b, home) for b in browsers), "signed out"
    finally:
        restarted.stop()


def _live_workers(database) -> list[str]:
    from jobs import records

    with database.session() as s:
        return [w.name for w in records.workers_up(s)]


def _wait(condition, what: str, seconds: float = 120):
    deadline = time.monotonic() + seconds  # a bound on the wait, not a measurement
    while not (found := condition()):
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.2)
    return found


def test_serve_with_worker_runs_jobs_and_sealing_and_restarts_its_worker(instance):
    """`make run`'s command: the web server and a supervised `placefund worker` on SQLite."""
    from jobs import records
    from jobs.models import Job
    from jobs.queue import Queue
    from tests.factories import donate

    database = Database(f"sqlite:///{instance / 'placefund.db'}")
    donate(database, 3)
    with database.session() as s, s.begin():
        job_id = records.submit(s, "seal")[0].id
    Queue(database).enqueue(job_id)

    server = Server(instance, workers=1, with_worker=True)
    try:

        def ready_and_sealed():
            answer = requests.get(f"{server.base}/readyz", headers=CLOSE, timeout=30)
            return answer.ok and answer.json()["unsealed_entries"] == 0 and answer.json()

        ready = _wait(ready_and_sealed, "ready: a worker beating and the entries sealed")
        assert ready["workers_up"] == 1 and ready["workers"] == "up"
        _wait(lambda: _job_status(database, job_id) == "succeeded", "the queued job run")

        # The worker dies: the server starts another, which takes the next job
        (first,) = _live_workers(database)
        os.kill(int(first.split(":")[1]), signal.SIGKILL)
        _wait(lambda: [w for w in _live_workers(database) if w != first], "a new worker")
        with database.session() as s, s.begin():
            second_job = records.submit(s, "seal")[0].id
        Queue(database).enqueue(second_job)
        _wait(lambda: _job_status(database, second_job) == "succeeded", "the next job run")
        (second,) = [w for w in _live_workers(database) if w != first]
        with database.session() as s:
            assert s.get(Job, second_job).worker == second
    finally:
        _out, err = server.stop()
    # Stopping the server stops its worker cleanly (it records so)
    from jobs.models import WorkerBeat

    with database.session() as s:
        assert s.get(WorkerBeat, second).stopped_at is not None, err[-3000:]
    pid = int(second.split(":")[1])
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    database.engine.dispose()


def _job_status(database, job_id: int) -> str:
    from jobs.models import Job

    with database.session() as s:
        return s.get(Job, job_id).status


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"
