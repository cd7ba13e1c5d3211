"""Every donor company's yearly statement, rendered once and kept (``ledger.statements``).

The yearly job numbers the year's receipts, then splits the donor companies into parts
(``PART_SIZE`` companies each, by company id: ``yearly_statements_part`` jobs) and hands
them to the queue, so every worker process renders at once: rendering is CPU-bound
(WeasyPrint), so threads of one process gain little and processes are what spread it. The
yearly job runs parts itself while any is waiting and otherwise waits for the others',
showing their summed progress; cancelling it cancels its parts (``jobs.records.cancel``).

Exactly once per company and year: a company whose stored statement is current (same
fingerprint as today's data) is skipped, so a retried or resumed part goes on where the last
one stopped, and a second run of the same year only renders what changed since. Each
company's statement is stored in its own short transaction after rendering (rendering
takes the time, and on SQLite a transaction holds the only write lock), so cancelling
keeps what was done and stops before the next company. The yearly job run again (a retry
after a part failed, a person's retry after a cancel, a worker that died) takes up its
parts as they are: finished ones stay, failed and cancelled ones run again.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from identity.models import Organisation
from jobs import records
from jobs.models import Job
from jobs.registry import kind
from jobs.runner import JobCancelled, JobContext
from ledger import statements
from ledger.fund import common

KIND = "yearly_statements"
PART_KIND = "yearly_statements_part"
#: Companies per part: small enough that the workers finish together (a part is about a
#: minute of rendering), large enough that 10,000 companies are a hundred jobs, not more
PART_SIZE = 100
#: How often the yearly job looks at its parts while others render them
POLL_SECONDS = 1.0


class PartsUnfinished(Exception):
    """Some parts failed or were cancelled: the yearly job is tried again (which runs them
    again) or fails, saying how many (in words on the jobs page: its message code)."""

    message_code = "jobs.parts_unfinished"

    def __init__(self, stopped: int, total: int):
        self.params = {"stopped": stopped, "total": total}
        super().__init__(f"{stopped} of the statements' {total} parts did not finish")


def dedupe_key(year: int) -> str:
    """One unfinished job per year: a second click finds the first."""
    return f"yearly_statements:{year}"


def submit(session, *, year: int, actor_id: int | None):
    """Queue the statements of ``year`` (the caller commits, then enqueues); with one for
    that year still unfinished, that one: ``(job, created)``."""
    return records.submit(
        session, KIND, params={"year": year}, actor_id=actor_id, dedupe_key=dedupe_key(year)
    )


def split(companies: list[int], size: int | None = None) -> list[dict]:
    """Ranges of company ids covering every id, ``size`` donor companies each: the first
    part starts at the lowest id, the last has no upper end (a company that starts giving
    meanwhile is still in one part)."""
    size = size or PART_SIZE
    ranges = []
    for i in range(0, len(companies), size):
        chunk = companies[i : i + size]
        ranges.append({"after": ranges[-1]["through"] if ranges else None, "through": chunk[-1]})
    if ranges:
        ranges[-1]["through"] = None
    return ranges


@kind(KIND, max_attempts=3)
def yearly_statements(context: JobContext) -> dict:
    year = int(context.params["year"])
    database = context.database

    # 1. Every payment of the year gets its receipt number first, in batches, so each
    #    statement below is a read (numbers are given in the order money was received)
    context.progress(0, None, "numbering")
    numbered = 0
    while True:
        context.check_cancelled()
        with database.session() as session, session.begin(), context.writing():
            ids = statements.unnumbered(session, year)
            if ids:
                statements.number(session, ids)
        if not ids:
            break
        numbered += len(ids)

    # 2. The parts: made on the first run; run again, the failed and cancelled ones retried
    with database.session() as session, session.begin(), context.writing():
        companies = statements.donor_companies(session, year)
        parts = records.parts(session, context.job_id)
        if not parts.by_status:
            handed = [
                records.submit(
                    session, PART_KIND, params={"year": year, **r}, parent_id=context.job_id
                )[0].id
                for r in split(companies)
            ]
        else:
            handed = parts.ids("failed", "cancelled")
            for part_id in handed:
                records.retry(session, part_id)
    context.hand_out(handed)

    # 3. Run waiting parts here, else wait for the other workers', until none is unfinished
    total = len(companies)
    while True:
        context.check_cancelled()
        with database.session() as session:
            parts = records.parts(session, context.job_id)
        context.progress(min(parts.done, total), total, "rendering")
        if not parts.unfinished:
            break
        if not any(context.run_here(part_id) for part_id in parts.unfinished):
            context.stop.wait(POLL_SECONDS)

    stopped = parts.ids("failed", "cancelled")
    if stopped:
        with database.session() as session:
            # Cancelled with its parts before the heartbeat told this thread: cancelled too
            if records.get(session, context.job_id).cancel_requested:
                raise JobCancelled()
        raise PartsUnfinished(len(stopped), sum(len(ids) for ids in parts.by_status.values()))
    with database.session() as session:
        results = [
            json.loads(r or "{}")
            for r in session.scalars(select(Job.result).where(Job.parent_id == context.job_id))
        ]
    return {
        "companies": total,
        "rendered": sum(r.get("rendered", 0) for r in results),
        "already_current": sum(r.get("already_current", 0) for r in results),
        "numbered": numbered,
        "parts": len(results),
    }


@kind(PART_KIND, max_attempts=3)
def yearly_statements_part(context: JobContext) -> dict:
    """The donor companies of one range of ids: skip each whose stored statement is current,
    else render and store it."""
    year = int(context.params["year"])
    after, through = context.params.get("after"), context.params.get("through")
    settings = context.services["settings"]
    database = context.database
    with database.session() as session:
        companies = statements.donor_companies(session, year, after=after, through=through)
        stored = statements.stored_inputs(session, year, after=after, through=through)
    issued_on = common.today()
    issuer = statements.issuer_facts(settings)
    rendered = skipped = 0
    context.progress(0, len(companies), "rendering")
    for done, company_id in enumerate(companies, start=1):
        context.check_cancelled()
        with database.session() as session:
            company = session.scalars(
                select(Organisation).where(Organisation.id == company_id)
            ).one()
            prepared = statements.prepare(session, company, year, settings, issuer=issuer)
            # End the read (objects stay loaded): no transaction is held while rendering
            session.commit()
            if stored.get(company_id) == prepared.inputs:
                skipped += 1
            else:
                pdf = statements.render(prepared, settings, issued_on)
                with session.begin(), context.writing():
                    statements.store(
                        session, company_id, year, pdf, prepared.inputs, job_id=context.job_id
                    )
                rendered += 1
        context.progress(done, len(companies), "rendering")
    return {"companies": len(companies), "rendered": rendered, "already_current": skipped}


# --- one company's statement, asked for by its download -----------------------------------------

COMPANY_KIND = "company_statement"


def company_dedupe_key(company_id: int, year: int) -> str:
    """One unfinished job per company and year: a second click (or a reload of the
    preparing page) finds the first."""
    return f"company_statement:{company_id}:{year}"


def submit_company(session, *, company_id: int, year: int, actor_id: int | None):
    """Queue ``company_id``'s statement of ``year`` (the caller commits, then enqueues);
    with one still unfinished, that one: ``(job, created)``."""
    return records.submit(
        session,
        COMPANY_KIND,
        params={"company_id": company_id, "year": year},
        actor_id=actor_id,
        dedupe_key=company_dedupe_key(company_id, year),
    )


@kind(COMPANY_KIND, max_attempts=3)
def company_statement(context: JobContext) -> dict:
    """Render and keep one company's statement: what the download asks for when no current
    one is kept, so a large company's statement (seconds of rendering) never holds a request."""
    company_id = int(context.params["company_id"])
    year = int(context.params["year"])
    settings = context.services["settings"]
    database = context.database
    context.progress(0, 1, "rendering")
    with database.session() as session:
        # Reading may give a receipt number to a payment that has none yet (a write)
        with session.begin(), context.writing():
            company = session.scalars(
                select(Organisation).where(Organisation.id == company_id)
            ).one()
            prepared = statements.prepare(session, company, year, settings)
            kept = statements.current(session, company_id, year, prepared.inputs)
        # The yearly job (or an earlier one of these) kept it meanwhile: nothing to make
        if kept is not None:
            context.progress(1, 1, "rendering")
            return {"rendered": 0, "already_current": 1}
        pdf = statements.render(prepared, settings, common.today())
        context.check_cancelled()
        with session.begin(), context.writing():
            statements.store(session, company_id, year, pdf, prepared.inputs, job_id=context.job_id)
    context.progress(1, 1, "rendering")
    return {"rendered": 1, "already_current": 0}
