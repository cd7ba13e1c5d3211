"""Ledger benchmark on PostgreSQL. Prints figures; asserts nothing.

    python bench/ledger_bench.py [--seconds 10] [--writers 8] [--postings 1000000]

1. Single-entry postings per second with N concurrent writer processes through the ledger
   service (``post_entry``: entry, two postings, two guarded balance updates, idempotency
   claim, triggers), next to a raw psycopg baseline writing the same rows (entry, two
   postings, two balance updates per transaction) in the same run, and the ratio. Two
   shapes: "spread" (each writer its own pair of accounts) and "hot" (every writer on the
   same two accounts, the worst case: row locks serialise them). A sealer process runs
   alongside, as in production, to show the hash chain keeps up.
2. Balance read latency with 1,000,000 postings in the ledger (p50, p99), now and as of a date.
3. ``placefund ledger verify`` wall time over those 1,000,000 postings.

DSN: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test.
Everything happens in a private schema that is dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import multiprocessing as mp
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from foundation.db import make_engine, make_session_factory  # noqa: E402
from foundation.settings import normalise_database_url  # noqa: E402
from ledger.books.chain import seal_pending  # noqa: E402
from ledger.books.legs import GENESIS_HASH, Leg, entry_hash  # noqa: E402
from ledger.books.posting import open_account, post_entry  # noqa: E402
from placefund.migrate import upgrade  # noqa: E402

DAY = dt.date(2026, 11, 26)


def dsn() -> str:
    return (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )


def sa_url() -> str:
    return normalise_database_url(dsn())


def libpq_dsn() -> str:
    return dsn().replace("postgresql+psycopg://", "postgresql://")


def engine_for(schema: str, **kw):
    return make_engine(sa_url(), connect_args={"options": f"-csearch_path={schema}"}, **kw)


def account_pair(shape: str, writer: int) -> tuple[str, str]:
    if shape == "hot":
        return "assets:bank:main", "income:donations"
    return f"assets:bank:w{writer}", f"expense:grants:project:{writer}"


# --- writers -------------------------------------------------------------------------------


def service_writer(schema, shape, writer, seconds, start_at, out):
    engine = engine_for(schema, pool_size=1, max_overflow=0)
    sessions = make_session_factory(engine)
    debit_code, credit_code = account_pair(shape, writer)
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    n = 0
    latencies = []
    while time.time() < deadline:
        t0 = time.perf_counter()
        with sessions() as s, s.begin():
            post_entry(
                s,
                operation="bench",
                # Unique per run: a key from an earlier run would be an idempotent replay
                # (nothing posted) and inflate the figure.
                key=f"{shape}:{start_at}:{writer}:{n}",
                params={"n": n},
                legs=[Leg(debit_code, 100, "TWD"), Leg(credit_code, -100, "TWD")],
                entry_date=DAY,
            )
        latencies.append(time.perf_counter() - t0)
        n += 1
    out.put((n, latencies))
    engine.dispose()


def raw_writer(schema, shape, writer, seconds, start_at, out):
    conn = psycopg.connect(libpq_dsn(), options=f"-csearch_path={schema}")
    debit_code, credit_code = account_pair(shape, writer)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT code, id FROM ledger_accounts WHERE code IN (%s, %s)", (debit_code, credit_code)
        )
        ids = dict(cur.fetchall())
    conn.commit()
    a, b = sorted([ids[debit_code], ids[credit_code]])
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    n = 0
    latencies = []
    while time.time() < deadline:
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO ledger_entries (kind, entry_date, memo, idempotency_key, request_hash,"
                " source_refs, created_at) VALUES ('raw', %s, '', %s, 'h', '', now()) RETURNING id",
                (DAY, f"raw:{shape}:{writer}:{n}"),
            )
            entry_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO ledger_postings (entry_id, account_id, amount, currency, entry_date)"
                " VALUES (%s, %s, 100, 'TWD', %s)",
                (entry_id, ids[debit_code], DAY),
            )
            cur.execute(
                "INSERT INTO ledger_postings (entry_id, account_id, amount, currency, entry_date)"
                " VALUES (%s, %s, -100, 'TWD', %s)",
                (entry_id, ids[credit_code], DAY),
            )
            cur.execute(
                "UPDATE ledger_accounts SET balance = balance + %s WHERE id = %s",
                (100 if a == ids[debit_code] else -100, a),
            )
            cur.execute(
                "UPDATE ledger_accounts SET balance = balance + %s WHERE id = %s",
                (100 if b == ids[debit_code] else -100, b),
            )
        conn.commit()
        latencies.append(time.perf_counter() - t0)
        n += 1
    out.put((n, latencies))
    conn.close()


def sealer(schema, stop_at, out):
    """What `placefund ledger seal --follow` does: a round, then a 1 s pause."""
    engine = engine_for(schema, pool_size=1, max_overflow=0)
    sessions = make_session_factory(engine)
    sealed = 0
    while time.time() < stop_at:
        with sessions() as s, s.begin():
            sealed += seal_pending(s, wait=True)
        time.sleep(1.0)
    out.put(sealed)
    engine.dispose()


def seal_backlog(schema: str) -> None:
    """Seal what earlier runs left, then vacuum: otherwise the run that follows pays for the
    previous run's dead queue rows and autovacuum, and the order of runs skews the figures."""
    engine = engine_for(schema, pool_size=1, max_overflow=0)
    with make_session_factory(engine)() as s, s.begin():
        seal_pending(s, wait=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE ledger_unsealed, ledger_seals, ledger_accounts"))
    engine.dispose()


def run_writers(target, schema, shape, writers, seconds, with_sealer=False):
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [
        ctx.Process(target=target, args=(schema, shape, w, seconds, start_at, out))
        for w in range(writers)
    ]
    seal_out = ctx.Queue()
    sealer_proc = None
    if with_sealer:
        sealer_proc = ctx.Process(target=sealer, args=(schema, start_at + seconds, seal_out))
        sealer_proc.start()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    sealed = None
    if sealer_proc:
        sealed = seal_out.get()
        sealer_proc.join()
    count = sum(n for n, _ in results)
    lat = sorted(x for _, ls in results for x in ls)
    return count / seconds, lat, sealed


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))] * 1000


