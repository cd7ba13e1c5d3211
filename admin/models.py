"""Tables the console adds: one-time password reset links issued by a fund manager, and
bank statement import jobs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models import User, UTCDateTime, created, intpk
from placefund.db import Base


class PasswordReset(Base):
    """A reset link a manager hands to a user. Only the SHA-256 of its secret is stored."""

    __tablename__ = "password_resets"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 (hex) of the secret in the link; the secret itself is shown once
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The manager who issued it
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Set when the link is used; a link works once
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


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
