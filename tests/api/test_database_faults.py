"""Database faults on PostgreSQL, including those raised beneath SQLAlchemy (foundation.pgwire):
a lost connection is a retryable 503 and the next requests find live connections; a
uniqueness race answers as its losing side (409), never 500."""

from __future__ import annotations

import sys
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from foundation.db import make_engine, make_session_factory
from foundation.settings import Settings
from identity.models import User
from ledger.fund import corrections
from placefund.app import Database, create_app
from placefund.migrate import upgrade
from tests.api.conftest import World, build_world, new_key

pytestmark = pytest.mark.postgres

V1 = "/api/v1"


@pytest.fixture
def faulty(pg_schema_url):
    """A world whose every connection carries one application_name, to terminate them all
    (and only them: other sessions share the server)."""
    url, base = pg_schema_url
    schema = f"{base}_f{uuid.uuid4().hex[:6]}"
    name = f"pf_fault_{uuid.uuid4().hex[:8]}"
    admin = Database(url)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database.__new__(Database)
    db.engine = make_engine(
        url, connect_args={"options": f"-csearch_path={schema}", "application_name": name}
    )
    db.sessions = make_session_factory(db.engine)
    upgrade(db.engine)
    app = create_app(Settings(database_url=str(db.engine.url), secret_key="t"), database=db)
    app.config["TESTING"] = True
    with db.session() as s, s.begin():
        tokens, ids = build_world(s)

    def terminate() -> None:
        with admin.engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :n"
                ),
                {"n": name},
            )
        for _ in range(200):  # until the server has let them all go
            with admin.engine.connect() as conn:
                left = conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                    {"n": name},
                )
            if not left:
                return
            time.sleep(0.05)
        raise AssertionError("backends still there")

    yield World(app.test_client(), tokens, ids), app, db, terminate
    cache = app.extensions.get("placefund.token_cache")
    if cache is not None:
        cache.close()
    db.engine.dispose()
    terminate()  # a failed test may leave a transaction open that would block the DROP
    with admin.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.engine.dispose()


def _donate(world: World, key: str):
    return world.call(
        "ndc",
        "POST",
        f"{V1}/donations",
        json={"amount": 100_000, "company_id": world.ids["company_a"]},
        key=key,
    )


def _reads(app, world: World, n: int = 6) -> list[int]:
    def get(_):
        return app.test_client().get(f"{V1}/donations", headers=world.headers("ndc")).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(get, range(n)))


def test_lost_connections_answer_a_retryable_503_then_recover(faulty):
    world, app, _db, terminate = faulty
    assert _reads(app, world) == [200] * 6  # the pool holds several connections now
    assert _donate(world, new_key()).status_code == 201
    terminate()

    key = new_key()
    lost = _donate(world, key)
    assert lost.status_code == 503, lost.get_data(as_text=True)[:300]
    assert lost.mimetype == "application/problem+json"
    assert lost.json["code"] == "service_unavailable"
    assert lost.headers["Retry-After"] == "1"
    # The retry goes through, once, and every other pooled connection was recycled with it
    retried = _donate(world, key)
    assert retried.status_code == 201, retried.json
    assert _donate(world, key).headers.get("Idempotent-Replayed") == "true"
    assert _reads(app, world) == [200] * 6


def test_a_reversal_losing_the_race_on_the_unique_index_is_a_409(faulty):
    world, app, db, _terminate = faulty
    made = world.call(
        "ndc",
        "POST",
        f"{V1}/ledger/adjustments",
        json={
            "reason": "手續費",
            "lines": [
                {"account": "expense:fees:processor:TWD", "amount": 1_500},
                {"account": "assets:bank:main", "amount": -1_500},
            ],
        },
        key=new_key(),
    )
    assert made.status_code == 201, made.json
    entry_id = made.json["id"]

    # The winner reverses the entry in a transaction it keeps open; the loser, through the
    # API, finds no reversal yet and waits on the unique index for the winner's outcome
    winner = db.session()
    winner.begin()
    actor = winner.get(User, world.ids["user_moea"])
    corrections.reverse_adjustment(
        winner, key="race-winner", entry_id=entry_id, actor=actor, reason="重複"
    )
    winner_pid = winner.scalar(text("SELECT pg_backend_pid()"))
    answers = {}

    def lose():
        answers["loser"] = app.test_client().post(
            f"{V1}/ledger/entries/{entry_id}/reversal",
            json={"reason": "重複入帳"},
            headers=world.headers("ndc", "race-loser"),
        )

    loser = threading.Thread(target=lose)
    loser.start()
    # Every look in a transaction of its own: PostgreSQL takes its snapshot of
    # pg_stat_activity at a transaction's first read of it and keeps it to the end, so
    # looks in one transaction never see a backend that connected after the first one (the
    # loser's, whenever the pool had no idle connection left for it)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for _ in range(400):
            waiting = conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE :w = ANY(pg_blocking_pids(pid))"),
                {"w": winner_pid},
            )
            if waiting:
                break
            time.sleep(0.05)
            if not loser.is_alive():
                break  # it answered without waiting: the assertions below say how
        else:
            activity = conn.execute(
                text(
                    "SELECT pid, state, wait_event_type, wait_event, pg_blocking_pids(pid),"
                    " left(query, 80) FROM pg_stat_activity WHERE datname = current_database()"
                )
            ).all()
            where = "".join(traceback.format_stack(sys._current_frames()[loser.ident]))
            raise AssertionError(
                f"the loser never waited on the winner: {activity}\nloser at:\n{where}"
            )
    winner.commit()
    winner.close()
    loser.join(timeout=60)
    response = answers.get("loser")
    assert response is not None, "the loser's request never finished"
    assert response.status_code == 409, response.get_data(as_text=True)[:300]
    assert response.json["code"] == "already_reversed"