# --- bulk load for reads and verify ---------------------------------------------------------


def bulk_load(schema: str, postings: int) -> float:
    """Load postings/2 sealed two-posting entries with COPY (triggers off for the load)."""
    entries = postings // 2
    t0 = time.perf_counter()
    conn = psycopg.connect(libpq_dsn(), options=f"-csearch_path={schema}")
    accounts = [f"assets:bank:b{i}" for i in range(50)] + [
        f"expense:grants:project:{i}" for i in range(1000, 1050)
    ]
    with conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # bulk load: skip per-row triggers
        ids = {}
        for code in accounts:
            cur.execute(
                "INSERT INTO ledger_accounts (code, name, type, currency, normal_sign,"
                " allow_negative, balance, created_at)"
                " VALUES (%s, %s, %s, 'TWD', 1, true, 0, now())"
                " ON CONFLICT (code) DO NOTHING",
                (code, code, "asset" if code.startswith("assets") else "expense"),
            )
        cur.execute("SELECT code, id FROM ledger_accounts")
        ids = dict(cur.fetchall())
        cur.execute("SELECT coalesce(max(id), 0) FROM ledger_entries")
        base_id = cur.fetchone()[0]
        cur.execute("SELECT coalesce(max(seq), 0) FROM ledger_seals")
        base_seq = cur.fetchone()[0]
        cur.execute("SELECT hash FROM ledger_seals ORDER BY seq DESC LIMIT 1")
        row = cur.fetchone()
        prev = row[0] if row else GENESIS_HASH
        cur.execute("SELECT coalesce(max(id), 0) FROM ledger_postings")
        posting_id = cur.fetchone()[0]
        balances = dict.fromkeys(ids.values(), 0)
        ebuf, pbuf, sbuf = io.StringIO(), io.StringIO(), io.StringIO()
        for i in range(entries):
            entry_id = base_id + i + 1
            seq = base_seq + i + 1
            debit_code = accounts[i % 50]
            credit_code = accounts[50 + (i * 7) % 50]
            amount = 100 * (1 + i % 997)
            date = DAY - dt.timedelta(days=i % 1500)
            key = f"bulk:{entry_id}"
            ebuf.write(f"{entry_id}\tbulk\t{date}\t\t{key}\th\t\t2026-11-26 00:00:00+00\n")
            for code, amt in ((debit_code, amount), (credit_code, -amount)):
                posting_id += 1
                pbuf.write(f"{posting_id}\t{entry_id}\t{ids[code]}\t{amt}\tTWD\t{date}\n")
                balances[ids[code]] += amt
            fields = {
                "id": entry_id,
                "kind": "bulk",
                "date": date.isoformat(),
                "memo": "",
                "key": key,
                "reverses": None,
                "related": None,
                "refs": "",
            }
            digest = entry_hash(
                prev, seq, fields, [(debit_code, amount, "TWD"), (credit_code, -amount, "TWD")]
            )
            sbuf.write(f"{seq}\t{entry_id}\t{prev}\t{digest}\t2026-11-26 00:00:00+00\n")
            prev = digest
        for table, cols, buf in (
            (
                "ledger_entries",
                "(id, kind, entry_date, memo, idempotency_key, request_hash,"
                " source_refs, created_at)",
                ebuf,
            ),
            ("ledger_postings", "(id, entry_id, account_id, amount, currency, entry_date)", pbuf),
            ("ledger_seals", "(seq, entry_id, prev_hash, hash, sealed_at)", sbuf),
        ):
            buf.seek(0)
            with cur.copy(f"COPY {table} {cols} FROM STDIN") as copy:
                while chunk := buf.read(1 << 20):
                    copy.write(chunk)
        for account_id, delta in balances.items():
            if delta:
                cur.execute(
                    "UPDATE ledger_accounts SET balance = balance + %s WHERE id = %s",
                    (delta, account_id),
                )
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), %s)",
            (base_id + entries,),
        )
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('ledger_postings', 'id'), %s)", (posting_id,)
        )
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("ANALYZE")
    conn.commit()
    conn.close()
    return time.perf_counter() - t0


