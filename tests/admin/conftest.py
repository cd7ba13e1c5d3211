"""Console fixtures: the API tests' small world, with a console password for every actor.

Argon2 runs with its cheapest parameters here (the parameters travel inside each hash, so
the code under test is the same); ``Console`` signs in and fills CSRF tokens like a browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from admin import accounts
from ledger.models import User
from tests.api.conftest import ACTORS, build_world

PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_KEY = re.compile(r'name="key" type="hidden" value="([^"]+)"')


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(
        accounts, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    monkeypatch.setattr(accounts, "_DUMMY_HASH", None)


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def form_key(html: str) -> str:
    match = _KEY.search(html)
    assert match, "the form has no idempotency key"
    return match.group(1)


@dataclass
class ConsoleWorld:
    app: object
    database: object
    ids: dict[str, int]
    emails: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, actor: str | None = None):
        """A test client, signed in as ``actor`` when given."""
        c = self.app.test_client()
        if actor is not None:
            response = sign_in(c, self.emails[actor], PASSWORD)
            assert response.status_code == 302, response.text
        return c


def sign_in(client, email: str, password: str):
    page = client.get("/console/sign-in")
    return client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": password},
    )


def post_form(client, page_url: str, action: str, data: dict | None = None):
    """Open ``page_url``, take its CSRF token (and idempotency key) and post to ``action``."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    body = {"csrf_token": csrf_token(page.text)}
    key = _KEY.search(page.text)
    if key:
        body["key"] = key.group(1)
    body.update(data or {})
    return client.post(action, data=body)


def build_console_world(database) -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    """The API tests' world with a console password for everyone: ids, emails, API tokens."""
    with database.session() as s, s.begin():
        tokens, ids = build_world(s)
        emails = {}
        password_hash = accounts.hash_password(PASSWORD)
        for actor in ACTORS:
            user = s.get(User, ids[f"user_{actor}"])
            user.password_hash = password_hash
            emails[actor] = user.email
        s.flush()
        assert len(s.scalars(select(User)).all()) == len(ACTORS)
    return ids, emails, tokens


@pytest.fixture
def console(app, database) -> ConsoleWorld:
    ids, emails, tokens = build_console_world(database)
    return ConsoleWorld(app, database, ids, emails, tokens)
