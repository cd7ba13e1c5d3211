"""Verified bearer tokens kept in each server process, forgotten the moment PostgreSQL says
anything they rely on changed.

Checking a token costs a query on every request: about a sixth of the CPU a donation
through the API costs. A process keeps what the check found (the token, its user and the
user's organisation) and reuses it while a background thread listens on the
``placefund_auth`` channel, which triggers notify when a token is revoked, a user or an
organisation changes, or any of them is deleted (migration 0008). Any notification empties
the whole cache; they are rare.

What keeps it safe:
- Nothing is cached unless the listener is connected, registered and listening. Until it
  is, and whenever its connection fails, every request checks its token in the database.
- A lookup that began before an invalidation is not stored after it (a generation count),
  so a value read before a revocation cannot outlive the revocation's notification.
- A revocation is in force everywhere when the call that made it returns: the changing
  process waits until every live listener has acknowledged it (foundation/auth_sync.py).
  The listener acknowledges only after emptying the cache.
- The cache is trusted only within a lease (``auth_sync.LEASE_SECONDS``) of the listener's
  last round trip to the database, counted from when it was sent and renewed only after
  every notification that came with the answer was handled. A listener that is cut off,
  stalled or slow therefore stops the cache being used before a change it has not heard of
  can be waited for no longer; one request costs a clock reading more for this.
- A forked process (gunicorn workers) starts with an empty cache and its own listener.
- Touching ``last_used_at`` (once a minute per token) re-checks the token in the database.

SQLite (the embedded development database) has no notifications; there tokens are checked
on every request.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from time import monotonic

import psycopg
from sqlalchemy import Engine

from foundation import auth_sync

log = logging.getLogger(__name__)

CHANNEL = auth_sync.CHANNEL
#: A bound on memory; a full cache is emptied and refills from the requests that follow
MAX_ENTRIES = 10_000
#: Seconds before reconnecting a listener whose connection failed, doubling up to the max
RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
#: The listener renews its lease (and checks whether it should stop) this often when quiet
WAKE_SECONDS = auth_sync.HEARTBEAT_SECONDS

REGISTER_SQL = (
    # Rows of listeners whose backends are gone go first; then this one, having heard every
    # ping drawn so far (those were committed before its LISTEN or will be delivered to it)
    "WITH gone AS (DELETE FROM auth_listeners l WHERE NOT EXISTS (SELECT 1 FROM"
    " pg_stat_activity a WHERE a.pid = l.backend_pid AND a.backend_start = l.backend_start))"
    " INSERT INTO auth_listeners (backend_pid, backend_start, acked, host, process_id)"
    " SELECT pg_backend_pid(), a.backend_start,"
    " (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM auth_sync_seq), %s, %s"
    " FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()"
    " ON CONFLICT (backend_pid) DO UPDATE SET backend_start = EXCLUDED.backend_start,"
    " acked = EXCLUDED.acked, host = EXCLUDED.host, process_id = EXCLUDED.process_id,"
    " registered_at = now()"
    " RETURNING current_schema()"
)
ACK_SQL = (
    "WITH acked AS (UPDATE auth_listeners SET acked = greatest(acked, %(n)s)"
    " WHERE backend_pid = pg_backend_pid() RETURNING 1)"
    f" SELECT pg_notify('{auth_sync.ACK_CHANNEL}', %(n)s::text) FROM acked"
)


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
        #: When (time.monotonic) the listener last sent a round trip whose answer, and every
        #: notification before it, it has handled; the cache is trusted for a lease after it
        self.confirmed_at = float("-inf")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: The listener's PostgreSQL backend, while it is connected
        self.backend_pid: int | None = None

    # The request side ------------------------------------------------------------------

    def get(self, digest: str) -> list | None:
        self._ensure_listener()
        if not self.listening or monotonic() - self.confirmed_at > auth_sync.LEASE_SECONDS:
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
        # A connection made as the engine makes them (its connect_args too, such as a
        # search_path: the listener registers in the app's schema), then kept out of the pool
        pooled = self.engine.raw_connection()
        conn = pooled.driver_connection
        pooled.detach()
        try:
            conn.autocommit = True
        except BaseException:
            conn.close()
            raise
        return conn

    def _listen(self) -> None:
        delay = RETRY_SECONDS
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                conn.execute(f"LISTEN {CHANNEL}")
                # Acknowledgements need not wait for the disk: after a crash every listener
                # reconnects and registers afresh
                conn.execute("SET synchronous_commit = off")
                schema = conn.execute(
                    REGISTER_SQL, (socket.gethostname()[:200], os.getpid())
                ).fetchone()[0]
                self.backend_pid = conn.info.backend_pid
                # Anything that changed while nobody listened is unknown: start empty
                confirmed = monotonic()
                self.invalidate()
                self.confirmed_at = confirmed
                self.listening = True
                delay = RETRY_SECONDS
                self._serve(conn, schema)
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

    def _serve(self, conn: psycopg.Connection, schema: str) -> None:
        """Hear notifications, acknowledge pings, renew the lease; until stopped or failed."""
        ack = None
        while not self._stop.is_set():
            # A ping to acknowledge goes out at once; otherwise wait for news or the heartbeat
            for notify in conn.notifies(timeout=0 if ack else WAKE_SECONDS, stop_after=1):
                ack = self._hear(notify.payload, schema, ack)
            sent = monotonic()
            if ack is not None:
                # Everything up to the ping was handled above: the cache holds nothing older
                conn.execute(ACK_SQL, {"n": ack})
                ack = None
            else:
                # A quiet spell: make sure the connection is still there, since a listener
                # cut off silently would otherwise trust the cache forever
                conn.execute("SELECT 1")
            # Notifications PostgreSQL sent before this answer are handled before the lease
            # is renewed from the moment the round trip was sent
            for notify in conn.notifies(timeout=0):
                ack = self._hear(notify.payload, schema, ack)
            self.confirmed_at = sent

    def _hear(self, payload: str, schema: str, ack: int | None) -> int | None:
        """Handle one notification; the highest ping of this schema still to acknowledge."""
        ping = auth_sync.parse_ping(payload)
        if ping is None:
            self.invalidate()
            return ack
        if ping[0] != schema:
            return ack  # another schema's (tests share one database): nothing of ours
        return ping[1] if ack is None else max(ack, ping[1])

    def close(self) -> None:
        """Stop the listener (tests; a process that exits needs nothing)."""
        self._stop.set()
        self.listening = False
        self.invalidate()
