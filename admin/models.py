"""Tables the console adds: signed-in sessions and two-factor recovery codes (password reset
links are identity's: ``identity.models``; bank statement imports are ``jobs`` rows)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from foundation.db import Base, UTCDateTime, created, intpk
from identity.models import User

#: Why a console session ended
SESSION_END_REASONS = ("signed_out", "password_changed", "ended_by_user", "revoked", "two_factor")


class ConsoleSession(Base):
    """A signed-in browser. The cookie carries only a random secret; this row decides whether
    it is still valid, so signing out, a password change or a manager's revocation ends the
    session on the server, whatever copies of the cookie exist."""

    __tablename__ = "console_sessions"
    __table_args__ = (
        CheckConstraint(f"end_reason IS NULL OR end_reason IN {SESSION_END_REASONS}", name="end"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 (hex) of the secret in the cookie
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[created]
    #: Refreshed at most once a minute while the session is used
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Signed in for at most this long, however active
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    #: Who ended it, when not its own user (a manager or an admin)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: What the user sees to recognise their devices (never used to decide anything)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app (shown once, hashed here)."""

    __tablename__ = "recovery_codes"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[created]
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
