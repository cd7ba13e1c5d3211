"""On PostgreSQL: the sealer's connections are killed while entries keep arriving, and
sealing resumes by itself; the chain then verifies."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import func, select, text

from ledger.chain import seal_continuously, verify
from ledger.models import Seal, Unsealed
from placefund.app import Database
from placefund.db import make_engine, make_session_factory
from tests.ledger.test_sealing import donate

pytestmark = pytest.mark.postgres


def wait_for(condition, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.05)


def test_sealing_resumes_after_its_connections_are_terminated(pg):
    name = f"pf-sealer-{uuid.uuid4().hex[:8]}"
    with pg.engine.connect() as conn:
        schema = conn.execute(text("SHOW search_path")).scalar()
    # The sealer's own engine, named, so that only its connections are terminated
    sealer_db = Database.__new__(Database)
    sealer_db.engine = make_engine(
        pg.engine.url.render_as_string(hide_password=False),
        connect_args={"options": f"-csearch_path={schema}", "application_name": name},
    )
    sealer_db.sessions = make_session_factory(sealer_db.engine)
    stop = threading.Event()
    thread = threading.Thread(
        target=seal_continuously,
        args=(sealer_db.session,),
        kwargs={"interval": 0.05, "max_backoff": 0.5, "stop": stop.is_set},
        daemon=True,
    )
    thread.start()

    def count(model):
        with pg.session() as s:
            return s.scalar(select(func.count()).select_from(model))

    try:
        donate(pg, 5, prefix="a")
        wait_for(lambda: count(Seal) == 5, "the first entries sealed")
        killed = 0
        for round_ in range(3):
            with pg.engine.connect() as conn:
                killed += conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": name},
                ).scalar()
            donate(pg, 5, prefix=f"b{round_}-")
        assert killed >= 1, "the sealer's connection was not found to terminate"
        wait_for(lambda: count(Unsealed) == 0, "sealing to catch up after the terminations")
        assert count(Seal) == 20
        with pg.session() as s:
            assert verify(s).ok
    finally:
        stop.set()
        thread.join(timeout=10)
        sealer_db.engine.dispose()
