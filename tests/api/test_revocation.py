"""A revoked token is refused by every worker from the moment the revoking call returns.

`placefund serve` with several workers on PostgreSQL, each worker holding the token in its
cache (api/token_cache.py). The revocation is made through the API and through the command
line; right after it returns, many requests with the token, on fresh connections so the
kernel spreads them over the workers, are all refused. Before each process waited for the
other workers' caches (foundation/auth_sync.py), a few of them were still accepted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import text

from identity.tokens import issue_token
from tests import factories
from tests.placefund.test_serve import Server

pytestmark = pytest.mark.postgres

CLOSE = {"Connection": "close"}
WORKERS = 3
TOKENS = 6
WARM_UP = 40
TRIES = 50


@pytest.fixture
def served(pg, tmp_path):
    """A three-worker server on the test's schema; a member and an admin with tokens."""
    with pg.session() as s, s.begin():
        schema = s.execute(text("SELECT current_schema()")).scalar()
        company = factories.organisation(s, "company", name="撤銷測試公司")
        member = factories.user(s, "company_member", company)
        admin = factories.user(s, "admin", factories.manager(s, "NDC").organisation)
        tokens = [issue_token(s, member, name=f"t{n}") for n in range(TOKENS)]
        tokens = [(row.id, plain) for row, plain in tokens]
        admin_token = issue_token(s, admin, name="admin")[1]
    url = pg.engine.url.render_as_string(hide_password=False)
    env = {"DATABASE_URL": f"{url}?options={quote(f'-csearch_path={schema}')}"}
    server = Server(tmp_path, env, workers=WORKERS)
    try:
        yield server, tokens, admin_token, env
    finally:
        server.stop()


def _status(base: str, token: str) -> int:
    headers = {**CLOSE, "Authorization": f"Bearer {token}"}
    return requests.get(f"{base}/api/v1/me", headers=headers, timeout=30).status_code


def _statuses(base: str, token: str, n: int) -> list[int]:
    with ThreadPoolExecutor(WORKERS * 2) as pool:
        return list(pool.map(lambda _: _status(base, token), range(n)))


def _revoke_by_api(server, token_id: int, admin_token: str, _env) -> None:
    headers = {**CLOSE, "Authorization": f"Bearer {admin_token}"}
    revoked = requests.delete(
        f"{server.base}/api/v1/tokens/{token_id}", headers=headers, timeout=30
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None


def _revoke_by_cli(_server, token_id: int, _admin_token, env) -> None:
    subprocess.run(
        [sys.executable, "-m", "placefund", "token", "revoke", str(token_id)],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("revoke", "rounds"),
    # The command line starts a process for each revocation: slower, so fewer rounds
    [(_revoke_by_api, TOKENS), (_revoke_by_cli, 2)],
    ids=["api", "cli"],
)
def test_a_revoked_token_is_refused_everywhere_once_the_revocation_returns(served, revoke, rounds):
    server, tokens, admin_token, env = served
    for token_id, token in tokens[:rounds]:
        # Every worker checks the token once in the database and then keeps it
        assert set(_statuses(server.base, token, WARM_UP)) == {200}
        revoke(server, token_id, admin_token, env)
        after = _statuses(server.base, token, TRIES)
        assert after.count(200) == 0, f"token {token_id}: {after.count(200)} of {TRIES} accepted"
        assert set(after) == {401}
