"""The tables of background work: one row per job, one per live worker.

The ``jobs`` row is the job's truth; huey's messages only say "look at job N". A lost
message (a worker killed after taking it) is found again by the sweep (``jobs.records``),
and a duplicate one finds the job already claimed and does nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from foundation.db import Base, UTCDateTime, created

#: queued: waiting for a worker (or for ``run_after``); running: a worker holds it and beats;
#: succeeded, failed, cancelled: finished (failed and cancelled jobs can be retried)
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")


class Job(Base):
    """One piece of background work: what it is, who asked, where it stands, how it ended."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATUSES}", name="status"),
        CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts"),
        CheckConstraint("progress_done >= 0", name="progress"),
        Index("ix_jobs_status_id", "status", "id"),
        Index("ix_jobs_kind_id", "kind", "id"),
        # /metrics counts the jobs finished within the last hour (0019)
        Index("ix_jobs_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: What to do: a name registered in ``jobs.kinds`` (``bank_import``, ``stripe_sync``...)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    #: What the job was asked to do (JSON): small arguments only
    params: Mapped[str] = mapped_column(Text, default="{}")
    #: A file the job works on (a bank statement), kept until the job no longer needs it
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    #: At most one unfinished job per key: a periodic slot, or the same file uploaded twice
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    #: Where the work is: a phase name and a count of done out of total (units are the kind's)
    phase: Mapped[str] = mapped_column(String(32), default="queued")
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    #: The outcome (JSON): counts, ids of what was made, malformed lines...
    result: Mapped[str | None] = mapped_column(Text)
    #: Why it failed (or last failed before a retry): a stable code and a JSON detail
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    #: Asked to stop: a running job stops at its next checkpoint and rolls back
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The job this one is a part of (the yearly statements split into ranges of companies):
    #: the parent sums its parts' progress, and cancelling it cancels them (0022)
    parent_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("jobs.id"), index=True
    )
    #: Who asked (None: the schedule)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[created]
    #: When its message was last handed to the queue, and when it may run (a retry's backoff)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    run_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The worker holding it (``host:pid:start``) and its last sign of life
    worker: Mapped[str | None] = mapped_column(String(160))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class WorkerBeat(Base):
    """A running ``placefund worker``: ``/readyz`` and ``/metrics`` read its last beat. The
    minute's sweep deletes the rows of workers silent for a day
    (``jobs.records.forget_workers``): a restart is a new row, and old ones only slow those
    reads down."""

    __tablename__ = "job_workers"

    #: ``host:pid:start``, as written on the jobs it holds
    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    threads: Mapped[int] = mapped_column(Integer, default=1)
    #: Set when it stops cleanly; a worker killed outright simply stops beating
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
