"""gunicorn, embedded: ``placefund serve`` runs the app in a production WSGI server.

Logs are JSON lines on stderr (foundation/logs.py): one access line per request (request
id, method, path, status, duration, user id) from the app, gunicorn's own messages, and
whatever any logger writes inside a request carries its request id (web/logs.py). Headers,
query strings and bodies are never logged, so tokens and secrets cannot leak into logs.
"""

from __future__ import annotations

import copy
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from foundation import metrics
from foundation.logs import JsonFormatter
from foundation.settings import Settings
from placefund.app import create_app
from web.last_resort import install_in_gunicorn

LOGCONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter, "fields": {"component": "web"}}},
    "filters": {"request_id": {"()": "web.logs.RequestId"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
}


class _GunicornLogger(Logger):
    """gunicorn's logger without its access line: the app writes its own (JSON, with the
    request id and user, without the query string). gunicorn would otherwise format every
    request's access atoms, only for its WARNING-level access logger to drop them."""

    def access(self, resp, req, environ, request_time) -> None:
        return None


#: The sealer process is started again after this many seconds when it exits, doubling up
#: to the maximum while it keeps exiting within a minute
SEALER_RESTART = (1.0, 60.0)


def _start_sealer(arbiter) -> None:
    """Seal new entries into the hash chain from a supervised companion process.

    A separate process (not a thread in the arbiter) so forked workers never inherit its
    database connections. The sealer rides out database errors itself (ledger.books.chain's
    ``seal_continuously``); should it exit anyway (killed, out of memory), a thread of the
    arbiter starts it again with backoff, for as long as we serve. Several servers sharing
    one PostgreSQL each run one; the sealer's advisory lock lets one work at a time.
    """
    arbiter.sealer = None
    arbiter.sealer_stopping = threading.Event()
    thread = threading.Thread(target=_supervise_sealer, args=(arbiter,), daemon=True)
    thread.start()


def _supervise_sealer(arbiter) -> None:
    log = logging.getLogger("placefund.sealer")
    delay, longest = SEALER_RESTART
    while not arbiter.sealer_stopping.is_set():
        started = time.monotonic()
        arbiter.sealer = subprocess.Popen(
            [sys.executable, "-m", "placefund.cli", "ledger", "seal", "--follow"]
        )
        code = arbiter.sealer.wait()
        if arbiter.sealer_stopping.is_set():
            return
        delay = SEALER_RESTART[0] if time.monotonic() - started > 60 else min(delay * 2, longest)
        log.error("the sealer exited; starting it again", extra={"code": code, "in": delay})
        arbiter.sealer_stopping.wait(delay)


def _stop_sealer(arbiter) -> None:
    stopping = getattr(arbiter, "sealer_stopping", None)
    if stopping is not None:
        stopping.set()
    sealer = getattr(arbiter, "sealer", None)
    if sealer is not None and sealer.poll() is None:
        sealer.terminate()
        try:
            sealer.wait(timeout=5)
        except subprocess.TimeoutExpired:
            sealer.kill()


class _Server(BaseApplication):
    def __init__(self, options: dict[str, object], settings: Settings | None = None):
        self.options = options
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # The settings `placefund serve` read and checked once, before the workers fork
        return create_app(self.settings)


def _metrics_directory(settings: Settings | None) -> Path:
    """A fresh directory for this server's metric files (see foundation/metrics.py): in the
    instance folder, or the system's temporary folder when that cannot be written. Fresh
    each start, so counts begin at zero with the server and two servers sharing an instance
    folder never add up each other's files."""
    if settings is not None:
        try:
            settings.instance.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix="metrics-", dir=settings.instance))
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix="placefund-metrics-"))


def _worker_exited(_arbiter, worker) -> None:
    # Its live gauges go; its counters and histograms stay in the sums (Prometheus counters
    # must not go down when a worker is replaced)
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def run(
    *,
    host: str,
    port: int,
    workers: int = 2,
    threads: int = 2,
    access_log: bool = True,
    log_level: str = "info",
    settings: Settings | None = None,
) -> None:
    directory = _metrics_directory(settings)
    # Before the workers fork and before any metric holds a value
    metrics.use_directory(directory)
    # Python's warnings (deprecations, SQLAlchemy's) as JSON lines too, in every worker
    logging.captureWarnings(True)
    config = copy.deepcopy(LOGCONFIG)
    if not access_log:
        config["loggers"]["placefund.access"] = {"level": "WARNING"}
    server = _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": None,
            "logger_class": _GunicornLogger,
            "logconfig_dict": config,
            "loglevel": log_level,
            "timeout": 60,
            "keepalive": 5,
            # Request line and header limits; the body limit is the app's MAX_CONTENT_LENGTH.
            # A request over them is refused by gunicorn (414, 431) with a problem document.
            "limit_request_line": 4094,
            "limit_request_fields": 100,
            "limit_request_field_size": 8190,
            "forwarded_allow_ips": "127.0.0.1",
            "when_ready": _start_sealer,
            # gunicorn's own error pages (414, 431, 400, a 500 while sending) as problem
            # documents, like every other answer under /api and /webhooks
            "post_worker_init": install_in_gunicorn,
            "on_exit": _stop_sealer,
            "child_exit": _worker_exited,
        },
        settings,
    )
    try:
        server.run()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
