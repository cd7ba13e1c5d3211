"""`placefund serve` with two workers: /metrics sums the counts of every worker (multiprocess
mode), whichever worker answers the scrape, keeps the counts of a worker that was killed and
replaced, and the server removes its metric files when it stops. With ``--with-worker`` the
sums include what the worker child commits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from placefund.app import Database
from placefund.migrate import upgrade
from tests.localstripe_server import free_port
from tests.placefund.test_server import PLACEFUND, ROOT, _get, _stop

COUNT = "placefund_http_request_duration_seconds_count"
HEALTHZ = (("method", "GET"), ("route", "/healthz"), ("status", "2xx"))


def _healthz_count(port: int) -> float:
    status, _, body = _get(port, "/metrics")
    assert status == 200, body[:300]
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == COUNT and tuple(sorted(sample.labels.items())) == HEALTHZ:
                return sample.value
    return 0.0


def _pids_that_answered(log, path: str) -> set[int]:
    pids = set()
    text = log.read_text(encoding="utf-8")
    for raw in text[: text.rfind("\n") + 1].splitlines():  # whole lines only
        if raw.startswith("Warning ("):  # what `placefund doctor` would say, before serving
            continue
        line = json.loads(raw)
        if line.get("logger") == "placefund.access" and line.get("path") == path:
            pids.add(line["pid"])
    return pids


def test_two_workers_counts_are_summed_and_outlive_a_killed_worker(tmp_path):
    instance = tmp_path / "instance"
    database = Database(f"sqlite:///{tmp_path / 'served.db'}")
    upgrade(database.engine)
    database.engine.dispose()
    port, log = free_port(), tmp_path / "stderr.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "SECRET_KEY": "served-test",
        "PLACEFUND_INSTANCE": str(instance),
        "PYTHONPATH": str(ROOT),
    }
    argv = [str(PLACEFUND), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*argv, "--workers", "2", "--threads", "1"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        sent = 0
        for _ in range(300):  # the server starts (30 s at most)
            try:
                if _get(port, "/healthz")[0] == 200:
                    sent += 1
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        # Each request on a new connection: the kernel hands it to either worker. Until
        # both have answered some (the access log's pid says which), and at least 20.
        while sent < 20 or len(_pids_that_answered(log, "/healthz")) < 2:
            assert _get(port, "/healthz")[0] == 200
            sent += 1
            assert sent < 500, "one worker answered every request"
            if sent >= 20:
                time.sleep(0.05)  # the access lines reach the file
        workers = _pids_that_answered(log, "/healthz")
        assert len(workers) == 2
        # Whichever worker answers the scrape, it counts every worker's requests
        assert {_healthz_count(port) for _ in range(6)} == {sent}
        assert len(_pids_that_answered(log, "/metrics")) >= 1
        metric_dirs = list(instance.glob("metrics-*"))
        assert len(metric_dirs) == 1

        # A worker killed and replaced: its counts stay in the sums
        os.kill(workers.pop(), signal.SIGKILL)
        for _ in range(100):
            if _get(port, "/healthz")[0] == 200:
                sent += 1
            time.sleep(0.05)
            if sent >= 30:
                break
        assert _healthz_count(port) == sent
    finally:
        _stop(process)
    assert not list(instance.glob("metrics-*")), "the metric files outlived the server"


def _worker_pids(log) -> list[int]:
    """The pids of the worker children that started, in order (their "worker started")."""
    pids = []
    text = log.read_text(encoding="utf-8")
    for raw in text[: text.rfind("\n") + 1].splitlines():
        if raw.startswith("{"):
            line = json.loads(raw)
            if line.get("logger") == "placefund.worker" and line.get("msg") == "worker started":
                pids.append(line["pid"])
    return pids


def test_with_worker_the_servers_metrics_count_what_its_worker_child_commits(tmp_path):
    """`make run`: the worker child writes into the server's metric directory, so the web's
    /metrics counts the donation a bank import job records; a child killed and started
    again leaves its counts in the sums and its threads out of them."""
    from tests.placefund.test_metrics_endpoint import (
        job_status,
        paying_statement,
        queue_import,
        samples,
        value,
    )
    from tests.processes import Server, wait_for

    instance = tmp_path / "instance"
    url = f"sqlite:///{instance / 'placefund.db'}"
    database = Database(url)
    upgrade(database.engine)
    manager_id, data = paying_statement(database)
    job_id = queue_import(database, data, manager_id)
    log = tmp_path / "serve.log"
    env = {"PLACEFUND_INSTANCE": str(instance), "SECRET_KEY": "served-test"}
    server = Server(url, log, env, workers=2, with_worker=True)

    def scrape() -> dict:
        answer = requests.get(f"{server.base}/metrics", timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        return samples(answer.text)

    donations = ("placefund_donations_recorded_total", {"channel": "bank_transfer"})
    imported = ("placefund_jobs_run_total", {"kind": "bank_import", "outcome": "succeeded"})
    try:
        wait_for(lambda: job_status(database, job_id) == "succeeded", "the import job")

        def thread_freed():
            # The outcome is committed a moment before the thread counts itself idle again
            found = scrape()
            return value(found, "placefund_worker_threads", state="busy") == 0 and found

        found = wait_for(thread_freed, "the job's thread to be idle again", seconds=30)
        assert value(found, donations[0], **donations[1]) == 1, server.tail()
        assert value(found, imported[0], **imported[1]) == 1
        assert value(found, "placefund_postings_total", operation="donation") >= 2
        # The child's two threads, idle (a livesum over the live processes)
        assert value(found, "placefund_worker_threads", state="idle") == 2

        # The child dies outright and the server starts another
        (first,) = wait_for(lambda: _worker_pids(log), "the first worker's start line")
        os.kill(first, signal.SIGKILL)
        pids = wait_for(lambda: len(_worker_pids(log)) == 2 and _worker_pids(log), "a new one")
        assert pids[1] != first
        found = scrape()
        # Its counts stay; its threads went with it (not 2 + 2)
        assert value(found, donations[0], **donations[1]) == 1
        assert value(found, imported[0], **imported[1]) == 1
        assert value(found, "placefund_worker_threads", state="idle") == 2
    finally:
        server.stop()
        database.engine.dispose()
    assert not list(instance.glob("metrics-*")), "the metric files outlived the server"
