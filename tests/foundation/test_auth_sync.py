"""Waiting, after a change to tokens, users or organisations, until every token cache has
heard of it (foundation/auth_sync.py): which commits wait, whom they wait for, and what
happens when a listener does not answer."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import create_engine, text, update

from api.token_cache import REGISTER_SQL, TokenCache
from foundation import auth_sync
from foundation.db import utcnow
from identity.models import ApiToken, User
from identity.tokens import issue_token
from tests import factories

# Which commits wait ---------------------------------------------------------------------


@pytest.fixture
def waits(monkeypatch):
    """The engines that commits waited for (nothing is really waited for here)."""
    calls = []
    monkeypatch.setattr(auth_sync, "wait_for_listeners", lambda engine: calls.append(engine))
    return calls


@pytest.fixture
def people(database):
    with database.session() as s, s.begin():
        company = factories.organisation(s, "company")
        member = factories.user(s, "company_member", company)
        row, _plain = issue_token(s, member, name="t")
        ids = {"org": company.id, "user": member.id, "token": row.id}
    return ids


def _commit(database, change) -> None:
    with database.session() as s, s.begin():
        change(s)


@pytest.mark.parametrize(
    "change",
    [
        lambda s, ids: setattr(s.get(ApiToken, ids["token"]), "revoked_at", utcnow()),
        lambda s, ids: s.delete(s.get(ApiToken, ids["token"])),
        lambda s, ids: setattr(s.get(User, ids["user"]), "role", "business_member"),
        lambda s, ids: setattr(s.get(User, ids["user"]), "password_hash", "changed"),
        lambda s, ids: setattr(s.get(User, ids["user"]).organisation, "name", "改名"),
        lambda s, ids: s.execute(
            update(ApiToken).where(ApiToken.id == ids["token"]).values(revoked_at=utcnow())
        ),
    ],
    ids=["revoke", "delete-token", "role", "password", "organisation", "orm-update"],
)
def test_a_change_the_caches_rely_on_waits_after_its_commit(database, people, waits, change):
    _commit(database, lambda s: change(s, people))
    assert waits == [database.engine]


@pytest.mark.parametrize(
    "change",
    [
        # Sign-in bookkeeping and the once-a-minute touch take nothing away
        lambda s, ids: setattr(s.get(User, ids["user"]), "failed_logins", 3),
        lambda s, ids: setattr(s.get(User, ids["user"]), "totp_last_step", 12345),
        lambda s, ids: setattr(s.get(ApiToken, ids["token"]), "last_used_at", utcnow()),
        lambda s, ids: s.execute(
            update(ApiToken).where(ApiToken.id == ids["token"]).values(last_used_at=utcnow()),
            execution_options={auth_sync.QUIET: True},
        ),
        lambda s, ids: factories.user(s, "company_member", s.get(User, ids["user"]).organisation),
    ],
    ids=["failed-logins", "totp-step", "touch", "quiet-update", "new-user"],
)
def test_other_commits_do_not_wait(database, people, waits, change):
    _commit(database, lambda s: change(s, people))
    assert waits == []


def test_a_rolled_back_change_does_not_wait(database, people, waits):
    with database.session() as s:
        s.get(ApiToken, people["token"]).revoked_at = utcnow()
        s.flush()
        s.rollback()
        s.commit()  # nothing left to commit, and nothing to wait for
    assert waits == []


def test_pings_are_told_apart_from_changes():
    assert auth_sync.parse_ping(auth_sync.ping_payload("pf_test_1", 42)) == ("pf_test_1", 42)
    assert auth_sync.parse_ping("api_tokens") is None
    assert auth_sync.parse_ping("sync broken") is None


def test_the_listener_acknowledges_its_own_schemas_pings_and_empties_on_changes():
    cache = TokenCache(engine=None)
    generation = cache.generation
    assert cache._hear(auth_sync.ping_payload("mine", 7), "mine", None) == 7
    assert cache._hear(auth_sync.ping_payload("mine", 5), "mine", 7) == 7
    assert cache._hear(auth_sync.ping_payload("other", 99), "mine", 7) == 7
    assert cache.generation == generation  # a ping changes nothing by itself
    assert cache._hear("users", "mine", 7) == 7
    assert cache.generation == generation + 1


def test_a_cache_whose_lease_ran_out_is_not_used():
    cache = TokenCache(engine=None)
    cache._thread = object()  # as if the listener were running; it never starts here
    cache.listening = True
    cache.confirmed_at = time.monotonic()
    cache.put("digest", ["row"], cache.generation)
    assert cache.get("digest") == ["row"]
    cache.confirmed_at = time.monotonic() - auth_sync.LEASE_SECONDS - 1
    assert cache.get("digest") is None  # a stalled or cut-off listener: the database decides


def test_when_nobody_can_be_asked_the_lease_is_waited_out(monkeypatch):
    slept = []
    monkeypatch.setattr(auth_sync.time, "sleep", slept.append)

    def unreachable(engine, timeout):
        raise psycopg.OperationalError("connection lost")

    monkeypatch.setattr(auth_sync, "_wait", unreachable)
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connects
    assert auth_sync.wait_for_listeners(engine) is False
    assert len(slept) == 1 and 0 < slept[0] <= auth_sync.LEASE_SECONDS


# Whom they wait for (PostgreSQL) --------------------------------------------------------


def _registered(pg) -> psycopg.Connection:
    """A connection registered as a listener that never acknowledges anything."""
    args, kwargs = pg.engine.dialect.create_connect_args(pg.engine.url)
    with pg.engine.connect() as c:
        search_path = c.exec_driver_sql("SHOW search_path").scalar()
    conn = psycopg.connect(*args, **kwargs, autocommit=True, options=f"-csearch_path={search_path}")
    conn.execute(REGISTER_SQL, ("test", 0))
    return conn


def _acked(pg, backend_pid: int) -> int:
    with pg.session() as s:
        return s.execute(
            text("SELECT acked FROM auth_listeners WHERE backend_pid = :p"), {"p": backend_pid}
        ).scalar()


@pytest.mark.postgres
def test_with_no_listener_nothing_is_waited_for(pg):
    assert auth_sync.wait_for_listeners(pg.engine, timeout=30) is True


@pytest.mark.postgres
def test_a_listener_that_is_gone_blocks_nothing(pg):
    gone = _registered(pg)
    gone.close()  # its row stays; its backend does not
    assert auth_sync.wait_for_listeners(pg.engine, timeout=30) is True


@pytest.mark.postgres
def test_a_live_listener_that_does_not_answer_is_waited_for_until_the_bound(pg):
    silent = _registered(pg)
    try:
        assert auth_sync.wait_for_listeners(pg.engine, timeout=0.3) is False
    finally:
        silent.close()


@pytest.mark.postgres
def test_a_listener_quiet_for_longer_than_the_lease_blocks_nothing(pg, monkeypatch):
    """Its process no longer trusts its cache (it has made no round trip within the lease)."""
    silent = _registered(pg)
    try:
        monkeypatch.setattr(auth_sync, "LEASE_SECONDS", 0.2)
        time.sleep(0.5)  # let the lease run out; the assertion is about the outcome only
        assert auth_sync.wait_for_listeners(pg.engine, timeout=30) is True
    finally:
        silent.close()


@pytest.mark.postgres
def test_a_running_cache_acknowledges_and_the_change_waits_for_it(pg):
    cache = TokenCache(pg.engine)
    try:
        cache._ensure_listener()
        deadline = time.monotonic() + 30  # a bound on the wait, not a measurement
        while not cache.listening and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cache.listening
        cache.put("digest", ["row"], cache.generation)
        with pg.session() as s, s.begin():
            company = factories.organisation(s, "company")
        # An ORM change: its commit returns once this cache has heard of it
        with pg.session() as s, s.begin():
            s.merge(company).name = "改名"
        assert cache.get("digest") is None
        assert _acked(pg, cache.backend_pid) > 0
        assert auth_sync.wait_for_listeners(pg.engine, timeout=30) is True
    finally:
        cache.close()
