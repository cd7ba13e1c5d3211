"""A change to who may do what is in force in every server process before the call that made
it returns (PostgreSQL).

Each server process keeps the bearer tokens it has verified (api/token_cache.py) and forgets
them all when PostgreSQL notifies ``placefund_auth`` (triggers of migration 0008: a token
revoked, any change to a user or an organisation). The notification reaches the other
processes a few milliseconds after the commit, asynchronously: without more, the revoking
request could return, and the client's next request reach a worker that had not yet heard
and still accepted the revoked token. So the transaction that made such a change waits,
after its commit, until every live listener has processed it:

1. Every listener registers in ``auth_listeners`` (its backend pid and start time), with
   the highest sync number it has processed (``acked``).
2. After the commit, the changing process takes a fresh number from ``auth_sync_seq`` and
   notifies ``placefund_auth`` with it (a *ping*) in a transaction of its own. PostgreSQL
   delivers notifications in commit order, and the number was drawn after the change
   committed, so a listener that has processed a ping numbered at least this one has
   processed the change before it (and any ping drawn later was committed later still).
3. Each listener, having emptied its cache for everything before the ping, records the
   number in its row and notifies ``placefund_auth_ack``; the waiting process listens there
   and returns once no live listener is behind.

Who counts as live: a registered backend still connected (pid and start time found in
``pg_stat_activity``) that has been active within the lease (below). A listener that died
or never registered blocks nothing: a process whose listener is not connected and
registered serves no token from its cache (it checks every token in the database).

The wait is bounded (``WAIT_SECONDS``). A listener that has not answered by then cannot be
serving from its cache any more: a process trusts its cache only within ``LEASE_SECONDS``
of its listener's last round trip to the database, which it makes at least every
``HEARTBEAT_SECONDS`` and counts from the moment it sent it, after handling every
notification delivered with the answer (PostgreSQL sends pending notifications before a
query's answer). A round trip sent after the ping committed brings the ping and the change
with it, so a listener that has not acknowledged within the wait last confirmed before the
ping, and ``WAIT_SECONDS`` exceeds the lease. Should the waiting itself fail (the database
went away after the commit), the change waits out the lease instead. Either way, when the
call returns, no process accepts what the change took away.

Changes are found by the ORM: an update or delete of a user or an organisation, a token
whose ``revoked_at``, ``token_hash`` or ``user_id`` changed, or a deleted token, whether
flushed from objects or run as an ORM ``update()``/``delete()``. Sign-in bookkeeping (the
failure count, the last two-factor step) is not waited for: it takes nothing away. SQL
written by hand (``text()``) is not seen; code that revokes that way calls
``wait_for_listeners`` after its commit.

SQLite has no token cache (every request checks its token), so nothing waits there.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import Session, object_session, sessionmaker

log = logging.getLogger(__name__)

#: Notified by the triggers of migration 0008, and by the pings below
CHANNEL = "placefund_auth"
#: Listeners notify here when they have acknowledged a ping
ACK_CHANNEL = "placefund_auth_ack"
#: A ping's payload: ``sync <schema> <number>`` (the schema, so that several schemas in one
#: database, as in the test suite, never take each other's numbers for their own)
PING_PREFIX = "sync "
#: A listener makes a round trip at least this often when nothing is heard
HEARTBEAT_SECONDS = 1.0
#: A process trusts its cache only this long after its listener's last round trip
LEASE_SECONDS = 3.0
#: The longest a change waits for listeners; more than the lease (see above)
WAIT_SECONDS = LEASE_SECONDS + 1.0
#: How often the waiting process looks again if no acknowledgement wakes it
POLL_SECONDS = 0.05

#: The tables whose changes the cache relies on, and for each, columns whose change takes
#: nothing away (None: every column matters). api_tokens: only these columns notify.
_WATCHED = {"users", "organisations", "api_tokens"}
_USER_BOOKKEEPING = frozenset({"failed_logins", "totp_last_step"})
_TOKEN_COLUMNS = ("revoked_at", "token_hash", "user_id")
#: session.info key: this transaction changed something the caches rely on
PENDING = "placefund.auth_changed"
#: An execution option for an ORM update the triggers ignore (touching last_used_at)
QUIET = "placefund_auth_quiet"

#: The ping needs no durable commit (a notification is delivered when its transaction
#: commits, flushed or not; after a crash every listener reconnects and starts empty)
PING_SQL = (
    f"SELECT n, pg_notify('{CHANNEL}', '{PING_PREFIX}' || current_schema() || ' ' || n),"
    " set_config('synchronous_commit', 'off', true)"
    " FROM (SELECT nextval('auth_sync_seq') AS n) s"
)
#: Live listeners that have not acknowledged %(n)s yet
BEHIND_SQL = (
    "SELECT l.backend_pid FROM auth_listeners l JOIN pg_stat_activity a"
    " ON a.pid = l.backend_pid AND a.backend_start = l.backend_start"
    " WHERE l.acked < %(n)s"
    " AND a.state_change > clock_timestamp() - make_interval(secs => %(lease)s)"
)


def ping_payload(schema: str, number: int) -> str:
    return f"{PING_PREFIX}{schema} {number}"


def parse_ping(payload: str) -> tuple[str, int] | None:
    """(schema, number) of a ping; None for any other notification (a trigger's)."""
    if not payload.startswith(PING_PREFIX):
        return None
    schema, _, number = payload[len(PING_PREFIX) :].rpartition(" ")
    return (schema, int(number)) if number.isdigit() else None


def wait_for_listeners(engine: Engine, *, timeout: float = WAIT_SECONDS) -> bool:
    """After a committed change: return once every live listener has processed it.

    True when all acknowledged; False when the bound ran out (stragglers are named in the
    log; their leases have run out by then, so they serve nothing from their caches). The
    bound counts from the ping's commit; one shorter than the lease (tests) voids that.
    """
    if engine.dialect.name != "postgresql":
        return True
    started = time.monotonic()
    try:
        return _wait(engine, timeout)
    except Exception as exc:
        # The change is committed but nobody can be asked: wait the lease out, after which
        # a process that has not heard of the change no longer trusts its cache
        log.warning("auth sync: %s; waiting the cache lease out instead", exc)
        time.sleep(max(0.0, started + LEASE_SECONDS - time.monotonic()))
        return False


def _wait(engine: Engine, timeout: float) -> bool:
    import psycopg.errors

    with engine.connect() as sa_conn:
        sa_conn = sa_conn.execution_options(isolation_level="AUTOCOMMIT")
        conn = sa_conn.connection.driver_connection
        try:
            # Listening before the ping and the first look, so no acknowledgement is missed
            conn.execute(f"LISTEN {ACK_CHANNEL}")
            try:
                number = conn.execute(PING_SQL).fetchone()[0]
            except psycopg.errors.UndefinedTable:
                # Not migrated to 0014: no listener can be registered, so none caches
                return True
            deadline = time.monotonic() + timeout
            params = {"n": number, "lease": LEASE_SECONDS}
            while True:
                behind = [row[0] for row in conn.execute(BEHIND_SQL, params)]
                if not behind:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning(
                        "auth sync: listeners %s did not acknowledge change %s in time; "
                        "their cache leases have run out",
                        behind,
                        number,
                    )
                    return False
                for _ack in conn.notifies(timeout=min(remaining, POLL_SECONDS), stop_after=1):
                    pass
        finally:
            conn.execute(f"UNLISTEN {ACK_CHANNEL}")
            for _late in conn.notifies(timeout=0):
                pass  # not left behind on a pooled connection


# Finding the changes ------------------------------------------------------------------------


def _takes_away(target) -> bool:
    """Whether this flushed update could change what a cached token check found."""
    state = inspect(target)
    table = target.__table__.name
    if table == "api_tokens":
        keys = _TOKEN_COLUMNS
    else:
        skip = _USER_BOOKKEEPING if table == "users" else ()
        keys = [p.key for p in state.mapper.column_attrs if p.key not in skip]
    return any(state.attrs[key].history.has_changes() for key in keys)


def _mark(target) -> None:
    session = object_session(target)
    if session is not None:
        session.info[PENDING] = True


def _after_update(_mapper, _connection, target) -> None:
    if target.__table__.name in _WATCHED and _takes_away(target):
        _mark(target)


def _after_delete(_mapper, _connection, target) -> None:
    if target.__table__.name in _WATCHED:
        _mark(target)


def _on_execute(state) -> None:
    """ORM ``update()``/``delete()`` statements on the watched tables."""
    if not (state.is_update or state.is_delete) or state.execution_options.get(QUIET):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.local_table.name in _WATCHED:
        state.session.info[PENDING] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(PENDING, None):
        wait_for_listeners(session.get_bind())


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


_mappers_watched = False


def watch(sessions: sessionmaker, base: type) -> None:
    """Sessions from this factory wait, after committing a change the caches rely on
    (``base``: the declarative base whose mapped classes hold the watched tables)."""
    global _mappers_watched
    if not _mappers_watched:
        event.listen(base, "after_update", _after_update, propagate=True)
        event.listen(base, "after_delete", _after_delete, propagate=True)
        _mappers_watched = True
    event.listen(sessions, "do_orm_execute", _on_execute)
    event.listen(sessions, "after_commit", _after_commit)
    event.listen(sessions, "after_rollback", _after_rollback)
