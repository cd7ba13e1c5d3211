"""PostgreSQL: the guarantees that only a real concurrent database can prove.

Many writers at once: no lost update, no overdraft, no duplicate under racing idempotent
retries, restricted buckets never below zero; the database itself refuses unbalanced
entries and changes to posted rows; the sealer's connections are killed while entries keep
arriving, and sealing resumes by itself.
"""

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from foundation.db import make_engine, make_session_factory
from foundation.errors import InsufficientFunds, LedgerError
from ledger.books.chain import seal_continuously, seal_pending, verify
from ledger.books.models import Entry, Seal, Unsealed
from ledger.books.reading import balance, fund_position, trial_balance
from ledger.fund import disbursements, pledges
from ledger.fund import donations as fund_donations
from ledger.fund.figures import OverCommitment, source_figures
from ledger.fund.models import Disbursement, Donation
from placefund.app import Database
from tests import factories as f
from tests.factories import donate

pytestmark = pytest.mark.postgres
WRITERS = 8


@pytest.fixture
def world(pg):
    with pg.session() as s, s.begin():
        w = {
            "company": f.organisation(s, "company"),
            "project": f.project(s, town_code="10008040", county_code="10008"),
            "ndc": f.manager(s, "NDC"),
            "moea": f.manager(s, "MOEA"),
        }
        ids = {k: v.id for k, v in w.items()}
    return ids


def run_parallel(fn, jobs, workers=WRITERS):
    barrier = threading.Barrier(min(workers, len(jobs)))

    def start(job):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        return fn(job)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(start, jobs))


def _users(s, ids):
    from identity.models import User

    return s.get(User, ids["ndc"]), s.get(User, ids["moea"])


def test_many_writers_lose_no_update(pg, world):
    def donate(n):
        with pg.session() as s, s.begin():
            fund_donations.record_donation(
                s,
                key=f"d{n}",
                channel="bank_transfer",
                amount=10_000,
                company_id=world["company"],
                restriction="county:10008",
            )

    run_parallel(donate, range(400))
    with pg.session() as s:
        assert balance(s, "assets:bank:main") == 400 * 10_000
        assert fund_position(s).restricted == {"county:10008": 400 * 10_000}
        assert trial_balance(s).balanced
    with pg.session() as s, s.begin():
        seal_pending(s, wait=True)
    with pg.session() as s:
        assert verify(s).ok


def test_racing_idempotent_retries_post_once(pg, world):
    def retry(_):
        with pg.session() as s, s.begin():
            return fund_donations.record_donation(
                s,
                key="same-key",
                channel="bank_transfer",
                amount=50_000,
                company_id=world["company"],
            ).id

    ids = run_parallel(retry, range(WRITERS * 4))
    assert len(set(ids)) == 1
    with pg.session() as s:
        assert s.scalar(select(func.count(Entry.id))) == 1
        assert s.scalar(select(func.count(Donation.id))) == 1
        assert balance(s, "assets:bank:main") == 50_000


def test_replay_writes_nothing_and_waits_for_no_balance_lock(pg, world):
    """On PostgreSQL the claim and the writes share one round trip: a replay must find the
    key taken, write nothing and lock no balance row, even while another transaction holds
    the bank account's lock."""

    def donate(s, key):
        return fund_donations.record_donation(
            s, key=key, channel="bank_transfer", amount=70_000, company_id=world["company"]
        )

    with pg.session() as s, s.begin():
        first = donate(s, "replay-me").id
    holder = pg.session()
    holder.begin()
    donate(holder, "holds-the-bank-row")  # locks the bank and income rows until rollback
    try:
        with pg.session() as s, s.begin():
            s.execute(text("SET LOCAL lock_timeout = '2s'"))
            again = donate(s, "replay-me")
            assert again.id == first
    finally:
        holder.rollback()
        holder.close()
    with pg.session() as s:
        assert s.scalar(select(func.count(Entry.id))) == 1
        assert s.scalar(select(func.count(Donation.id))) == 1
        assert s.scalar(text("SELECT count(*) FROM ledger_postings")) == 2
        assert balance(s, "assets:bank:main") == 70_000


def test_concurrent_payments_never_overdraw_the_bank(pg, world):
    with pg.session() as s, s.begin():
        ndc, moea = _users(s, world)
        fund_donations.record_donation(
            s, key="fund", channel="bank_transfer", amount=1_000_000, company_id=world["company"]
        )
        # Received, so it may be committed, but not in the bank yet (Stripe's balance)
        fund_donations.record_donation(
            s, key="card", channel="stripe", amount=2_600_000, company_id=world["company"]
        )
        ids = []
        for n in range(12):
            d = disbursements.propose_disbursement(
                s, key=f"g{n}", actor=ndc, kind="grant", project_id=world["project"], amount=300_000
            )
            disbursements.approve_disbursement(s, disbursement_id=d.id, actor=moea)
            ids.append(d.id)

    def pay(did):
        try:
            with pg.session() as s, s.begin():
                _, moea = _users(s, world)
                disbursements.pay_disbursement(s, key=f"pay{did}", disbursement_id=did, actor=moea)
            return "paid"
        except InsufficientFunds:
            return "refused"

    outcome = Counter(run_parallel(pay, ids))
    assert outcome == {"paid": 3, "refused": 9}
    with pg.session() as s:
        assert balance(s, "assets:bank:main") == 100_000
        assert trial_balance(s).balanced


