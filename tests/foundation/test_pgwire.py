"""foundation.pgwire on PostgreSQL: statements sent at once, BEGIN and COMMIT included."""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest
from psycopg import pq
from sqlalchemy import text

from foundation.pgwire import Batch, encode, numbered

pytestmark = pytest.mark.postgres


def _driver(session):
    return session.connection().connection.driver_connection


@pytest.fixture
def scratch(pg):
    with pg.engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch (id int PRIMARY KEY, note text, day date)"))
    return pg


def test_numbered_and_encode():
    assert numbered("a = %s AND b IN (%s, %s)") == "a = $1 AND b IN ($2, $3)"
    assert encode(None) is None and encode(True) == b"t" and encode(False) == b"f"
    assert encode(12) == b"12" and encode("地方") == "地方".encode()
    assert encode(dt.date(2026, 11, 26)) == b"2026-11-26"
    moment = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
    assert encode(moment) == b"2026-11-26T08:00:00+00:00"
    assert encode({"k": "值"}) == '{"k": "值"}'.encode()
    with pytest.raises(TypeError):
        encode(dt.datetime(2026, 11, 26))  # naive: which instant?
    with pytest.raises(TypeError):
        encode(object())


def test_a_batch_opens_the_transaction_and_values_come_back_typed(scratch):
    with scratch.session() as s:
        driver = _driver(s)
        assert driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
        batch = Batch(driver)
        insert = batch.add(
            "INSERT INTO scratch VALUES ($1, $2, $3) RETURNING id", [1, "一", dt.date(2026, 1, 2)]
        )
        read = batch.add("SELECT id, note, day FROM scratch WHERE id = $1", [1])
        results = batch.run()
        assert results[insert].scalar() == 1
        assert results[read].row() == (1, "一", dt.date(2026, 1, 2))
        # BEGIN went with the batch: the insert is not committed, psycopg knows it
        assert driver.pgconn.transaction_status == pq.TransactionStatus.INTRANS
        s.rollback()
    with scratch.session() as s:
        assert s.execute(text("SELECT count(*) FROM scratch")).scalar() == 0


def test_commit_in_the_batch(scratch):
    with scratch.session() as s:
        driver = _driver(s)
        batch = Batch(driver)
        batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [2, None, None])
        batch.run(commit=True)
        assert driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
        s.commit()  # SQLAlchemy's own commit then sends nothing: psycopg sees no transaction
    with scratch.session() as s:
        assert s.execute(text("SELECT count(*) FROM scratch WHERE id = 2")).scalar() == 1


def test_the_first_error_is_raised_and_nothing_after_it_runs(scratch):
    with scratch.session() as s:
        driver = _driver(s)
        batch = Batch(driver)
        batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [3, "a", None])
        batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [3, "duplicate", None])
        batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [4, "skipped", None])
        with pytest.raises(psycopg.errors.UniqueViolation):
            batch.run(commit=True)
        # COMMIT was skipped with the rest: the transaction is aborted, not committed
        assert driver.pgconn.transaction_status == pq.TransactionStatus.INERROR
        s.rollback()
        assert s.execute(text("SELECT count(*) FROM scratch")).scalar() == 0


@pytest.mark.parametrize("commit", [True, False])
def test_an_error_that_arrives_late_mid_batch_is_raised_and_the_connection_lives_on(
    scratch, commit
):
    """The race a reversal's posting runs (tests/api/test_database_faults.py): a statement
    in the middle of a batch waits on another transaction's uncommitted row under the same
    key, so the server answers the statements before it and then goes quiet; when that
    transaction commits, the unique violation arrives, the rest is skipped, and the batch
    still reads every answer up to its Sync and raises the violation."""
    holder = scratch.session()
    holder.execute(text("INSERT INTO scratch VALUES (30, 'holder', NULL)"))
    holder_pid = holder.scalar(text("SELECT pg_backend_pid()"))
    outcome = {}
    with scratch.session() as s:
        driver = _driver(s)
        batch = Batch(driver)
        batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [31, "before", None])
        batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [30, "loser", None])
        batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [32, "skipped", None])

        def run():
            try:
                outcome["results"] = batch.run(commit=commit)
            except Exception as exc:  # asserted on below
                outcome["error"] = exc

        runner = threading.Thread(target=run)
        runner.start()
        # Each look in a transaction of its own (pg_stat_activity is a per-transaction
        # snapshot); the waiter's pid is known without a round trip on its connection
        with scratch.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for _ in range(400):
                blockers = c.scalar(
                    text("SELECT pg_blocking_pids(:p)"), {"p": driver.info.backend_pid}
                )
                if holder_pid in blockers or not runner.is_alive():
                    break
                time.sleep(0.05)
        assert runner.is_alive() and holder_pid in blockers, outcome
        holder.commit()
        holder.close()
        runner.join(timeout=60)
        assert not runner.is_alive(), "the batch never got its answers"
        assert isinstance(outcome.get("error"), psycopg.errors.UniqueViolation), outcome
        # Aborted, not committed, and out of pipeline mode: a rollback makes it usable again
        assert driver.pgconn.transaction_status == pq.TransactionStatus.INERROR
        assert driver.pgconn.pipeline_status == pq.PipelineStatus.OFF
        s.rollback()
        notes = s.execute(text("SELECT note FROM scratch ORDER BY id")).scalars().all()
        assert notes == ["holder"]


def test_prepared_statements_outlive_rollbacks(scratch):
    """psycopg's own preparing is off (foundation.db), so its DEALLOCATE ALL after a ROLLBACK
    never drops the statements a batch prepared."""
    with scratch.session() as s:
        driver = _driver(s)
        assert driver.prepare_threshold is None
        for n in range(5, 12):
            batch = Batch(driver)
            batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [n, None, None])
            batch.run()
            for _ in range(6):  # what would make psycopg prepare, were it on
                s.execute(text("SELECT 1"))
            s.rollback()
        prepared = s.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pf_%'")
        ).scalar()
        assert prepared == 1


def test_a_connection_that_psycopg_prepares_on_gets_unnamed_statements(scratch):
    with scratch.session() as s:
        driver = _driver(s)
        driver.prepare_threshold = 0
        try:
            for n in (20, 21):
                batch = Batch(driver)
                batch.add("INSERT INTO scratch VALUES ($1, $2, $3)", [n, None, None])
                batch.run()
                s.execute(text("SELECT 1"))
                s.rollback()  # psycopg deallocates everything it prepared here
            named = s.execute(
                text("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pf_%'")
            ).scalar()
            assert named == 0
        finally:
            driver.prepare_threshold = None
