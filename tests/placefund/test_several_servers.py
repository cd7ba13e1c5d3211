"""Several servers and workers on one PostgreSQL (README, "Running in production"): two
`placefund serve` processes on different ports and two `placefund worker` processes, sharing
one schema and one Redis for the rate limits, behave as one service.

- A console session made through server A is a session on server B, and signing out on A
  ends it on B.
- An API token works on both; revoked through A, B refuses it when A's answer returns.
- The sign-in rate limit counts the failures made on both servers together.
- Jobs submitted once run once each, across both workers (one claim each, each job started
  once in the two workers' logs together).
- Both workers' sealers run (one at a time, under the advisory lock): the chain verifies.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest
import redis
import requests
from argon2 import PasswordHasher
from sqlalchemy import func, select

from identity.models import Organisation, User
from identity.tokens import issue_token
from jobs import records
from jobs.models import Job
from jobs.queue import Queue
from ledger.books.models import Unsealed
from tests.factories import donate
from tests.placefund.test_serve import _TOKEN, CLOSE, EMAIL, PASSWORD, sign_in, signed_in
from tests.processes import ROOT, Server, database_url, start_worker, wait_for

pytestmark = pytest.mark.postgres

REDIS_DB = 5
RATE_LIMITS = f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.fixture
def installation(pg, tmp_path):
    """Two servers and two workers on ``pg``'s schema; yields (A, B, workers, token, id)."""
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    with pg.session() as s, s.begin():
        org = Organisation(kind="company", name="山海茶業股份有限公司", ubn="04595257")
        s.add(org)
        s.flush()
        hashed = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
        user = User(email=EMAIL, name="林美華", role="company_member", organisation_id=org.id,
                    password_hash=hashed)  # fmt: skip
        s.add(user)
        s.flush()
        row, token = issue_token(s, user, name="several servers")
        token_id = row.id
    env = {
        "SECRET_KEY": "several-servers-share-this-key",  # as README says they must
        "PLACEFUND_RATE_LIMIT_STORAGE": RATE_LIMITS,
        "PLACEFUND_INSTANCE": str(tmp_path / "instance"),
    }
    name = f"pf-several-{uuid.uuid4().hex[:6]}"
    started = []
    try:
        for label in ("a", "b"):
            url = database_url(pg, f"{name}-web-{label}")
            started.append(Server(url, tmp_path / f"serve-{label}.log", env=env))
        for label in ("1", "2"):
            url = database_url(pg, f"{name}-worker-{label}")
            started.append(start_worker(url, tmp_path / f"worker-{label}.log", env=env))
        a, b, *workers = started
        yield a, b, workers, token, token_id
    finally:
        for process in reversed(started):
            process.stop()


