"""Tables the console adds: signed-in sessions, two-factor recovery codes and bank statement
import jobs (password reset links are identity's: ``identity.models``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
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


#: Where a bank statement import job is, and what it is doing
JOB_STATES = ("queued", "running", "succeeded", "failed")
JOB_PHASES = ("queued", "reading", "importing", "matching", "done")


class ImportJob(Base):
    """A bank statement upload imported and matched in the background.

    The row is the job's only state: the web page and the status endpoint read it, any
    server process can resume it, and a worker that died leaves a row whose heartbeat stops
    (it is then marked failed as ``interrupted`` and can be resumed from the stored file).
    """

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATES}", name="status"),
        CheckConstraint(f"phase IN {JOB_PHASES}", name="phase"),
        CheckConstraint("lines_done >= 0 AND bad_line_count >= 0 AND attempts >= 0", name="counts"),
    )

    id: Mapped[intpk]
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    phase: Mapped[str] = mapped_column(String(16), default="queued")
    #: What the manager uploaded and chose
    filename: Mapped[str] = mapped_column(String(255))
    mapping: Mapped[str] = mapped_column(String(32))
    #: None: detected from the file
    encoding: Mapped[str | None] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(160))
    skip_bad_lines: Mapped[bool] = mapped_column(Boolean, default=False)
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(Integer)
    #: The file itself until the job succeeds (or the file is refused): a resumed job
    #: needs it; afterwards its lines are stored and the copy is dropped
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    #: Progress: importable lines in the file and how many are stored so far
    lines_total: Mapped[int | None] = mapped_column(Integer)
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    lines_new: Mapped[int | None] = mapped_column(Integer)
    duplicates: Mapped[int | None] = mapped_column(Integer)
    #: Outcome of the matching run
    matched: Mapped[int | None] = mapped_column(Integer)
    suggested: Mapped[int | None] = mapped_column(Integer)
    unmatched: Mapped[int | None] = mapped_column(Integer)
    donations_recorded: Mapped[int | None] = mapped_column(Integer)
    #: Malformed lines: their number, and the first ones as JSON
    #: ``[{"line", "field", "message", "message_zh"}]``
    bad_line_count: Mapped[int] = mapped_column(Integer, default=0)
    bad_lines: Mapped[str] = mapped_column(Text, default="[]")
    #: Why the job failed: a domain error code (or ``interrupted``, ``internal_error``)
    error_code: Mapped[str | None] = mapped_column(String(64))
    #: The English detail of that error (the console translates it by code)
    error_detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("statement_imports.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("reconciliation_runs.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created]
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Refreshed while a process owns the job; a stale heartbeat means the worker died
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")
