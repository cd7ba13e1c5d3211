"""The kinds of job: what each does, how often it may be tried, when it runs by itself.

A kind registers itself with ``@kind(...)`` in its module under ``jobs/kinds/``; importing
``jobs.kinds`` registers them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.models import Job
    from jobs.runner import JobContext


def _always(_job: Job) -> bool:
    return True


@dataclass(frozen=True)
class Kind:
    name: str
    #: Does the work; returns the outcome to keep on the job (JSON-able)
    run: Callable[[JobContext], dict | None]
    #: Attempts before the job is marked failed (retries back off: jobs.records.BACKOFF)
    max_attempts: int = 5
    #: For periodic kinds: whether to run in the minute given (huey's crontab)
    schedule: Callable | None = None
    #: Whether a failed or cancelled job can run again (a refused file cannot)
    retryable: Callable[[Job], bool] = field(default=_always)


KINDS: dict[str, Kind] = {}


def kind(name: str, **options) -> Callable:
    """Register the decorated function as the job kind ``name``."""

    def register(run: Callable[[JobContext], dict | None]) -> Callable:
        if name in KINDS:
            raise ValueError(f"job kind {name!r} is registered twice")
        KINDS[name] = Kind(name=name, run=run, **options)
        return run

    return register
