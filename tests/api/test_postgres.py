"""The API on PostgreSQL: the same requests, the real locking and constraint behaviour."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import text

from foundation.settings import Settings
from identity.tokens import hash_token
from placefund.app import create_app
from tests.api.conftest import World, build_world

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_world(pg):
    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="t"), database=pg)
    app.config["TESTING"] = True
    with pg.session() as s, s.begin():
        tokens, ids = build_world(s)
    yield World(app.test_client(), tokens, ids), app
    cache = app.extensions.get("placefund.token_cache")
    if cache is not None:
        cache.close()  # its listener thread ends and closes its connection


def test_concurrent_retries_with_one_key_record_one_donation(pg_world):
    world, app = pg_world

    def post(_):
        client = app.test_client()
        return client.post(
            "/api/v1/donations",
            json={"amount": 100_000, "company_id": world.ids["company_a"]},
            headers=world.headers("ndc", "same-key"),
        )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json["id"] for r in responses}) == 1
    # One request posted it; every other one is told it was a replay, with the same body
    fresh = [r for r in responses if "Idempotent-Replayed" not in r.headers]
    assert len(fresh) == 1
    assert all(r.json == fresh[0].json for r in responses)
    stored = world.call("ndc", "GET", f"/api/v1/donations/{fresh[0].json['id']}")
    assert stored.json == fresh[0].json
    mine = world.call("company_a", "GET", "/api/v1/donations").json["items"]
    assert len(mine) == 2


def test_disbursement_flow_and_public_summary_on_postgres(pg_world):
    world, _app = pg_world
    path = "/api/v1/disbursements/{disbursement_x}"
    assert world.call("moea", "POST", path + "/approval").status_code == 200
    paid = world.call("moea", "POST", path + "/payment", json={}, key="pay-1")
    assert paid.status_code == 200 and paid.json["status"] == "paid"
    summary = world.client.get("/api/v1/public/summary").json
    assert summary["total_out"]["amount"] == 300_000
    stale = world.call(
        "company_a", "PATCH", "/api/v1/pledges/{pledge_a}", json={"public_name": True, "version": 7}
    )
    assert stale.status_code == 409


def _eventually(predicate, what: str, seconds: float = 15.0):
    """Poll until ``predicate()`` holds: a notification crosses processes asynchronously."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
def cached(pg_world):
    """The world, with the app's token cache listening and holding company_a's token."""
    world, app = pg_world
    assert world.call("company_a", "GET", "/api/v1/donations").status_code == 200
    cache = app.extensions["placefund.token_cache"]
    _eventually(lambda: cache.listening, "the listener connected")
    assert world.call("company_a", "GET", "/api/v1/donations").status_code == 200
    assert len(cache) == 1
    return world, app, cache


def test_a_token_revoked_in_the_database_stops_working_at_once(cached, pg):
    world, _app, cache = cached
    with pg.session() as s, s.begin():
        s.execute(
            text("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = :h"),
            {"h": hash_token(world.tokens["company_a"])},
        )
    # The listener hears the commit and empties the cache; no TTL is waited for
    _eventually(lambda: len(cache) == 0, "the cache forgot the revoked token")
    refused = world.call("company_a", "GET", "/api/v1/donations")
    assert refused.status_code == 401
    assert world.call("company_b", "GET", "/api/v1/donations").status_code == 200


def test_a_changed_user_is_read_again(cached, pg):
    world, _app, cache = cached
    generation = cache.generation
    with pg.session() as s, s.begin():
        s.execute(
            text(
                "UPDATE users SET name = '改名' WHERE id = (SELECT user_id FROM api_tokens"
                " WHERE token_hash = :h)"
            ),
            {"h": hash_token(world.tokens["company_a"])},
        )
    _eventually(lambda: cache.generation > generation, "the cache was invalidated")
    assert len(cache) == 0
    assert world.call("company_a", "GET", "/api/v1/donations").status_code == 200
    assert len(cache) == 1


