"""Yearly statements for every company: companies per second, extrapolated to 10,000.

    python bench/statements_bench.py [--companies 20] [--donations 50] [--year 2026]
                                     [--database-url URL]

Loads the demo (``placefund demo``: its companies and payments, through the services) into
a fresh, migrated database (a temporary SQLite file unless --database-url names an empty
PostgreSQL database), adds --companies companies with --donations bank-transfer payments
each in --year (the national-scale dataset of bench/scale_bench.py has 50 per company:
500,000 donations over 10,000 companies), then runs the ``yearly_statements`` job through
the worker's own Runner (jobs/runner.py), in this process, and prints how long numbering
the receipts and rendering took, companies per second, and what 10,000 companies would
take at that rate on one worker thread. A second run of the same job is timed as well: it
finds every statement current and renders nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import placefund.models  # noqa: F401
from foundation.settings import Settings
from jobs import records
from jobs.models import Job
from jobs.runner import Runner
from ledger import statements
from ledger.fund import documents, donations
from placefund.app import Database, job_services
from placefund.demo import load_demo
from placefund.migrate import upgrade
from tests import factories

NATIONAL = 10_000


def seed(database, companies: int, per_company: int, year: int) -> None:
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


def run_job(database, settings: Settings, year: int) -> tuple[float, dict, Job]:
    with database.session() as s, s.begin():
        job, _ = records.submit(s, "yearly_statements", params={"year": year})
    runner = Runner(database, job_services(settings))
    started = time.perf_counter()
    runner.run(job.id)
    elapsed = time.perf_counter() - started
    with database.session() as s:
        done = s.get(Job, job.id)
        s.expunge(done)
    return elapsed, json.loads(done.result or "{}"), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--donations", type=int, default=50, help="payments per company")
    parser.add_argument("--year", type=int, default=dt.date.today().year)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (else SQLite)")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="placefund-statements-")
    os.environ.setdefault("PLACEFUND_INSTANCE", folder)
    url = args.database_url or f"sqlite:///{folder}/placefund.db"
    database = Database(url)
    upgrade(database.engine)
    settings = Settings(database_url=url, secret_key="bench")
    t = time.perf_counter()
    load_demo(database, echo=lambda _m: None)
    seed(database, args.companies, args.donations, args.year)
    print(f"loaded the demo and {args.companies} companies x {args.donations} payments "
          f"in {time.perf_counter() - t:.1f} s ({url.split(':')[0]})")  # fmt: skip

    documents._pdf("<p>warm-up</p>")  # WeasyPrint's import (a second) is not a statement's
    elapsed, result, job = run_job(database, settings, args.year)
    if job.status != "succeeded":
        sys.exit(f"the job {job.status}: {job.error_code} {job.error_detail}")
    n = result["companies"]
    rate = result["rendered"] / elapsed
    with database.session() as s:
        kept = statements.stored_counts(s).get(args.year, 0)
    print(f"first run: {n} companies ({result['numbered']} receipts numbered), "
          f"{result['rendered']} rendered and kept ({kept} kept) in {elapsed:.1f} s")  # fmt: skip
    print(f"  {rate:.2f} companies/s -> {NATIONAL:,} companies: "
          f"{NATIONAL / rate / 60:.0f} min on one worker thread")  # fmt: skip
    again, result2, _job = run_job(database, settings, args.year)
    print(f"second run: {result2['already_current']} current, {result2['rendered']} rendered "
          f"in {again:.2f} s ({n / again:.0f} companies/s checked)")  # fmt: skip
    database.engine.dispose()


if __name__ == "__main__":
    main()
