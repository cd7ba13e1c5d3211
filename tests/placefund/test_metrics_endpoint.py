"""`placefund worker --metrics-port`: a real worker process imports a bank statement whose
line pays a pledge, and its own /metrics then counts the donation, its postings and the job;
with PLACEFUND_METRICS_TOKEN set only the token's bearer reads it; a wrong option is one
line naming it and exit status 2, before anything starts."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import requests
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from jobs.kinds import bank_import
from jobs.models import Job
from jobs.queue import Queue
from ledger.books.models import Entry, Posting
from ledger.fund import pledges
from placefund.cli import main
from tests import factories
from tests.processes import database_url, free_port, start_worker, wait_for

TOKEN = "worker-metrics-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found, name: str, **labels) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request):
    """SQLite, and PostgreSQL (where a donation's last posting commits in its own round
    trip, and is counted at once)."""
    return request.getfixturevalue("database" if request.param == "sqlite" else "pg")


def url_of(database) -> str:
    if database.engine.dialect.name == "sqlite":
        return f"sqlite:///{database.engine.url.database}"
    return database_url(database, "metrics-endpoint-test")


def paying_statement(database) -> tuple[int, bytes]:
    """A manager, and a statement of one transfer to a pledge's virtual account: its import
    records a bank-transfer donation (the bank rules' virtual-account match)."""
    with database.session() as s, s.begin():
        manager = factories.manager(s, "NDC")
        company = factories.organisation(s, "company")
        pledge = pledges.record_pledge(
            s, key="p", company_id=company.id, amount=1_000_000, pledged_on=dt.date(2026, 11, 1)
        )
        va, manager_id = pledge.virtual_account, manager.id
    csv = (
        "date,description,amount,balance\n"
        f'2026-11-02,跨行轉入 {va[:4]}-{va[4:8]}-{va[8:]} 甲公司,"10,000","10,000"\n'
    )
    return manager_id, csv.encode()


def queue_import(database, data: bytes, actor_id: int) -> int:
    with database.session() as s, s.begin():
        job, _ = bank_import.submit(
            s, data=data, filename="november.csv", mapping="generic", encoding=None,
            skip_bad_lines=False, actor_id=actor_id,
        )  # fmt: skip
        job_id = job.id
    queue = Queue(database)
    queue.enqueue(job_id)
    queue.close()
    return job_id


def donation_postings(database) -> int:
    with database.session() as s:
        return s.scalar(
            select(func.count(Posting.id))
            .join(Entry, Posting.entry_id == Entry.id)
            .where(Entry.kind == "donation")
        )


def job_status(database, job_id: int) -> str:
    with database.session() as s:
        return s.get(Job, job_id).status


def scrape(port: int, **headers) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=10)


def answering(worker, port: int, **headers) -> requests.Response:
    def answers():
        assert worker.alive(), worker.tail()
        try:
            return [scrape(port, **headers)]  # a list: a 401 response is false
        except requests.ConnectionError:
            return None

    return wait_for(answers, "the worker's /metrics to answer", seconds=60)[0]


def test_the_worker_counts_the_donations_postings_and_jobs_it_commits(db, tmp_path):
    database = db
    manager_id, data = paying_statement(database)
    before = donation_postings(database)  # none: the pledge is no posting
    job_id = queue_import(database, data, manager_id)
    port = free_port()
    worker = start_worker(
        url_of(database), tmp_path / "worker.log",
        "--no-seal", "--no-schedule", "--threads", "1", "--metrics-port", str(port),
    )  # fmt: skip
    try:
        answering(worker, port)
        wait_for(lambda: job_status(database, job_id) in ("succeeded", "failed"), "the import")
        assert job_status(database, job_id) == "succeeded", worker.tail()

        def thread_freed():
            # The outcome is committed a moment before the thread counts itself idle again
            answer = scrape(port)
            busy = value(samples(answer.text), "placefund_worker_threads", state="busy")
            return busy == 0 and answer

        answer = wait_for(thread_freed, "the job's thread to be idle again", seconds=30)
    finally:
        worker.stop()
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(answer.text)
    assert value(found, "placefund_donations_recorded_total", channel="bank_transfer") == 1
    postings = donation_postings(database) - before
    assert postings >= 2  # a donation's entry has two legs at least
    assert value(found, "placefund_postings_total", operation="donation") == postings
    job = dict(kind="bank_import", outcome="succeeded")
    assert value(found, "placefund_jobs_run_total", **job) == 1
    assert value(found, "placefund_job_duration_seconds_count", kind="bank_import") == 1
    # The job done, its thread waits for the next one
    assert value(found, "placefund_worker_threads", state="idle") == 1
    assert value(found, "placefund_worker_threads", state="busy") == 0


def test_with_a_token_set_only_its_bearer_reads_the_workers_metrics(database, tmp_path):
    port = free_port()
    worker = start_worker(
        url_of(database), tmp_path / "worker.log",
        "--no-seal", "--no-schedule", "--threads", "1", "--metrics-port", str(port),
        env={"PLACEFUND_METRICS_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        refused = answering(worker, port)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        for wrong in (f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}"):
            assert scrape(port, Authorization=wrong).status_code == 401
        read = scrape(port, Authorization=f"Bearer {TOKEN}")
        assert read.status_code == 200
        families = {f.name for f in text_string_to_metric_families(read.text)}
        assert {"placefund_donations_recorded", "placefund_postings", "placefund_jobs_run"} <= (
            families
        )
        assert TOKEN not in refused.text + read.text
        # Nothing but /metrics, whoever asks
        elsewhere = requests.get(
            f"http://127.0.0.1:{port}/", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert elsewhere.status_code == 404
    finally:
        worker.stop()


@pytest.fixture
def port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    "args, env, said",
    [
        (["--metrics-port", "0"], {}, "'--metrics-port': 0 is not in the range 1<=x<=65535"),
        (["--metrics-port", "65536"], {}, "'--metrics-port': 65536 is not in the range"),
        (["--metrics-port", "x"], {}, "'--metrics-port': 'x' is not a valid integer"),
        (["--metrics-port", "IN_USE"], {}, "--metrics-port: port IN_USE on 127.0.0.1 is in use"),
        (["--metrics-host", "127.0.0.1"], {}, "--metrics-host: only has a meaning with --metri"),
        (
            ["--metrics-port", "9", "--metrics-host", "0.0.0.0"],
            {},
            "--metrics-host: 0.0.0.0 is not this machine's loopback address: set "
            "PLACEFUND_METRICS_TOKEN",
        ),
        (
            ["--metrics-port", "9", "--metrics-host", "no-such-host.invalid"],
            {"PLACEFUND_METRICS_TOKEN": TOKEN},
            "--metrics-host: no-such-host.invalid is neither an address nor a name that resol",
        ),
    ],
)
def test_a_wrong_metrics_option_is_one_line_naming_it_and_exit_status_2(
    args, env, said, port_in_use, monkeypatch, tmp_path
):
    # No database at all: the options are checked before the worker needs one
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-made.db'}")
    for name, setting in env.items():
        monkeypatch.setenv(name, setting)
    args = [str(port_in_use) if arg == "IN_USE" else arg for arg in args]
    result = CliRunner().invoke(main, ["worker", *args])
    assert result.exit_code == 2, result.output
    said = said.replace("IN_USE", str(port_in_use))
    assert f"Error: Invalid value for {said}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "never-made.db").exists()