def test_restricted_bucket_never_goes_below_zero(pg, world):
    with pg.session() as s, s.begin():
        fund_donations.record_donation(
            s,
            key="fund",
            channel="bank_transfer",
            amount=1_000_000,
            company_id=world["company"],
            restriction="township:10008040",
        )

    def propose(n):
        try:
            with pg.session() as s, s.begin():
                ndc, _ = _users(s, world)
                disbursements.propose_disbursement(
                    s,
                    key=f"g{n}",
                    actor=ndc,
                    kind="grant",
                    project_id=world["project"],
                    amount=300_000,
                    funding="township:10008040",
                )
            return "reserved"
        except InsufficientFunds:
            return "refused"

    outcome = Counter(run_parallel(propose, range(16)))
    assert outcome == {"reserved": 3, "refused": 13}
    with pg.session() as s:
        assert fund_position(s).restricted == {"township:10008040": 100_000}


def test_racing_proposals_never_commit_more_than_was_received(pg, world):
    """Many managers propose at once against unrestricted money: the first three fit, the
    rest are refused saying what is left, and a pledge not yet paid counts for nothing."""
    with pg.session() as s, s.begin():
        fund_donations.record_donation(
            s, key="fund", channel="bank_transfer", amount=1_000_000, company_id=world["company"]
        )
        pledges.record_pledge(s, key="promise", company_id=world["company"], amount=50_000_000)

    def propose(n):
        try:
            with pg.session() as s, s.begin():
                ndc, moea = _users(s, world)
                d = disbursements.propose_disbursement(
                    s,
                    key=f"g{n}",
                    actor=ndc if n % 2 else moea,
                    kind="grant" if n % 3 else "investment",
                    project_id=world["project"],
                    amount=300_000,
                )
                if n % 4 == 0:  # some are approved at once; pending ones hold money too
                    disbursements.approve_disbursement(
                        s, disbursement_id=d.id, actor=moea if n % 2 else ndc
                    )
            return "reserved"
        except OverCommitment as refusal:
            assert refusal.extra["available"] == "NT$1,000"
            return "refused"

    outcome = Counter(run_parallel(propose, range(16)))
    assert outcome == {"reserved": 3, "refused": 13}
    with pg.session() as s:
        committed = s.scalar(
            select(func.sum(Disbursement.amount)).where(Disbursement.status != "voided")
        )
        assert committed == 900_000
        assert source_figures(s, None).available == 100_000


def test_mixed_concurrent_traffic_keeps_every_invariant(pg, world):
    """Donations, payouts and refunds interleaved: balances equal postings, nothing negative."""
    with pg.session() as s, s.begin():
        for n in range(20):
            fund_donations.record_donation(
                s,
                key=f"seed{n}",
                channel="stripe",
                amount=100_000,
                fee=2_900,
                company_id=world["company"],
            )

    def work(n):
        try:
            with pg.session() as s, s.begin():
                if n % 3 == 0:
                    fund_donations.record_payout(s, key=f"po{n}", amount=200_000)
                elif n % 3 == 1:
                    donation = s.scalars(select(Donation).order_by(Donation.id)).all()[n % 20]
                    fund_donations.record_refund(
                        s, key=f"re{n}", donation_id=donation.id, amount=50_000
                    )
                else:
                    fund_donations.record_donation(
                        s,
                        key=f"d{n}",
                        channel="stripe",
                        amount=100_000,
                        fee=2_900,
                        company_id=world["company"],
                    )
        except LedgerError:
            return "refused"
        return "ok"

    outcome = Counter(run_parallel(work, range(120)))
    assert outcome["ok"] >= 40 and outcome["refused"] >= 1  # payouts outrun the clearing balance
    with pg.session() as s, s.begin():
        seal_pending(s, wait=True)
    with pg.session() as s:
        report = verify(s)
        assert report.ok, report.problems
        assert balance(s, "assets:stripe:clearing:TWD") >= 0
        assert trial_balance(s).balanced


