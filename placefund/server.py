"""gunicorn, embedded: ``placefund serve`` runs the app in a production WSGI server.

Logs are JSON lines on stderr (foundation/logs.py): one access line per request (request
id, method, path, status, duration, user id) from the app, gunicorn's own messages, and
whatever any logger writes inside a request carries its request id (web/logs.py). Headers,
query strings and bodies are never logged, so tokens and secrets cannot leak into logs.

The web processes only serve: background jobs and the sealing of the hash chain are the
worker's (``placefund worker``, jobs/worker.py), a process type of its own in production.
For one machine, ``placefund serve --with-worker`` (what ``make run`` starts) also keeps a
worker running as its child, started again with backoff should it exit.
"""

from __future__ import annotations

import copy
import logging
import os
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
from foundation.settings import Settings, worker_environment
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


#: A supervised child process is started again after this many seconds when it exits,
#: doubling up to the maximum while it keeps exiting within a minute
RESTART = (1.0, 60.0)
#: How long a stopping server waits for its worker child: the worker lets its running jobs
#: finish first (jobs.worker.SHUTDOWN_SECONDS), then the child is killed
CHILD_STOP_SECONDS = 70.0


#: Held while a child process is being started, and by every os.fork() (gunicorn forking a
#: worker) for the length of the fork. Without it, a gunicorn worker forked while
#: ``subprocess.Popen`` waits on its exec-status pipe inherits that pipe's write end and
#: keeps it open for its whole life: Popen never returns, and the child is never watched
#: (nor started again). Popen forks in C, outside these hooks, so it cannot deadlock.
_STARTING = threading.Lock()
os.register_at_fork(
    before=_STARTING.acquire,
    after_in_parent=_STARTING.release,
    after_in_child=_STARTING.release,
)


class Supervisor:
    """Keeps one child process running for as long as the server serves: started again
    with backoff whenever it exits (killed, out of memory, the database away at start-up).

    ``placefund serve --with-worker`` supervises ``placefund worker`` this way, so one
    command runs a whole single-machine installation (``make run``). A separate process,
    not a thread of the arbiter, so gunicorn's forked workers never inherit its database
    connections, and so it is the very process type production runs on its own.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.env = env
        self.child: subprocess.Popen | None = None
        self.starts = 0
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.getLogger(f"placefund.{name}")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name=self.name, daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        delay, longest = RESTART
        while not self.stopping.is_set():
            started = time.monotonic()
            with _STARTING:
                # A session of its own: Ctrl-C in a terminal (SIGINT to the foreground group)
                # reaches the server alone, which then stops the child with SIGTERM, the
                # signal that lets a worker finish its running jobs
                self.child = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
            self.starts += 1
            # 0 when gunicorn's arbiter reaped it first (it waits for any child on SIGCHLD)
            code = self.child.wait()
            # Its live gauges (the worker's threads) leave the server's sums; its counters
            # stay. gunicorn's child_exit hook only hears of gunicorn's own workers.
            metrics.process_ended(self.child.pid)
            if self.stopping.is_set():
                return
            delay = RESTART[0] if time.monotonic() - started > 60 else min(delay * 2, longest)
            self._log.error(
                f"the {self.name} exited; starting it again", extra={"code": code, "in": delay}
            )
            self.stopping.wait(delay)

    def stop(self, timeout: float = CHILD_STOP_SECONDS) -> None:
        """Stop supervising and stop the child: SIGTERM (a worker finishes its running jobs),
        then SIGKILL after ``timeout`` seconds."""
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)


def worker_supervisor() -> Supervisor:
    """``placefund worker`` as this server's child, with this server's environment, the
    metric files' directory included: the child keeps its counts in files there like
    gunicorn's workers, so the server's /metrics sums the donations, postings and jobs the
    child commits with the web processes' (one directory, fresh at each start of the
    server; a child started again writes new files under its new pid, and the old ones'
    counters stay in the sums). It stops when this server dies, however it dies
    (``--parent-pid``)."""
    env = worker_environment()
    argv = [sys.executable, "-m", "placefund.cli", "worker", "--parent-pid", str(os.getpid())]
    return Supervisor("worker", argv, env=env)


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
    metrics.process_ended(worker.pid)


def run(
    *,
    host: str,
    port: int,
    workers: int = 2,
    threads: int = 2,
    access_log: bool = True,
    log_level: str = "info",
    settings: Settings | None = None,
    with_worker: bool = False,
) -> None:
    """Serve until stopped; with ``with_worker``, also run ``placefund worker`` as a
    supervised child (started once the server listens, stopped when it stops)."""
    directory = _metrics_directory(settings)
    # Before the workers fork and before any metric holds a value; before the worker child's
    # environment is taken too, so that it writes into the same directory
    metrics.use_directory(directory)
    children = [worker_supervisor()] if with_worker else []

    def start_children(_arbiter) -> None:
        for child in children:
            child.start()

    def stop_children(_arbiter) -> None:
        for child in children:
            child.stop()

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
            "when_ready": start_children,
            # gunicorn's own error pages (414, 431, 400, a 500 while sending) as problem
            # documents, like every other answer under /api and /webhooks
            "post_worker_init": install_in_gunicorn,
            "on_exit": stop_children,
            "child_exit": _worker_exited,
        },
        settings,
    )
    try:
        server.run()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
