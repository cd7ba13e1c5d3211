"""api/auth.py: API tokens are stored hashed; a malformed Authorization header is a 401."""

from __future__ import annotations

from tests.api.conftest import V1


def test_tokens_are_stored_hashed(world, database):
    from sqlalchemy import text

    with database.session() as s:
        stored = s.execute(text("SELECT token_hash, prefix FROM api_tokens")).all()
    secrets = set(world.tokens.values())
    assert all(h not in secrets and len(h) == 64 for h, _ in stored)


def test_bad_authorization_headers(world, client):
    for header in ("Basic abc", "Bearer", "Bearer pf_wrong", "token", "Bearer " + "pf_" * 100):
        r = client.get(f"{V1}/me", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.mimetype == "application/problem+json"
