"""A bank import killed mid-way and finished by the next worker. Prints figures; asserts
nothing.

    python bench/import_kill_bench.py [--lines 100000] [--kill-at 0.5] [--keep]

PostgreSQL (BENCH_DATABASE_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test),
in a schema of its own. A ``bank_import`` job of an N-line statement is submitted and a real
``placefund worker`` (``python -m placefund.cli worker --no-seal``) takes it; once the
job's progress shows the given share of the lines stored (inside the import's one
transaction), the worker is killed with SIGKILL. A second worker is started at once; the
bench waits for the job to succeed and prints: lines/s stored before the kill, where it was
killed, the time from the restart to success (the new worker's sweep takes the dead one's
job at once, the import starts again from nothing, then matching), lines/s of that second
attempt, and the duplicate lines in the end (must be 0), then runs ``placefund ledger
verify``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from foundation.db import make_engine, make_session_factory  # noqa: E402
from jobs.kinds import bank_import  # noqa: E402
from jobs.models import Job  # noqa: E402
from jobs.queue import Queue  # noqa: E402
from placefund.app import Database  # noqa: E402
from placefund.migrate import upgrade  # noqa: E402
from tests import factories  # noqa: E402


def _database(url: str, schema: str) -> Database:
    db = Database.__new__(Database)
    db.connect_args = {"options": f"-csearch_path={schema}"}
    db.engine = make_engine(url, connect_args=db.connect_args)
    db.sessions = make_session_factory(db.engine)
    return db


def statement(n: int) -> bytes:
    rows = ["date,description,amount,balance,counterparty"]
    start = dt.date(2026, 1, 1)
    for i in range(n):
        day = start + dt.timedelta(days=i % 365)
        rows.append(f'{day},匯款 {i} 來自公司,"{1000 + i:,}",,公司 {i % 97}')
    return ("\n".join(rows) + "\n").encode()


def _job(db: Database, job_id: int) -> Job:
    with db.session() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


def _worker(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "placefund.cli", "worker", "--no-seal", "--threads", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of lines stored")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"bench_kill_{uuid.uuid4().hex[:8]}"
    admin = Database(url)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = _database(url, schema)
    log_path = Path(tempfile.mkdtemp(prefix="import-kill-")) / "workers.log"
    try:
        upgrade(db.engine)
        with db.session() as s, s.begin():
            actor = factories.manager(s, "NDC").id
        data = statement(args.lines)
        with db.session() as s, s.begin():
            job, _ = bank_import.submit(
                s, data=data, filename="bench.csv", mapping="generic", encoding=None,
                skip_bad_lines=False, actor_id=actor,
            )  # fmt: skip
            job_id = job.id
        queue = Queue(db)
        queue.enqueue(job_id)
        queue.huey.storage.close()
        env = dict(os.environ)
        env.update(
            DATABASE_URL=f"{db.engine.url.render_as_string(hide_password=False)}"
            f"?options=-csearch_path%3D{schema}",
            PYTHONPATH=str(ROOT),
            SECRET_KEY="bench",
        )
        print(f"statement: {args.lines:,} lines, {len(data) / 1e6:.1f} MB; log {log_path}")
        with log_path.open("ab") as log:
            started = time.perf_counter()
            first = _worker(env, log)
            import_began = first_seen = None
            while True:
                job = _job(db, job_id)
                now = time.perf_counter()
                if job.phase == "importing" and import_began is None:
                    import_began = now
                    first_seen = job.progress_done
                total = job.progress_total or args.lines
                if job.phase == "importing" and job.progress_done >= args.kill_at * total:
                    break
                if job.status != "running" and job.status != "queued":
                    raise SystemExit(f"the job ended before the kill: {job.status}")
                if now - started > 600:
                    raise SystemExit("the import did not get going within 10 minutes")
                time.sleep(0.01)
            first.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            first.wait()
            at_kill = _job(db, job_id)
            stored = at_kill.progress_done - (first_seen or 0)
            committed = "import_id" in json.loads(at_kill.result or "{}")
            print(
                f"attempt 1: killed (SIGKILL) in phase {at_kill.phase} at "
                f"{at_kill.progress_done:,}/{at_kill.progress_total:,} lines stored "
                f"(uncommitted; import committed: {committed}), "
                f"{killed - started:.1f} s after the worker started"
            )
            print(
                f"attempt 1: {stored / max(killed - import_began, 1e-9):,.0f} lines/s stored "
                f"inside the import transaction (the file was read before it, once)"
            )
            restarted = time.perf_counter()
            second = _worker(env, log)
            phases: dict[str, float] = {}
            while True:
                job = _job(db, job_id)
                now = time.perf_counter()
                if job.attempts >= 2:  # the new worker's attempt (the row, not the dead one's)
                    phases.setdefault(job.phase, now)
                if job.status in ("succeeded", "failed", "cancelled"):
                    break
                if now - restarted > 900:
                    raise SystemExit("the job did not finish within 15 minutes of the restart")
                time.sleep(0.02)
            finished = time.perf_counter()
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
        result = json.loads(job.result or "{}")
        print(
            f"attempt 2: {job.status} after {finished - restarted:.1f} s from the restart "
            f"(attempts {job.attempts}); phases seen at "
            + ", ".join(f"{p} +{t - restarted:.1f}s" for p, t in phases.items())
        )
        if "importing" in phases and "matching" in phases:
            took = phases["matching"] - phases["importing"]
            print(
                f"attempt 2: {args.lines / took:,.0f} lines/s from the start of the import "
                f"transaction to its commit ({took:.1f} s)"
            )
        with db.engine.connect() as conn:
            lines, distinct = conn.execute(
                text("SELECT count(*), count(DISTINCT fingerprint) FROM statement_lines")
            ).one()
            imports = conn.execute(text("SELECT count(*) FROM statement_imports")).scalar()
        print(
            f"result: lines_new {result.get('lines_new'):,}, matched {result.get('matched')}, "
            f"unmatched {result.get('unmatched'):,}; statement_lines {lines:,}, "
            f"imports {imports}, duplicates {lines - distinct}"
        )
        verify = subprocess.run(
            [sys.executable, "-m", "placefund.cli", "ledger", "verify"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        print(f"placefund ledger verify: exit {verify.returncode}")
    finally:
        db.engine.dispose()
        if not args.keep:
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.engine.dispose()


if __name__ == "__main__":
    main()
