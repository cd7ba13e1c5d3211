"""Every donor company's yearly statement, rendered once and kept (``ledger.statements``).

Exactly once per company and year: a company whose stored statement is current (same
fingerprint as today's data) is skipped, so a retried or resumed job goes on where the last
one stopped, and a second run of the same year only renders what changed since. Each
company's statement is stored in its own short transaction after rendering (rendering
takes the time, and on SQLite a transaction holds the only write lock), so cancelling
keeps what was done and stops before the next company.
"""

from __future__ import annotations

from sqlalchemy import select

from identity.models import Organisation
from jobs import records
from jobs.registry import kind
from jobs.runner import JobContext
from ledger import statements
from ledger.fund import common

KIND = "yearly_statements"


def dedupe_key(year: int) -> str:
    """One unfinished job per year: a second click finds the first."""
    return f"yearly_statements:{year}"


def submit(session, *, year: int, actor_id: int | None):
    """Queue the statements of ``year`` (the caller commits, then enqueues); with one for
    that year still unfinished, that one: ``(job, created)``."""
    return records.submit(
        session, KIND, params={"year": year}, actor_id=actor_id, dedupe_key=dedupe_key(year)
    )


@kind(KIND, max_attempts=3)
def yearly_statements(context: JobContext) -> dict:
    year = int(context.params["year"])
    settings = context.services["settings"]
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

    # 2. Each company: skip it when its stored statement is current, else render and store
    with database.session() as session:
        companies = statements.donor_companies(session, year)
        stored = statements.stored_inputs(session, year)
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
    return {
        "companies": len(companies),
        "rendered": rendered,
        "already_current": skipped,
        "numbered": numbered,
    }


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
