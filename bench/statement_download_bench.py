"""One large company's yearly statement download: first (nothing kept), the job, kept.

    python bench/statement_download_bench.py

A fresh migrated SQLite database with one company that made 1,650 payments this year (the
issue-17 case: 8.3 s when the PDF was rendered in the request), signed in as its member
through the real app (Flask test client, no server): times the first download (the way to
the preparing page), a second click, the preparing page, the ``company_statement`` job run
in this process (tests.job_helpers.run_jobs: the worker's Runner), then the download of the
kept PDF twice.
"""

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import placefund.models  # noqa: F401
from foundation.settings import Settings
from identity import passwords
from ledger.fund import documents, donations
from placefund.app import Database, create_app
from placefund.migrate import upgrade
from tests import factories
from tests.admin.conftest import sign_in
from tests.job_helpers import run_jobs

PAYMENTS = 1_650
PASSWORD = "correct horse battery"


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - started) * 1000


def main() -> None:
    folder = tempfile.mkdtemp(prefix="placefund-download-")
    os.environ.setdefault("PLACEFUND_INSTANCE", folder)
    url = f"sqlite:///{folder}/placefund.db"
    database = Database(url)
    upgrade(database.engine)
    year = dt.date.today().year
    with database.session() as s, s.begin():
        company = factories.organisation(s, "company", name="大企業")
        member = factories.user(s, "company_member", company, email="big@example.tw")
        member.password_hash = passwords.hash_password(PASSWORD)
        for i in range(PAYMENTS):
            donations.record_donation(
                s,
                key=f"big:{i}",
                channel="bank_transfer",
                amount=100_000 + 100 * i,
                company_id=company.id,
                received_on=dt.date(year, 1 + i % 12, 1 + i % 28),
            )
        company_id = company.id
    app = create_app(Settings(database_url=url, secret_key="bench"), database=database)
    app.config["TESTING"] = True
    documents._pdf("<p>warm-up</p>")  # WeasyPrint's import is not a statement's
    client = app.test_client()
    sign_in(client, "big@example.tw", PASSWORD, second_factor=False)
    pdf_url = f"/console/organisations/{company_id}/statement-{year}.pdf"
    for label in ("first download", "second click"):
        r, ms = timed(lambda: client.get(pdf_url))
        print(f"{label}: {r.status_code} in {ms:.0f} ms -> {r.headers.get('Location')}")
    r, ms = timed(lambda: client.get(r.headers["Location"]))
    print(f"preparing page: {r.status_code} in {ms:.0f} ms")
    _, ms = timed(lambda: run_jobs(app))
    print(f"the company_statement job: {ms / 1000:.1f} s")
    for label in ("download once kept", "again"):
        r, ms = timed(lambda: client.get(pdf_url))
        print(f"{label}: {r.status_code} {r.mimetype} {len(r.data):,} bytes in {ms:.0f} ms")
    database.engine.dispose()


if __name__ == "__main__":
    main()