def test_a_lost_listener_means_no_cache_until_it_is_back(cached, pg):
    world, _app, cache = cached
    lost = cache.backend_pid
    with pg.session() as s, s.begin():
        s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
    _eventually(lambda: not cache.listening or cache.backend_pid != lost, "the loss was noticed")
    # Meanwhile (and after) every token is checked in the database: requests still work
    assert world.call("company_a", "GET", "/api/v1/donations").status_code == 200
    _eventually(lambda: cache.listening and cache.backend_pid != lost, "the listener came back")
    assert world.call("company_a", "GET", "/api/v1/donations").status_code == 200
    assert len(cache) == 1


def test_only_what_the_check_relies_on_notifies(pg):
    """Touching last_used_at (once a minute per busy token) must not empty every cache."""
    args, kwargs = pg.engine.dialect.create_connect_args(pg.engine.url)
    listener = psycopg.connect(*args, **kwargs, autocommit=True)
    try:
        listener.execute("LISTEN placefund_auth")
        with pg.session() as s:
            with s.begin():
                build_world(s)
            with s.begin():
                s.execute(text("UPDATE api_tokens SET last_used_at = now()"))
            with s.begin():
                s.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE id = 1"))
            with s.begin():
                s.execute(text("UPDATE organisations SET name = name"))
        # Delivered in commit order: a notice for the touch would come first
        heard = [n.payload for n in listener.notifies(timeout=10, stop_after=2)]
        assert heard == ["api_tokens", "organisations"]
    finally:
        listener.close()


def _count(pg, table: str) -> int:
    with pg.session() as s:
        return s.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_a_donation_commits_with_its_posting_in_one_round_trip(pg_world, pg):
    world, _app = pg_world
    entries = _count(pg, "ledger_entries")
    made = world.call("ndc", "POST", "/api/v1/donations", json={"amount": 70_000}, key="one-trip")
    assert made.status_code == 201
    assert _count(pg, "ledger_entries") == entries + 1
    with pg.session() as s:
        stored = s.execute(
            text("SELECT gross_amount, entry_id FROM donations WHERE id = :id"),
            {"id": made.json["id"]},
        ).one()
    assert stored.gross_amount == 70_000
    again = world.call("ndc", "POST", "/api/v1/donations", json={"amount": 70_000}, key="one-trip")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == made.json
    assert _count(pg, "ledger_entries") == entries + 1


def test_a_refused_posting_is_rolled_back_and_explained(pg_world, pg):
    """Into a closed period: the database refuses the leg (ledger_refuse), the COMMIT queued
    behind it never runs, and the careful path gives the same answer as ever."""
    world, _app = pg_world
    closed = world.call("ndc", "POST", "/api/v1/ledger/periods", json={"end_date": "2099-01-31"})
    assert closed.status_code == 201
    entries, donations = _count(pg, "ledger_entries"), _count(pg, "donations")
    late = world.call(
        "ndc",
        "POST",
        "/api/v1/donations",
        json={"amount": 100_000, "received_on": "2098-12-31"},
        key="too-late",
    )
    assert late.status_code == 409 and late.json["code"] == "period_closed"
    assert (_count(pg, "ledger_entries"), _count(pg, "donations")) == (entries, donations)


def test_the_posting_refuses_in_the_database_when_allowed_to_commit(pg):
    from foundation.errors import PeriodClosed
    from foundation.transactions import PostingRefused, UnitOfWork
    from ledger.books.models import Period
    from ledger.fund.donations import record_donation

    with pg.session() as s, s.begin():
        s.add(Period(start_date=dt.date(2000, 1, 1), end_date=dt.date(2099, 1, 31)))
    with pg.session() as s:
        with pytest.raises(PostingRefused):
            record_donation(
                s,
                key="k",
                channel="bank_transfer",
                amount=500,
                received_on=dt.date(2099, 1, 2),
                uow=UnitOfWork(s, commit_with_posting=True),
            )
        s.rollback()
        with pytest.raises(PeriodClosed):
            record_donation(
                s, key="k", channel="bank_transfer", amount=500, received_on=dt.date(2099, 1, 2)
            )
        s.rollback()
    assert _count(pg, "donations") == 0