def read_latency(schema: str, samples: int = 2000):
    from ledger.books.reading import balance

    engine = engine_for(schema, pool_size=1, max_overflow=0)
    sessions = make_session_factory(engine)
    codes = [f"assets:bank:b{i}" for i in range(50)]
    now, as_of = [], []
    with sessions() as s:
        for i in range(samples):
            t0 = time.perf_counter()
            balance(s, codes[i % 50])
            s.rollback()
            now.append(time.perf_counter() - t0)
        for i in range(samples // 4):
            t0 = time.perf_counter()
            balance(s, codes[i % 50], DAY - dt.timedelta(days=400))
            s.rollback()
            as_of.append(time.perf_counter() - t0)
    engine.dispose()
    return sorted(now), sorted(as_of)


def create_schema(prefix: str):
    """A private schema for one benchmark run: (its name, the engine that made it)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(sa_url())
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema, admin


def drop_schema(schema: str, admin) -> None:
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--skip-bulk", action="store_true")
    args = parser.parse_args()

    schema, admin = create_schema("bench")
    try:
        engine = engine_for(schema)
        upgrade(engine)
        sessions = make_session_factory(engine)
        with sessions() as s, s.begin():
            for w in range(args.writers):
                for code in account_pair("spread", w):
                    open_account(s, code)
        # The writers only move money out of thin air: let every account go negative so the
        # benchmark measures posting, not refusals.
        with engine.begin() as conn:
            conn.execute(text("UPDATE ledger_accounts SET allow_negative = true"))
        engine.dispose()

        print(
            f"PostgreSQL ledger benchmark, {args.writers} writer processes, "
            f"{args.seconds:.0f} s per run, {os.cpu_count()} cores"
        )
        print()
        print(f"{'shape':<7}{'writer':<10}{'entries/s':>11}{'p50 ms':>9}{'p99 ms':>9}")
        figures = {}
        # "service" is the posting path alone, like the raw baseline; "+sealer" also runs the
        # hash chain's sealer process alongside, as `placefund serve` does, on the same cores.
        runs = (
            ("raw", raw_writer, False),
            ("service", service_writer, False),
            ("+sealer", service_writer, True),
        )
        for shape in ("spread", "hot"):
            for name, target, with_sealer in runs:
                seal_backlog(schema)  # the sealer then only keeps up with this run
                rate, lat, sealed = run_writers(
                    target, schema, shape, args.writers, args.seconds, with_sealer=with_sealer
                )
                figures[(shape, name)] = rate
                print(
                    f"{shape:<7}{name:<10}{rate:>11,.0f}{pct(lat, 0.5):>9.2f}{pct(lat, 0.99):>9.2f}"
                    + (f"   (sealer sealed {sealed:,} entries alongside)" if sealed else "")
                )
            for name in ("service", "+sealer"):
                ratio = figures[(shape, name)] / figures[(shape, "raw")]
                print(f"{shape:<7}{'ratio':<10}{ratio:>11.2f}   {name} / raw (target >= 0.60)")
        engine = engine_for(schema)
        with make_session_factory(engine)() as s, s.begin():
            t0 = time.perf_counter()
            left = seal_pending(s, wait=True)
            print(f"sealed the remaining {left:,} entries in {time.perf_counter() - t0:.2f} s")
        engine.dispose()

        if args.skip_bulk:
            return
        print()
        load = bulk_load(schema, args.postings)
        print(
            f"bulk-loaded {args.postings:,} postings ({args.postings // 2:,} sealed entries) "
            f"with COPY in {load:.1f} s"
        )
        now, as_of = read_latency(schema)
        print(
            f"balance read (stored, O(1)):  p50 {pct(now, 0.5):.3f} ms  p99 {pct(now, 0.99):.3f} ms"
            "   (target p50 < 2 ms)"
        )
        print(
            f"balance as of a date (index): p50 {pct(as_of, 0.5):.3f} ms  "
            f"p99 {pct(as_of, 0.99):.3f} ms"
        )
        env = dict(os.environ)
        env["DATABASE_URL"] = sa_url() + f"?options=-csearch_path%3D{schema}"
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "placefund.cli", "ledger", "verify", "--no-seal"],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        took = time.perf_counter() - t0
        last = proc.stdout.strip().splitlines()
        print(
            f"placefund ledger verify: {took:.1f} s, exit {proc.returncode} "
            f"(target < 60 s): {last[0] if last else proc.stderr[-300:]}"
        )
    finally:
        drop_schema(schema, admin)


if __name__ == "__main__":
    main()
