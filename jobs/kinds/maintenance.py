"""Jobs that keep the books in order: sealing on demand."""

from __future__ import annotations

from jobs.registry import kind
from jobs.runner import JobContext
from ledger.books.chain import seal_pending


@kind("seal", max_attempts=3)
def seal(context: JobContext) -> dict:
    """Seal every committed entry not yet in the hash chain (the worker's sealer does this
    every second; this job is for ``placefund jobs submit seal`` and the tests)."""
    with context.database.session() as session, session.begin():
        count = seal_pending(session, wait=True)
    return {"sealed": count}
