"""Reconciliation benchmark. Prints figures; asserts nothing.

    python bench/reconcile_bench.py [--lines 100000] [--database sqlite|postgres]

1. Stripe: import N balance transactions (as the Stripe API returns them) and match them
   against a ledger holding the N corresponding card donations (entries with their Stripe
   ids, postings on the clearing and fee accounts); payout sums checked.
2. Bank: import a N-line bank statement CSV (UTF-8, thousands separators, ROC and ISO
   dates) and match it against a ledger holding the corresponding items: 40% bank-transfer
   donations on pledges carrying a virtual account, 40% direct bank-transfer donations
   (amount and date), 20% Stripe payouts named in the memo.

The ledger is filled with bulk inserts (setup is not what is measured). Each measured phase
runs in a fresh child process, so its peak memory (ru_maxrss) is its own. Target: under
10 s each, peak under 500 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from ledger.fund import virtual_accounts  # noqa: E402
from ledger.fund.common import va_scheme  # noqa: E402
from placefund.app import Database  # noqa: E402
from placefund.migrate import upgrade  # noqa: E402

START = dt.date(2026, 1, 1)
TAIWAN = dt.timezone(dt.timedelta(hours=8))


def _database(url: str, schema: str | None) -> Database:
    if schema is None:
        return Database(url)
    from foundation.db import make_engine, make_session_factory

    db = Database.__new__(Database)
    db.engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    db.sessions = make_session_factory(db.engine)
    return db


def _accounts(conn) -> dict[str, int]:
    from sqlalchemy.orm import Session

    from ledger.books.posting import open_account

    codes = [
        "assets:bank:main",
        "assets:bank:stripe",
        "assets:stripe:clearing:TWD",
        "expense:fees:processor:TWD",
        "income:donations",
    ]
    with Session(bind=conn) as s:
        ids = {c: open_account(s, c).id for c in codes}
        s.flush()
    return ids


def setup(db: Database, n: int, workdir: Path) -> None:
    """Bulk-fill the ledger and write the two statements to ``workdir``."""
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if db.engine.dialect.name == "sqlite" else now
    with db.engine.begin() as conn:
        acc = _accounts(conn)
        conn.execute(
            text(
                "INSERT INTO organisations (kind, name, verified_at, created_at, version) "
                "VALUES ('company', 'Bench Co', :t, :t, 1)"
            ),
            {"t": stamp},
        )
        company = conn.execute(text("SELECT max(id) FROM organisations")).scalar()
        next_entry = (conn.execute(text("SELECT max(id) FROM ledger_entries")).scalar() or 0) + 1

        entries, postings, donations, pledges, payouts = [], [], [], [], []
        stripe_payouts = []
        txns = []
        bank_lines = []
        scheme = va_scheme()

        def entry(kind, day, key, refs=""):
            nonlocal next_entry
            eid = next_entry
            next_entry += 1
            entries.append(
                {
                    "id": eid,
                    "kind": kind,
                    "d": day,
                    "k": key,
                    "h": "0" * 64,
                    "r": refs,
                    "t": stamp,
                }
            )
            return eid

        def post(eid, account, amount, day):
            postings.append({"e": eid, "a": acc[account], "m": amount, "d": day})

        # --- Stripe: N card donations and their balance transactions -------------------
        for i in range(n):
            day = START + dt.timedelta(days=i * 300 // n)
            gross = 100 * (1000 + i % 5000)
            fee = gross * 34 // 1000
            txn, ch, pi = f"txn_b{i}", f"ch_b{i}", f"pi_b{i}"
            refs = f"balance_transaction={txn}\ncharge={ch}\npayment_intent={pi}"
            eid = entry("donation", day, f"bench:s:{i}", refs)
            post(eid, "assets:stripe:clearing:TWD", gross - fee, day)
            post(eid, "expense:fees:processor:TWD", fee, day)
            post(eid, "income:donations", -gross, day)
            created = int(dt.datetime.combine(day, dt.time(12), TAIWAN).timestamp())
            txns.append(
                {
                    "id": txn,
                    "object": "balance_transaction",
                    "amount": gross,
                    "fee": fee,
                    "net": gross - fee,
                    "currency": "twd",
                    "created": created,
                    "type": "charge",
                    "source": {"id": ch, "object": "charge", "payment_intent": pi},
                    "payout": f"po_b{i // 500}",
                }
            )

        # ... and their payouts (500 transactions each), with the payouts' own transactions
        groups: dict[int, int] = {}
        for t in txns:
            k = int(t["payout"][4:])
            groups[k] = groups.get(k, 0) + t["net"]
        for k, total in groups.items():
            day = START + dt.timedelta(days=min(299, (k + 1) * 500 * 300 // n))
            refs = f"balance_transaction=txn_p{k}\npayout=po_b{k}"
            eid = entry("payout", day, f"bench:sp:{k}", refs)
            post(eid, "assets:bank:stripe", total, day)  # not the statement's account
            post(eid, "assets:stripe:clearing:TWD", -total, day)
            txns.append(
                {
                    "id": f"txn_p{k}",
                    "object": "balance_transaction",
                    "amount": -total,
                    "fee": 0,
                    "net": -total,
                    "currency": "twd",
                    "created": int(dt.datetime.combine(day, dt.time(12), TAIWAN).timestamp()),
                    "type": "payout",
                    "source": f"po_b{k}",
                    "payout": f"po_b{k}",
                }
            )
            stripe_payouts.append({"a": total, "d": day, "p": f"po_b{k}", "e": eid, "t": stamp})

        # --- Bank: pledges with virtual accounts, direct donations, payouts -------------
        balance = 0
        pledge_base = (conn.execute(text("SELECT max(id) FROM pledges")).scalar() or 0) + 1
        for i in range(n):
            day = START + dt.timedelta(days=i * 300 // n)
            amount = 100 * (20000 + i)  # distinct whole-dollar amounts
            kind = "va" if i % 5 < 2 else ("direct" if i % 5 < 4 else "payout")
            if kind == "payout":
                eid = entry("payout", day, f"bench:po:{i}", f"payout=po_bank{i}")
                post(eid, "assets:bank:main", amount, day)
                post(eid, "income:donations", -amount, day)
                payouts.append({"a": amount, "d": day, "p": f"po_bank{i}", "e": eid, "t": stamp})
                memo = f"STRIPE PAYOUT po_bank{i}"
            else:
                pledge_id = None
                memo = f"ATM 轉入 {i}"
                if kind == "va":
                    pledge_id = pledge_base + len(pledges)
                    va = virtual_accounts.generate(pledge_id, scheme)
                    pe = entry("pledge", day, f"bench:p:{i}")
                    post(pe, "assets:stripe:clearing:TWD", 1, day)  # placeholder pair
                    post(pe, "income:donations", -1, day)
                    pledges.append(
                        {
                            "id": pledge_id,
                            "c": company,
                            "a": amount,
                            "d": day,
                            "va": va,
                            "e": pe,
                            "t": stamp,
                        }
                    )
                    memo = f"跨行轉入 {va} Bench Co"
                eid = entry("donation", day, f"bench:b:{i}", "")
                post(eid, "assets:bank:main", amount, day)
                post(eid, "income:donations", -amount, day)
                donations.append(
                    {
                        "c": company,
                        "p": pledge_id,
                        "a": amount,
                        "d": day,
                        "e": eid,
                        "t": stamp,
                    }
                )
            balance += amount
            shown = day + dt.timedelta(days=1)
            date = (
                f"{shown.year - 1911}/{shown.month:02d}/{shown.day:02d}"
                if i % 2
                else shown.isoformat()
            )
            bank_lines.append(f'{date},{memo},"{amount // 100:,}","{balance // 100:,}"')

        ins = conn.execute
        ins(
            text(
                "INSERT INTO ledger_entries (id, kind, entry_date, memo, idempotency_key,"
                " request_hash, source_refs, created_at) VALUES (:id, :kind, :d, '', :k, :h,"
                " :r, :t)"
            ),
            entries,
        )
        ins(
            text(
                "INSERT INTO ledger_postings (entry_id, account_id, amount, currency, entry_date)"
                " VALUES (:e, :a, :m, 'TWD', :d)"
            ),
            postings,
        )
        ins(
            text(
                "INSERT INTO pledges (id, company_id, amount, currency, public_name, pledged_on,"
                " virtual_account, entry_id, created_at, version) VALUES (:id, :c, :a, 'TWD',"
                " false, :d, :va, :e, :t, 1)"
            ),
            pledges,
        )
        ins(
            text(
                "INSERT INTO donations (company_id, pledge_id, channel, gross_amount, currency,"
                " settlement_currency, settlement_gross, fee_amount, net_amount, received_on,"
                " refunded_amount, entry_id, created_at) VALUES (:c, :p, 'bank_transfer', :a,"
                " 'TWD', 'TWD', :a, 0, :a, :d, 0, :e, :t)"
            ),
            donations,
        )
        ins(
            text(
                "INSERT INTO payouts (amount, currency, bank_account_code, paid_on,"
                " stripe_payout_id, entry_id, created_at) VALUES (:a, 'TWD',"
                " 'assets:bank:main', :d, :p, :e, :t)"
            ),
            payouts,
        )
        ins(
            text(
                "INSERT INTO payouts (amount, currency, bank_account_code, paid_on,"
                " stripe_payout_id, entry_id, created_at) VALUES (:a, 'TWD',"
                " 'assets:bank:stripe', :d, :p, :e, :t)"
            ),
            stripe_payouts,
        )
        # The ledger's bank balance agrees with the statement's closing balance.
        ins(
            text("UPDATE ledger_accounts SET balance = :b WHERE code = 'assets:bank:main'"),
            {"b": balance},
        )
        ins(text("DELETE FROM ledger_unsealed"))
    (workdir / "stripe.json").write_text(json.dumps(txns))
    header = "date,description,amount,balance\n"
    (workdir / "bank.csv").write_text(header + "\n".join(bank_lines) + "\n", encoding="utf-8")


def measure(phase: str, url: str, schema: str | None, workdir: Path) -> dict:
    """One measured phase in this (fresh) process."""
    from ledger.reconciliation import runs as reconciliation_runs

    db = _database(url, schema)
    if phase == "stripe":
        started = time.perf_counter()
        txns = json.loads((workdir / "stripe.json").read_text())
        with db.session() as s, s.begin():
            report = reconciliation_runs.import_stripe_transactions(s, txns, name="bench")
            t_import = time.perf_counter() - started
            run = reconciliation_runs.run_stripe(s, import_id=report.import_id)
        elapsed = time.perf_counter() - started
        lines = report.lines_new
    else:
        started = time.perf_counter()
        data = (workdir / "bank.csv").read_bytes()
        with db.session() as s, s.begin():
            report = reconciliation_runs.import_bank_statement(
                s, data, mapping="generic", name="bench.csv"
            )
            t_import = time.perf_counter() - started
            run = reconciliation_runs.run_bank(s, import_id=report.import_id, auto_record=False)
        elapsed = time.perf_counter() - started
        lines = report.lines_new
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (the setup).
    status = Path("/proc/self/status").read_text()
    hwm = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    peak_mb = (
        int(hwm[0].split()[1]) / 1024
        if hwm
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = cpu.ru_utime + cpu.ru_stime
    return {
        "phase": phase,
        "lines": lines,
        "import_s": round(t_import, 2),
        "total_s": round(elapsed, 2),
        "lines_per_s": round(lines / elapsed),
        "peak_mb": round(peak_mb),
        "cpu_s": round(cpu_s, 2),
        "summary": json.loads(run.summary),
        "ok": run.ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            prof = cProfile.Profile()
            result = prof.runcall(
                measure, args.measure, args.url, args.schema or None, Path(args.workdir)
            )
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumtime").print_stats(25)
        else:
            result = measure(args.measure, args.url, args.schema or None, Path(args.workdir))
        print(json.dumps(result, ensure_ascii=False))
        return

    workdir = Path(tempfile.mkdtemp(prefix="reconcile_bench_"))
    schema = None
    if args.database == "postgres":
        url = os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = Database(url)
        with admin.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    else:
        url = f"sqlite:///{workdir / 'bench.db'}"
    db = _database(url, schema)
    upgrade(db.engine)
    t0 = time.perf_counter()
    setup(db, args.lines, workdir)
    print(
        f"setup: {args.lines:,} Stripe donations + {args.lines:,} bank items in the ledger "
        f"({args.database}) in {time.perf_counter() - t0:.1f}s"
    )
    try:
        for phase in ("stripe", "bank"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    phase,
                    "--url",
                    url,
                    "--schema",
                    schema or "",
                    "--workdir",
                    str(workdir),
                ],
                check=False,
                capture_output=True,
                text=True,
            )
            if out.returncode:
                print(f"{phase}: FAILED\n{out.stderr[-3000:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{r['phase']:>6}: {r['lines']:,} lines imported and matched in "
                f"{r['total_s']:.2f}s (import {r['import_s']:.2f}s) = "
                f"{r['lines_per_s']:,} lines/s, peak {r['peak_mb']} MB, "
                f"process CPU {r['cpu_s']:.2f}s, ok={r['ok']}"
            )
            print(f"        {r['summary']}")
    finally:
        db.engine.dispose()
        if schema:
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
