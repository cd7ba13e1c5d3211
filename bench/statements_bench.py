"""Yearly statements for every company: companies per second, measured, on N workers.

    python bench/statements_bench.py [--companies 20] [--donations 50] [--year 2026]
                                     [--database-url URL] [--workers N]
                                     [--seed-only] [--reuse]

Loads the demo (``placefund demo``: its companies and payments, through the services) into
a fresh, migrated database (a temporary SQLite file unless --database-url names an empty
PostgreSQL database), adds --companies companies with their payments in --year, then runs
the ``yearly_statements`` job and prints how long numbering the receipts and rendering
took, companies per second, and each company's time (p50, p95, max: from one stored
statement to the next of the same part, so reading, rendering and storing). A second run of
the same job is timed as well: it finds every statement current and renders nothing.

Payments: on SQLite (a small try) --donations each, through the posting engine
(``record_donation``). On PostgreSQL the national shape: each company gives a few to
--donations payments (3 to 50 by default, 26 on average: 10,000 companies make about
265,000), made like bench/scale_bench.py makes its 500,000: one donation through the
posting engine as the template, the rest by ``INSERT ... SELECT generate_series`` with
their entries and postings, sealed by the real sealer (``seal_pending``).

--workers 0 runs the job in this process through the worker's own Runner (jobs/runner.py):
the job then renders every part itself, one after another. --workers N starts N real
``placefund worker --threads 1`` processes on the database and hands them the job through
the queue, as the console's button does: the job splits the companies into parts
(``jobs.kinds.statements``), and each worker renders the parts it claims.

--seed-only loads the database and stops (so a long run can start from a loaded one);
--reuse takes a loaded database as it is, forgetting only the year's kept statements.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, select, text  # noqa: E402

import placefund.models  # noqa: E402, F401
from foundation.settings import Settings  # noqa: E402
from foundation.transactions import UnitOfWork  # noqa: E402
from jobs import records  # noqa: E402
from jobs.models import Job  # noqa: E402
from jobs.queue import Queue  # noqa: E402
from jobs.runner import Runner  # noqa: E402
from ledger import statements  # noqa: E402
from ledger.books.chain import seal_pending  # noqa: E402
from ledger.fund import documents, donations  # noqa: E402
from ledger.fund.models import Donation  # noqa: E402
from ledger.fund.receipt_models import YearlyStatement  # noqa: E402
from placefund.app import Database, job_services  # noqa: E402
from placefund.demo import load_demo  # noqa: E402
from placefund.migrate import upgrade  # noqa: E402
from tests import factories  # noqa: E402

KIND = "yearly_statements"


def seed_small(database, companies: int, per_company: int, year: int) -> None:
    with database.session() as s, s.begin():
        for c in range(companies):
            company = factories.organisation(s, "company", name=f"壓測企業 {c:05d}")
            for i in range(per_company):
                donations.record_donation(
                    s,
                    key=f"bench:{c}:{i}",
                    channel="bank_transfer",
                    amount=100_000 + 100 * i,
                    company_id=company.id,
                    restriction="county:10008" if i % 3 == 0 else None,
                    received_on=dt.date(year, 1 + i % 12, 1 + i % 28),
                )


def seed_bulk(database, companies: int, most: int, year: int) -> int:
    """``companies`` companies giving 3 to ``most`` payments each in ``year`` (PostgreSQL)."""
    from foundation.ubn import complete_ubn

    with database.session() as s, s.begin():
        conn = s.connection()
        first = conn.scalar(text("SELECT coalesce(max(id), 0) FROM organisations")) + 1
        conn.execute(
            text(
                "INSERT INTO organisations (kind, name, name_en, ubn, county_code, town_code,"
                " created_at, verified_at, version) VALUES ('company', :name, :en, :ubn,"
                " '09007', '09007010', now(), now(), 1)"
            ),
            [
                {
                    "name": f"全國壓測企業股份有限公司 {i:05d}",
                    "en": f"Statement bench {i:05d}",
                    "ubn": complete_ubn(f"{4_000_000 + i:07d}"),
                }
                for i in range(companies)
            ],
        )
        last = conn.scalar(text("SELECT max(id) FROM organisations"))
    # The template donation, through the posting engine
    with database.session() as s, UnitOfWork(s) as uow:
        template = donations.record_donation(
            s,
            key="statements:template",
            channel="bank_transfer",
            amount=100_000,
            company_id=first,
            received_on=dt.date(year, 1, 5),
            refs={"bank_line": "statements:template"},
            uow=uow,
        )
        template_entry = template.entry_id
    with database.session() as s, s.begin():
        conn = s.connection()
        legs = conn.execute(
            text("SELECT account_id, sign(amount) FROM ledger_postings WHERE entry_id = :e"),
            {"e": template_entry},
        ).all()
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        base = conn.scalar(text("SELECT max(id) FROM ledger_entries"))
        # Company c gives 3 + (c * 7919 % (most - 2)) payments: 3 to `most`, spread evenly;
        # a third restricted to a county, amounts NT$1,000 to NT$99,900, dates over the year
        conn.execute(
            text(
                "CREATE TEMP TABLE bulk_donations ON COMMIT DROP AS"
                " SELECT row_number() OVER (ORDER BY c, k) AS g, c AS company_id, k,"
                " (100000 + ((c::bigint * 31 + k) * 7919 % 989) * 10000)::bigint AS amount,"
                " CASE WHEN k % 3 = 0 THEN 'county:10008' END AS restriction,"
                " make_date(CAST(:year AS int), 1, 1) + ((c * 13 + k * 37) % 365)::int"
                "   AS received_on"
                " FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) c,"
                " generate_series(1, 3 + (c * 7919) % (CAST(:most AS int) - 2)) k"
                " WHERE c <> CAST(:lo AS int) OR k > 1"
            ),
            {"year": year, "lo": first, "hi": last, "most": most},
        )
        conn.execute(text("ALTER TABLE bulk_donations ADD COLUMN entry_id bigint"))
        conn.execute(text("UPDATE bulk_donations SET entry_id = :base + g"), {"base": base})
        conn.execute(
            text(
                "INSERT INTO ledger_entries (id, kind, entry_date, memo, idempotency_key,"
                " request_hash, source_refs, created_at)"
                " SELECT b.entry_id, e.kind, b.received_on,"
                " '捐款 bank_transfer NT$' || to_char(b.amount / 100, 'FM999,999,999'),"
                " 'statements:donation:' || b.g, e.request_hash,"
                " 'bank_line=statements:' || b.g, now()"
                " FROM bulk_donations b, ledger_entries e WHERE e.id = :t"
            ),
            {"t": template_entry},
        )
        for account_id, sign in legs:
            conn.execute(
                text(
                    "INSERT INTO ledger_postings (entry_id, account_id, amount, currency,"
                    " entry_date) SELECT entry_id, :a, :s * amount, 'TWD', received_on"
                    " FROM bulk_donations ORDER BY entry_id"
                ),
                {"a": account_id, "s": int(sign)},
            )
            conn.execute(
                text(
                    "UPDATE ledger_accounts SET balance = balance"
                    " + :s * (SELECT sum(amount) FROM bulk_donations) WHERE id = :a"
                ),
                {"a": account_id, "s": int(sign)},
            )
        conn.execute(
            text(
                "INSERT INTO donations (company_id, channel, gross_amount, currency,"
                " settlement_currency, settlement_gross, fee_amount, net_amount, restriction,"
                " received_on, refunded_amount, entry_id, created_at)"
                " SELECT company_id, 'bank_transfer', amount, 'TWD', 'TWD', amount, 0, amount,"
                " restriction, received_on, 0, entry_id, now() FROM bulk_donations"
                " ORDER BY entry_id"
            )
        )
        conn.execute(text("INSERT INTO ledger_unsealed SELECT entry_id FROM bulk_donations"))
        n = conn.scalar(text("SELECT count(*) FROM bulk_donations"))
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), :v)"),
            {"v": base + n},
        )
    while True:
        with database.session() as s, s.begin():
            if not seal_pending(s, wait=True, batch=20_000):
                break
    with database.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return n + 1


def start_workers(n: int, url: str, folder: str) -> list[subprocess.Popen]:
    env = dict(os.environ, DATABASE_URL=url, PLACEFUND_INSTANCE=folder, PYTHONPATH=str(ROOT))
    env.setdefault("SECRET_KEY", "bench")
    log = open(Path(folder) / "workers.log", "ab")  # noqa: SIM115 (the workers' lifetime)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "placefund.cli", "worker", "--threads", "1", "--no-seal"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        for _ in range(n)
    ]


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_job(database, settings: Settings, year: int, workers: int) -> tuple[float, Job]:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, KIND, params={"year": year})
    started = time.perf_counter()
    if workers == 0:
        Runner(database, job_services(settings)).run(job.id)
    else:
        queue = Queue(database)
        queue.enqueue(job.id)
        queue.close()
        shown = -1.0
        while True:
            time.sleep(2)
            with database.session() as s:
                row = s.get(Job, job.id)
                if row.finished:
                    break
                now = time.perf_counter() - started
                if now - shown >= 60:
                    shown = now
                    print(f"    {now / 60:5.1f} min: {row.phase} {row.progress_done:,}"
                          f"/{row.progress_total or 0:,}, load average "
                          f"{os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    with database.session() as s:
        done = s.get(Job, job.id)
        s.expunge(done)
    return elapsed, done


def per_company_seconds(database, year: int) -> list[float]:
    """Each company's time: from the statement before it in the same part (one worker, one
    after another) to its own. The first of each part has no predecessor and is left out."""
    with database.session() as s:
        rows = s.execute(
            select(YearlyStatement.job_id, YearlyStatement.generated_at)
            .where(YearlyStatement.year == year)
            .order_by(YearlyStatement.job_id, YearlyStatement.generated_at)
        ).all()
    out, previous = [], None
    for job_id, at in rows:
        if previous is not None and previous[0] == job_id:
            out.append((at - previous[1]).total_seconds())
        previous = (job_id, at)
    return out


def q(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--donations", type=int, default=50, help="payments per company (most)")
    parser.add_argument("--year", type=int, default=dt.date.today().year)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (else SQLite)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: here)")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="the database is loaded")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="placefund-statements-")
    os.environ.setdefault("PLACEFUND_INSTANCE", folder)
    url = args.database_url or f"sqlite:///{folder}/placefund.db"
    postgres = url.startswith("postgresql")
    if args.workers and not postgres:
        sys.exit("--workers needs PostgreSQL (--database-url)")
    database = Database(url)
    upgrade(database.engine)
    settings = Settings(database_url=url, secret_key="bench")
    t = time.perf_counter()
    if args.reuse:
        with database.session() as s, s.begin():
            s.execute(delete(YearlyStatement).where(YearlyStatement.year == args.year))
            s.execute(delete(Job).where(Job.kind.like(f"{KIND}%")))
    else:
        load_demo(database, echo=lambda _m: None)
        if postgres:
            seed_bulk(database, args.companies, args.donations, args.year)
        else:
            seed_small(database, args.companies, args.donations, args.year)
        print(f"loaded the demo and {args.companies:,} companies in "
              f"{time.perf_counter() - t:.1f} s ({url.split(':')[0]})")  # fmt: skip
    start, end = statements.period(args.year)
    with database.session() as s:
        n_payments = s.scalar(
            select(func.count()).where(
                Donation.company_id.is_not(None),
                Donation.received_on >= start,
                Donation.received_on <= end,
            )
        )
        n_companies = len(statements.donor_companies(s, args.year))
    print(f"{n_companies:,} donor companies, {n_payments:,} payments in {args.year}", flush=True)
    if args.seed_only:
        return

    workers = start_workers(args.workers, url, folder) if args.workers else []
    try:
        if not workers:
            documents.warm_up()  # WeasyPrint's import (a second) is not a statement's
        load_before = os.getloadavg()
        elapsed, job = run_job(database, settings, args.year, args.workers)
        load_after = os.getloadavg()
        if job.status != "succeeded":
            sys.exit(f"the job {job.status}: {job.error_code} {job.error_detail}")
        result = json.loads(job.result or "{}")
        n = result["companies"]
        with database.session() as s:
            kept = statements.stored_counts(s).get(args.year, 0)
            parts = s.scalar(select(func.count()).where(Job.parent_id == job.id))
        each = per_company_seconds(database, args.year)
        where = f"{args.workers} worker processes" if workers else "this process"
        print(f"first run on {where}: {n:,} companies in {parts} parts "
              f"({result['numbered']:,} receipts numbered), {result['rendered']:,} rendered "
              f"and kept ({kept:,} kept) in {elapsed:.1f} s ({elapsed / 60:.1f} min)")  # fmt: skip
        print(f"  {result['rendered'] / elapsed:.2f} companies/s; each company (read, render, "
              f"store) p50 {q(each, 50) * 1000:.0f} ms, p95 {q(each, 95) * 1000:.0f} ms, "
              f"max {max(each, default=0) * 1000:.0f} ms ({len(each):,} timed)")  # fmt: skip
        print(f"  load average before {load_before[0]:.2f}, after "
              f"{load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f} "
              f"(1/5/15 min; {os.cpu_count()} cores)")  # fmt: skip
        again, job2 = run_job(database, settings, args.year, args.workers)
        result2 = json.loads(job2.result or "{}")
        print(f"second run: {result2['already_current']:,} current, {result2['rendered']} "
              f"rendered in {again:.1f} s ({n / again:.0f} companies/s checked)")  # fmt: skip
    finally:
        stop_workers(workers)
        database.engine.dispose()


if __name__ == "__main__":
    main()
