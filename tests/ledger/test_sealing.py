"""Sealing never stops for good: the sealer rides out database errors, a server restarts it
when it exits, /readyz reports the backlog, and verify says how far behind sealing was."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from ledger import chain
from ledger import services as svc
from ledger.chain import seal_continuously, unsealed_backlog
from ledger.models import Seal
from placefund import server
from placefund.db import utcnow
from tests import factories as f


def donate(database, n: int, prefix: str = "d") -> None:
    with database.session() as session, f.tx(session):
        company = f.organisation(session, "company")
        for i in range(n):
            svc.record_donation(
                session,
                key=f"{prefix}{i}",
                channel="bank_transfer",
                amount=100_000,
                company_id=company.id,
                received_on=dt.date(2026, 11, 1),
            )


def sealed(database) -> int:
    with database.session() as session:
        return len(session.scalars(select(Seal.seq)).all())


def test_the_sealer_outlives_database_errors_and_catches_up(database):
    donate(database, 3)
    failures = {"left": 3}
    waits = []

    def sessions():
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return database.session()

    rounds = iter(range(5))
    seal_continuously(
        sessions,
        interval=1.0,
        max_backoff=30.0,
        stop=lambda: next(rounds, None) is None,
        sleep=waits.append,
    )
    assert sealed(database) == 3
    # Three failures waited longer each time (jittered between half and all of the step),
    # then the successful rounds went back to the interval
    assert 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 4.0 and 4.0 <= waits[2] <= 8.0
    assert waits[3:] == [1.0, 1.0]


def test_readyz_reports_the_backlog_and_turns_unavailable_past_the_limit(
    app, database, monkeypatch
):
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["migrations"] == "current" and ready.json["unsealed_entries"] == 0
    donate(database, 2)
    fresh = client.get("/readyz")
    assert fresh.status_code == 200
    assert fresh.json["unsealed_entries"] == 2
    later = utcnow() + dt.timedelta(minutes=10)  # entries are immutable: move the clock
    monkeypatch.setattr(chain, "utcnow", lambda: later)
    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert behind.json["sealing"] == "behind"
    assert behind.json["oldest_unsealed_seconds"] >= 600
    assert behind.mimetype == "application/json"


def test_readyz_says_when_migrations_are_behind(app, database):
    with database.session() as session, session.begin():
        session.execute(select(1))
        session.connection().exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["migrations"] == "behind"


def test_verify_says_how_many_entries_waited_and_for_how_long(database, monkeypatch):
    donate(database, 4)
    with database.session() as session:
        assert unsealed_backlog(session).entries == 4
    later = utcnow() + dt.timedelta(hours=3)
    monkeypatch.setattr(chain, "utcnow", lambda: later)
    monkeypatch.setenv("DATABASE_URL", str(database.engine.url))
    from placefund.cli import main

    result = CliRunner().invoke(main, ["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "Sealed 4 entries that were waiting; the oldest had waited 3.0 h" in result.output


class FakeProcess:
    def __init__(self, arbiter, starts):
        self.arbiter, self.starts = arbiter, starts
        starts.append(self)

    def wait(self):
        if len(self.starts) >= 3:
            self.arbiter.sealer_stopping.set()  # the server stops while the third one runs
        return -9

    def poll(self):
        return -9


def test_the_server_starts_the_sealer_again_when_it_exits(monkeypatch):
    class Arbiter:
        pass

    arbiter, starts = Arbiter(), []
    monkeypatch.setattr(server, "SEALER_RESTART", (0.01, 0.02))
    monkeypatch.setattr(server.subprocess, "Popen", lambda *a, **k: FakeProcess(arbiter, starts))
    server._start_sealer(arbiter)
    assert arbiter.sealer_stopping.wait(10)
    assert len(starts) == 3
