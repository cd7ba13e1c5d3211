"""One ``bank_import`` job of a generated statement, run in this process through the worker's
own Runner, timed. Prints figures; asserts nothing.

    python bench/bank_import_job_bench.py [--lines 100000] [--runs 1]

PostgreSQL (BENCH_DATABASE_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test),
in a schema of its own dropped afterwards; ``--sqlite`` for a file of its own instead. Each
run imports a statement of new lines (nothing is a duplicate) and prints: the job's whole
time (submit to succeeded: reading, importing, matching), how many times the file was parsed
(``parse_statement`` calls) and the time spent parsing, and the time left for storing and
matching. On a shared machine the wall times swing with the neighbours' load; the process's
CPU seconds (parsing, building rows, matching: not PostgreSQL's) swing less.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.import_kill_bench import _database, statement  # noqa: E402
from jobs.kinds import bank_import  # noqa: E402
from jobs.models import Job  # noqa: E402
from jobs.runner import Runner  # noqa: E402
from ledger.reconciliation import bank_files  # noqa: E402
from ledger.reconciliation import runs as reconciliation_runs  # noqa: E402
from placefund.app import Database  # noqa: E402
from placefund.migrate import upgrade  # noqa: E402
from tests import factories  # noqa: E402

#: Every module that may call the parser by its own name (imported before this bench wraps it)
PARSERS = (bank_import, reconciliation_runs, bank_files)


class Parses:
    """Counts and times every ``parse_statement`` call, wherever the job makes it."""

    def __init__(self):
        self.calls = 0
        self.seconds = 0.0
        real = bank_files.parse_statement

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - began

        for module in PARSERS:
            if getattr(module, "parse_statement", None) is real:
                module.parse_statement = timed


def one_run(db, actor: int, lines: int, offset: int, parses: Parses) -> None:
    data = statement(lines + offset)
    # Only the last ``lines`` rows, so each run's lines are new (a header kept)
    head, *rows = data.decode().splitlines()
    data = ("\n".join([head, *rows[offset:]]) + "\n").encode()
    with db.session() as s, s.begin():
        job, _ = bank_import.submit(
            s, data=data, filename="bench.csv", mapping="generic", encoding=None,
            skip_bad_lines=False, actor_id=actor,
        )  # fmt: skip
        job_id = job.id
    calls, parsing = parses.calls, parses.seconds
    began, cpu = time.perf_counter(), time.process_time()
    Runner(db, {}).run(job_id)
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    with db.session() as s:
        job = s.get(Job, job_id)
        status, result = job.status, json.loads(job.result or "{}")
    parsed = parses.seconds - parsing
    print(
        f"job {job_id}: {status} in {took:.2f} s for {lines:,} lines "
        f"({len(data) / 1e6:.1f} MB, {lines / took:,.0f} lines/s), "
        f"{cpu:.2f} s of this process's CPU; "
        f"parse_statement x{parses.calls - calls} = {parsed:.2f} s; "
        f"the rest (storing, matching, rows) {took - parsed:.2f} s; "
        f"lines_new {result.get('lines_new', 0):,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    parses = Parses()
    if args.sqlite:
        path = Path(tempfile.mkdtemp(prefix="import-bench-")) / "placefund.db"
        db, admin, schema = Database(f"sqlite:///{path}"), None, None
    else:
        url = os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
        schema = f"bench_import_{uuid.uuid4().hex[:8]}"
        admin = Database(url)
        with admin.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db = _database(url, schema)
    try:
        upgrade(db.engine)
        with db.session() as s, s.begin():
            actor = factories.manager(s, "NDC").id
        for i in range(args.runs):
            one_run(db, actor, args.lines, i * args.lines, parses)
    finally:
        db.engine.dispose()
        if admin is not None:
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.engine.dispose()


if __name__ == "__main__":
    main()
