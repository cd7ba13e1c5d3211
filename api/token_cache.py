"""Verified bearer tokens kept in each server process, forgotten the moment PostgreSQL says
anything they rely on changed.

Checking a token costs a query on every request: about a sixth of the CPU a donation
through the API costs. A process keeps what the check found (the token, its user and the
user's organisation) and reuses it while a background thread listens on the
``placefund_auth`` channel, which triggers notify when a token is revoked, a user or an
organisation changes, or any of them is deleted (migration 0008). Any notification empties
the whole cache; they are rare.

What keeps it safe:
- Nothing is cached unless the listener is connected and listening. Until it is, and
  whenever its connection fails, every request checks its token in the database as before.
- A lookup that began before an invalidation is not stored after it (a generation count),
  so a value read before a revocation cannot outlive the revocation's notification.
- A revocation reaches every process when it commits: the listener thread wakes on the
  socket, so a revoked token stops working within milliseconds everywhere, not after a TTL.
- A forked process (gunicorn workers) starts with an empty cache and its own listener.
- Touching ``last_used_at`` (once a minute per token) re-checks the token in the database.

SQLite (the embedded development database) has no notifications; there tokens are checked
on every request.
"""

from __future__ import annotations

import logging
import os
import threading

import psycopg
from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "placefund_auth"
#: A bound on memory; a full cache is emptied and refills from the requests that follow
MAX_ENTRIES = 10_000
#: Seconds before reconnecting a listener whose connection failed, doubling up to the max
RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
#: The listener checks its connection (and whether it should stop) this often when quiet
WAKE_SECONDS = 5.0


class TokenCache:
    """Token digest -> the values the token check found (see api.auth)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._entries: dict[str, list] = {}
        self.generation = 0
        self.listening = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: The listener's PostgreSQL backend, while it is connected
        self.backend_pid: int | None = None

    # The request side ------------------------------------------------------------------

    def get(self, digest: str) -> list | None:
        self._ensure_listener()
        if not self.listening:
            return None
        return self._entries.get(digest)

    def put(self, digest: str, values: list, generation: int) -> None:
        """Keep ``values``, looked up when the generation was ``generation``."""
        with self._lock:
            if not self.listening or generation != self.generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = values

    def forget(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    # The listener ----------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        if self._pid != os.getpid():
            # A forked child: the parent's thread did not come along, nor may its entries
            with self._lock:
                if self._pid != os.getpid():
                    self._reset()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._listen, name="placefund-token-cache", daemon=True
                    )
                    self._thread.start()

    def _connect(self) -> psycopg.Connection:
        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        return psycopg.connect(*args, **{**kwargs, "autocommit": True})

    def _listen(self) -> None:
        delay = RETRY_SECONDS
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                conn.execute(f"LISTEN {CHANNEL}")
                self.backend_pid = conn.info.backend_pid
                # Anything that changed while nobody listened is unknown: start empty
                self.invalidate()
                self.listening = True
                delay = RETRY_SECONDS
                while not self._stop.is_set():
                    for _notify in conn.notifies(timeout=WAKE_SECONDS):
                        self.invalidate()
                    # A quiet spell: make sure the connection is still there, since a
                    # listener cut off silently would otherwise trust the cache forever
                    conn.execute("SELECT 1")
            except Exception as exc:  # any failure means: stop trusting the cache
                log.warning("token cache listener: %s; checking every token meanwhile", exc)
            finally:
                self.listening = False
                self.invalidate()
                if conn is not None:
                    conn.close()
            self._stop.wait(delay)
            # A database that stays away is retried less and less often (and logged so)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    def close(self) -> None:
        """Stop the listener (tests; a process that exits needs nothing)."""
        self._stop.set()
        self.listening = False
        self.invalidate()