def test_database_refuses_unbalanced_entries_and_changes(pg, world):
    with pg.session() as s, s.begin():
        fund_donations.record_donation(
            s,
            key="d",
            channel="bank_transfer",
            amount=100_000,
            company_id=world["company"],
            received_on=dt.date(2026, 11, 1),
        )
    with pg.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="immutable"):
            conn.execute(text("UPDATE ledger_postings SET amount = amount + 1"))
        conn.rollback()
        with pytest.raises(DBAPIError, match="immutable"):
            conn.execute(text("DELETE FROM ledger_entries"))
        conn.rollback()
        with pytest.raises(DBAPIError, match="immutable"):
            conn.execute(text("TRUNCATE ledger_postings CASCADE"))
        conn.rollback()
    with pg.engine.connect() as conn:
        account = conn.scalar(
            text("SELECT id FROM ledger_accounts WHERE code = 'assets:bank:main'")
        )
        entry = conn.scalar(
            text(
                "INSERT INTO ledger_entries (kind, entry_date, memo, idempotency_key, request_hash,"
                " source_refs, created_at) VALUES ('x', '2026-11-02', '', 'raw', 'h', '', now())"
                " RETURNING id"
            )
        )
        conn.execute(
            text(
                "INSERT INTO ledger_postings (entry_id, account_id, amount, currency,"
                " entry_date) VALUES (:e, :a, 500, 'TWD', '2026-11-02'),"
                " (:e, :a, -400, 'TWD', '2026-11-02')"
            ),
            {"e": entry, "a": account},
        )
        with pytest.raises(DBAPIError, match="does not balance"):
            conn.commit()


def test_tampering_on_postgres_is_named(pg, world):
    with pg.session() as s, s.begin():
        for n in range(3):
            fund_donations.record_donation(
                s, key=f"d{n}", channel="bank_transfer", amount=100_000, company_id=world["company"]
            )
    with pg.session() as s, s.begin():
        seal_pending(s, wait=True)
    with pg.session() as s:
        target = s.scalars(select(Donation.entry_id).order_by(Donation.id)).all()[1]
    with pg.engine.begin() as conn:
        conn.execute(text("ALTER TABLE ledger_postings DISABLE TRIGGER ledger_postings_immutable"))
        conn.execute(
            text(f"UPDATE ledger_postings SET amount = amount * 10 WHERE entry_id = {target}")
        )
        conn.execute(text("ALTER TABLE ledger_postings ENABLE TRIGGER ledger_postings_immutable"))
    with pg.session() as s:
        report = verify(s)
    assert report.first_bad_entry == target


def test_demo_loads_and_verifies_on_postgres(pg):
    from placefund.demo import load_demo

    load_demo(pg, echo=lambda _msg: None)
    with pg.session() as s:
        assert verify(s).ok
        assert trial_balance(s).balanced


def test_balanced_check_runs_once_yet_misses_nothing(pg, world):
    """The check is skipped only for postings it already saw (migration 0007)."""
    entry_sql = text(
        "INSERT INTO ledger_entries (kind, entry_date, memo, idempotency_key, request_hash,"
        " source_refs, created_at) VALUES ('x', '2026-11-02', '', :k, 'h', '', now())"
        " RETURNING id"
    )
    posting_sql = text(
        "INSERT INTO ledger_postings (entry_id, account_id, amount, currency, entry_date)"
        " VALUES (:e, :a, :amount, 'TWD', '2026-11-02')"
    )
    with pg.engine.connect() as conn:
        bank, income = (
            conn.scalar(text("SELECT id FROM ledger_accounts WHERE code = :c"), {"c": c})
            for c in ("assets:bank:main", "income:donations")
        )

        def entry(key, *amounts):
            eid = conn.scalar(entry_sql, {"k": key})
            for i, amount in enumerate(amounts):
                conn.execute(posting_sql, {"e": eid, "a": (bank, income)[i % 2], "amount": amount})
            return eid

        # A lone entry, with no postings at all
        entry("lone")
        with pytest.raises(DBAPIError, match="has 0 postings"):
            conn.commit()
        conn.rollback()

        # Checked (and found balanced) early; a posting added after the check unbalances it
        eid = entry("late", 500, -500)
        conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        conn.execute(text("SET CONSTRAINTS ALL DEFERRED"))
        conn.execute(posting_sql, {"e": eid, "a": bank, "amount": 7})
        with pytest.raises(DBAPIError, match=f"entry {eid} does not balance"):
            conn.commit()
        conn.rollback()

        # Two balanced entries, then a posting to the first one after the second was written
        first = entry("a", 300, -300)
        entry("b", 200, -200)
        conn.execute(posting_sql, {"e": first, "a": income, "amount": -1})
        with pytest.raises(DBAPIError, match=f"entry {first} does not balance"):
            conn.commit()
        conn.rollback()

        # And balanced entries commit (the skip itself does not refuse anything)
        entry("ok1", 100, -100)
        entry("ok2", 50, -50)
        conn.commit()
        assert conn.scalar(text("SELECT count(*) FROM ledger_entries WHERE kind = 'x'")) == 2


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
