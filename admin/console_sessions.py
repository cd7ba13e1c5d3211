"""Console sessions kept on the server, so that they can be ended.

The browser's signed cookie carries a random secret; the ``console_sessions`` row found by
its SHA-256 decides whether the cookie still signs anybody in. Signing out, a password
change, a manager's or admin's revocation and the end of ``LIFETIME`` end a session for
every copy of its cookie. Like ledger services these only flush; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from admin.models import ConsoleSession
from foundation.db import utcnow
from foundation.errors import NotFound, PermissionDenied
from identity.models import User

#: Signed in for at most this long, however active (a working day)
LIFETIME = dt.timedelta(hours=8)
#: ``last_seen_at`` is written at most this often, not on every page
TOUCH_EVERY = dt.timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(
    session: Session, user: User, *, address: str = "", user_agent: str = ""
) -> tuple[ConsoleSession, str]:
    """A new session for ``user``; returns the row and the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = ConsoleSession(
        user_id=user.id,
        token_hash=_digest(secret),
        last_seen_at=now,
        expires_at=now + LIFETIME,
        address=(address or "")[:64],
        user_agent=(user_agent or "")[:200],
    )
    session.add(row)
    session.flush()
    return row, secret


def find_active(session: Session, secret: str) -> ConsoleSession | None:
    """The live session for a cookie's secret, its ``last_seen_at`` moved on when it was last
    seen long enough ago (left for the caller to commit at once: a request must not hold a
    write lock for its whole length just to say the session was used)."""
    if not secret or len(secret) > 200:
        return None
    row = session.scalars(
        select(ConsoleSession).where(ConsoleSession.token_hash == _digest(secret))
    ).one_or_none()
    now = utcnow()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now  # not flushed: the caller commits it (see admin/console.py)
    return row


def active_for(session: Session, user_id: int) -> list[ConsoleSession]:
    """A user's live sessions, the most recently used first."""
    return list(
        session.scalars(
            select(ConsoleSession)
            .where(
                ConsoleSession.user_id == user_id,
                ConsoleSession.ended_at.is_(None),
                ConsoleSession.expires_at > utcnow(),
            )
            .order_by(ConsoleSession.last_seen_at.desc(), ConsoleSession.id.desc())
        )
    )


def active_counts(session: Session) -> dict[int, int]:
    """Live sessions per user id (for the users page)."""
    rows = session.execute(
        select(ConsoleSession.user_id, func.count())
        .where(ConsoleSession.ended_at.is_(None), ConsoleSession.expires_at > utcnow())
        .group_by(ConsoleSession.user_id)
    )
    return dict(rows.all())


def end(session: Session, row: ConsoleSession, reason: str, *, by: User | None = None) -> None:
    if row.ended_at is None:
        row.ended_at = utcnow()
        row.end_reason = reason
        row.ended_by_id = by.id if by is not None and by.id != row.user_id else None
        session.flush()


def end_all(
    session: Session,
    user_id: int,
    reason: str,
    *,
    by: User | None = None,
    keep: ConsoleSession | None = None,
) -> int:
    """End every live session of a user (but ``keep``); how many were ended."""
    query = update(ConsoleSession).where(
        ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(ConsoleSession.id != keep.id)
    result = session.execute(
        query.values(
            ended_at=utcnow(),
            end_reason=reason,
            ended_by_id=by.id if by is not None and by.id != user_id else None,
        ).execution_options(synchronize_session="fetch")
    )
    session.flush()
    return result.rowcount


def end_own(session: Session, *, user: User, session_id: int) -> None:
    """A user ends one of their own sessions (another user's is not found)."""
    row = session.get(ConsoleSession, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such session.")
    end(session, row, "ended_by_user")


def may_revoke(actor: User, target: User) -> bool:
    """The same rule as password resets: an admin ends anyone's sessions; a fund manager
    only those of company and business members (never another manager's)."""
    if actor.id == target.id:
        return False
    if actor.role == "admin":
        return True
    return actor.role == "fund_manager" and target.role in ("company_member", "business_member")


def revoke_user(session: Session, *, actor: User, target: User) -> int:
    """A manager or admin signs a user out everywhere; how many sessions were ended."""
    if not may_revoke(actor, target):
        raise PermissionDenied("You may not end this user's sessions.", reason="end_sessions")
    return end_all(session, target.id, "revoked", by=actor)