def _me(server: Server, token: str) -> int:
    return requests.get(
        f"{server.base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).status_code


def _started_jobs(workers) -> list[int]:
    """Every "job started" line of the workers' logs: the job ids, with repeats."""
    ids = []
    for worker in workers:
        for raw in worker.log.read_text(encoding="utf-8").splitlines():
            line = json.loads(raw)
            if line.get("msg") == "job started":
                ids.append(line["job_id"])
    return ids


def _wrong_sign_in(server: Server, browser: requests.Session) -> int:
    page = browser.get(f"{server.base}/console/sign-in", headers=CLOSE, timeout=30)
    token = _TOKEN.search(page.text).group(1)
    answer = browser.post(
        f"{server.base}/console/sign-in",
        data={"csrf_token": token, "email": EMAIL, "password": "not-the-password"},
        headers=CLOSE,
        allow_redirects=False,
        timeout=30,
    )
    return answer.status_code


def test_two_servers_and_two_workers_behave_as_one_service(pg, installation):
    a, b, workers, token, token_id = installation
    # Both servers see both workers
    for server in (a, b):
        ready = wait_for(
            lambda server=server: _ready_with_two(server), f"{server.base} ready with 2 workers"
        )
        assert ready["workers_up"] == 2, ready
        metrics = requests.get(f"{server.base}/metrics", timeout=30).text
        assert "placefund_workers_up 2.0" in metrics.splitlines(), metrics[-2000:]

    # --- a console session made on A is one on B; signing out on A ends it on B
    browser, home = sign_in(a.base)
    assert signed_in(b.base, browser, home)
    page = browser.get(f"{a.base}{home}", headers=CLOSE, timeout=30)
    csrf = _TOKEN.search(page.text).group(1)
    before = browser.cookies.copy()
    out = browser.post(f"{a.base}/console/sign-out", data={"csrf_token": csrf}, headers=CLOSE,
                       allow_redirects=False, timeout=30)  # fmt: skip
    assert out.status_code == 302 and out.headers["Location"].endswith("/console/sign-in")
    assert not signed_in(b.base, browser, home)
    # Even with the cookie the browser had before signing out: the session row has ended
    assert not signed_in(b.base, _with_cookies(before), home)

    # --- an API token works on both; revoked through A, B refuses it at once
    assert _me(a, token) == 200 and _me(b, token) == 200
    revoked = requests.delete(f"{a.base}/api/v1/tokens/{token_id}",
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    assert revoked.status_code == 200, revoked.text
    assert _me(b, token) == 401
    assert _me(a, token) == 401

    # --- jobs run once each across the two workers
    queue = Queue(pg)
    try:
        job_ids, ran_by = [], set()
        for _batch in range(3):  # until both workers have taken some (not a timing bound)
            with pg.session() as s, s.begin():
                batch = [records.submit(s, "seal")[0].id for _ in range(20)]
            for job_id in batch:
                queue.enqueue(job_id)
            job_ids += batch
            done = wait_for(lambda ids=job_ids: _all_finished(pg, ids), "every job finished")
            ran_by = {job.worker for job in done}
            if len(ran_by) == 2:
                break
    finally:
        queue.huey.storage.close()
    assert {job.status for job in done} == {"succeeded"}
    assert {job.attempts for job in done} == {1}  # one claim each
    assert len(ran_by) == 2, f"one worker took every job: {ran_by}"
    started = [job_id for job_id in _started_jobs(workers) if job_id in set(job_ids)]
    assert sorted(started) == sorted(job_ids), "a job started twice, or never"

    # --- sealing goes on while both workers run; the chain verifies
    donate(pg, 10, prefix="several-")
    with pg.session() as s:
        wait_for(lambda: s.scalar(select(func.count()).select_from(Unsealed)) == 0,
                 "the entries sealed")  # fmt: skip
    verify = subprocess.run(
        [sys.executable, "-m", "placefund.cli", "ledger", "verify", "--no-seal"],
        cwd=ROOT,
        env={**_env(), "DATABASE_URL": database_url(pg, "pf-several-verify"),
             "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert re.search(r"Checked \d+ entries", verify.stdout) and "0 unsealed" in verify.stdout

    # --- the sign-in failures counted on both servers together (Redis): 5 a minute
    stranger = requests.Session()
    answers = [_wrong_sign_in(server, stranger) for server in (a, b, a, b, a)]
    assert 429 not in answers, answers
    # B has seen two failures itself; with a per-process count it would let this one try
    assert _wrong_sign_in(b, stranger) == 429
    assert _wrong_sign_in(a, stranger) == 429


def _ready_with_two(server: Server) -> dict | None:
    answer = requests.get(f"{server.base}/readyz", timeout=30)
    body = answer.json()
    return body if answer.status_code == 200 and body.get("workers_up") == 2 else None


def _all_finished(pg, ids: list[int]) -> list[Job] | None:
    with pg.session() as s:
        jobs = list(s.scalars(select(Job).where(Job.id.in_(ids))))
    return jobs if len(jobs) == len(ids) and all(j.finished for j in jobs) else None


def _with_cookies(cookies) -> requests.Session:
    browser = requests.Session()
    browser.cookies.update(cookies)
    return browser


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
