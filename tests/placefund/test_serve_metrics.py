"""`placefund serve` with two workers: /metrics sums the counts of every worker (multiprocess
mode), whichever worker answers the scrape, keeps the counts of a worker that was killed and
replaced, and the server removes its metric files when it stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

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
