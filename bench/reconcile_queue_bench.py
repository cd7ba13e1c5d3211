"""Reconciliation queue benchmark. Prints figures; asserts nothing.

    python bench/reconcile_queue_bench.py [--lines 200000] [--open 40000] [--database postgres]

Fills ``statement_lines`` with N lines over a year (``--open`` of them waiting for a
decision, the rest confirmed or ignored, one finding each) by bulk insert, then times what
the console's queue page runs (ledger/reconciliation/queue.py): the per-status counts, the
first page, a page deep in the queue, the amount and date filters, one status, and a page
of a run's findings. Each figure is the median of 5 runs, in milliseconds; the query plan
of the first page is printed so the index it uses can be seen.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from ledger.reconciliation import queue  # noqa: E402
from ledger.reconciliation.models import (  # noqa: E402
    ReconciliationResult,
    ReconciliationRun,
    StatementImport,
    StatementLine,
)
from placefund.app import Database  # noqa: E402
from placefund.migrate import upgrade  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _database(kind: str):
    if kind == "sqlite":
        path = Path("/tmp") / f"queue-bench-{uuid.uuid4().hex[:8]}.db"
        db = Database(f"sqlite:///{path}")
        upgrade(db.engine)
        return db, lambda: path.unlink(missing_ok=True)
    from tests.conftest import pg_database

    schema = f"pf_bench_queue_{uuid.uuid4().hex[:8]}"
    admin = Database(PG)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = pg_database(PG, schema)
    upgrade(db.engine)

    def drop():
        db.engine.dispose()
        with admin.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.engine.dispose()

    return db, drop


def fill(db, lines: int, open_lines: int) -> int:
    start = dt.date(2026, 1, 1)
    with db.session() as s, s.begin():
        imp = StatementImport(source="bank", name="bench.csv", account="assets:bank:main")
        s.add(imp)
        s.flush()
        run = ReconciliationRun(kind="bank", import_id=imp.id)
        s.add(run)
        s.flush()
        conn = s.connection()
        for i in range(0, lines, 10_000):
            rows = []
            for n in range(i, min(i + 10_000, lines)):
                status = (
                    ("unmatched" if n % 5 else "matched")
                    if n % (lines // open_lines) == 0
                    else ("confirmed" if n % 7 else "ignored")
                )
                rows.append(
                    {
                        "import_id": imp.id,
                        "source": "bank",
                        "fingerprint": f"bench-{n}",
                        "line_no": n + 2,
                        "date": start + dt.timedelta(days=n * 365 // lines),
                        "amount": (100 + n % 50_000) * 100,
                        "currency": "TWD",
                        "memo": f"line {n}",
                        "counterparty": "",
                        "virtual_accounts": "",
                        "status": status,
                        "matched_to": "",
                    }
                )
            conn.execute(insert(StatementLine.__table__), rows)
        ids = s.scalars(select(StatementLine.id)).all()
        for i in range(0, len(ids), 10_000):
            conn.execute(
                insert(ReconciliationResult.__table__),
                [
                    {"run_id": run.id, "outcome": "unmatched_line", "line_id": x, "targets": ""}
                    for x in ids[i : i + 10_000]
                ],
            )
        if s.get_bind().dialect.name == "postgresql":
            conn.execute(text("ANALYZE statement_lines"))
            conn.execute(text("ANALYZE reconciliation_results"))
        return run.id


def timed(db, fn) -> float:
    times = []
    for _ in range(5):
        with db.session() as s:
            t = time.perf_counter()
            fn(s)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--open", type=int, default=40_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    args = parser.parse_args()
    db, cleanup = _database(args.database)
    try:
        t = time.perf_counter()
        run_id = fill(db, args.lines, args.open)
        print(f"filled {args.lines:,} lines in {time.perf_counter() - t:.1f} s")
        default = queue.LineFilter()
        with db.session() as s:
            deep = queue.page_of_lines(s, default, size=50)
            for _ in range(3):  # a cursor some pages in, and one near the end
                deep = queue.page_of_lines(
                    s, default, size=200, after=queue.decode_cursor(deep.older)
                )
            last = s.execute(
                select(StatementLine.date, StatementLine.id)
                .where(StatementLine.status.in_(("unmatched", "matched")))
                .order_by(StatementLine.date, StatementLine.id)
                .offset(60)
                .limit(1)
            ).one()
            print(f"open lines: {queue.counts(s, default)['open']:,}")
        cases = {
            "counts per status": lambda s: queue.counts(s, default),
            "first page (50, with total)": lambda s: queue.page_of_lines(s, default, size=50),
            "page 13 (keyset, with position)": lambda s: queue.page_of_lines(
                s, default, size=50, after=queue.decode_cursor(deep.older)
            ),
            "last page (keyset, with position)": lambda s: queue.page_of_lines(
                s, default, size=50, after=tuple(last)
            ),
            "newer from the last page": lambda s: queue.page_of_lines(
                s, default, size=50, before=tuple(last)
            ),
            "filter: amount NT$1,000-2,000": lambda s: queue.page_of_lines(
                s, queue.LineFilter(amount_min=100_000, amount_max=200_000), size=50
            ),
            "filter: one month": lambda s: queue.page_of_lines(
                s,
                queue.LineFilter(start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 30)),
                size=50,
            ),
            "filter: status ignored": lambda s: queue.page_of_lines(
                s, queue.LineFilter(status="ignored"), size=50
            ),
            "run findings, first 100": lambda s: queue.run_findings(s, run_id),
        }
        for name, fn in cases.items():
            print(f"{name:38s} {timed(db, fn):8.1f} ms")
        if args.database == "postgres":
            with db.session() as s:
                stmt = (
                    select(StatementLine.id)
                    .where(*queue.conditions(default))
                    .order_by(StatementLine.date.desc(), StatementLine.id.desc())
                    .limit(50)
                )
                sql = str(stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
                print("plan of the first page:")
                for (row,) in s.execute(text("EXPLAIN " + sql)):
                    print("  " + row)
    finally:
        cleanup()


if __name__ == "__main__":
    main()
