"""Stripe's background work: apply a received event, catch up every ten minutes, import
balance transactions for reconciliation.

Each kind reads Stripe with no database transaction open and writes in short transactions
after (ledger/payments/card_payments.py: fetch, then apply). Stripe unreachable
(``StripeUnavailable``, after the gateway's own quick retries) is raised as ``StripeDown``,
which is not a ``LedgerError``, so the runner tries the job again after its backoff; any
other ``LedgerError`` (Stripe refused a read, the ledger refused a posting) fails the job at
once, as running it again would fail the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time

from sqlalchemy import select, update

from identity.models import User
from jobs.models import Job
from jobs.queue import crontab
from jobs.registry import kind
from jobs.runner import JobContext
from ledger.payments import card_payments
from ledger.payments.models import StripeEvent
from ledger.payments.stripe_gateway import StripeUnavailable
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.models import StatementImport

#: Each sync starts this long before the previous one did: Stripe lists an event a little
#: after its ``created`` time, and the clocks differ; what is read twice is skipped
SYNC_OVERLAP = dt.timedelta(minutes=15)
#: The first sync ever looks back as far as Stripe retries a webhook
FIRST_LOOKBACK = dt.timedelta(days=3)
#: Progress is written every this many items (each write is a transaction)
PROGRESS_EVERY = 25


class StripeDown(Exception):
    """Stripe could not be reached: try the job again later (deliberately not a
    ``LedgerError``, which would fail it at once)."""


def event_key(event_id: str) -> str:
    """The dedupe key of the job applying event ``event_id``: one unfinished job per event
    (Stripe's ids are short; a longer one, which the webhook accepts, is hashed to fit)."""
    key = f"stripe_event:{event_id}"
    if len(key) > 160:
        key = "stripe_event#" + hashlib.sha256(event_id.encode()).hexdigest()
    return key


# --- one event ------------------------------------------------------------------------------


@kind("stripe_event", max_attempts=8)
def stripe_event(context: JobContext) -> dict:
    """Apply the effect of a stored Stripe event (``params.event_id``): fetch its object
    from Stripe, then post in one short transaction. Running twice changes nothing."""
    event_id = context.params["event_id"]
    sessions = context.database.session
    try:
        status = card_payments.process_event(sessions, context.services["stripe"], event_id)
    except StripeUnavailable as exc:
        with sessions() as session:
            last = context.attempt >= session.get(Job, context.job_id).max_attempts
        if last:
            # The last attempt: leave the event where a person (and the next sync) sees it,
            # rather than ``received`` with no job left to apply it
            with sessions() as session, session.begin():
                row = session.scalars(
                    select(StripeEvent).where(StripeEvent.event_id == event_id)
                ).first()
                if row is not None and row.status == "received":
                    card_payments.record_failed_event(session, card_payments.as_event(row), exc)
        raise StripeDown(exc.detail) from exc
    with sessions() as session:
        row = session.scalars(select(StripeEvent).where(StripeEvent.event_id == event_id)).first()
        stored = row.status if row is not None else None
        detail = row.detail if row is not None else "no such event is stored"
    # The API shows all of it; the console's job page the id, the state and applied_now,
    # in words (admin/job_figures.py: the detail is Stripe's or the ledger's English)
    return {
        "event": {
            "event_id": event_id,
            # False: a duplicate run found the event settled already and did nothing
            "applied_now": status is not None,
            "status": stored,
            "detail": detail,
        }
    }


# --- catching up ------------------------------------------------------------------------------


def last_cursor(session) -> int | None:
    """Where the last successful sync began reading (a Stripe timestamp), if any."""
    result = session.scalar(
        select(Job.result)
        .where(Job.kind == "stripe_sync", Job.status == "succeeded")
        .order_by(Job.id.desc())
        .limit(1)
    )
    if not result:
        return None
    cursor = (json.loads(result).get("sync") or {}).get("cursor")
    return int(cursor) if isinstance(cursor, int) else None


def _counter(context: JobContext, phase: str):
    """A progress callback that writes every ``PROGRESS_EVERY`` items and honours cancel."""
    count = 0

    def advance(n: int) -> None:
        nonlocal count
        count += n
        if count % PROGRESS_EVERY == 0:
            context.progress(done=count, phase=phase)
            context.check_cancelled()

    return advance


@kind("stripe_sync", max_attempts=3, schedule=crontab(minute="*/10"))
def stripe_sync(context: JobContext) -> dict:
    """Every ten minutes: read Stripe's events (and balance transactions) since the last
    successful sync, less an overlap, and store and apply whatever the webhooks missed,
    through the webhook's own path. ``params.since`` (a date, Taiwan) reads from there."""
    gateway = context.services["stripe"]
    with context.database.session() as session:
        previous = last_cursor(session)
    if not gateway.settings.secret_key:
        # Not an error: a fund without card payments. Succeed quietly, keep the cursor
        return {
            "sync": {
                "cursor": previous,
                "note": "Stripe is not configured (STRIPE_SECRET_KEY): nothing to sync.",
            }
        }
    started = int(time.time())
    if context.params.get("since"):
        since = card_payments.taiwan_midnight(dt.date.fromisoformat(context.params["since"]))
    elif previous is not None:
        since = previous - int(SYNC_OVERLAP.total_seconds())
    else:
        since = started - int(FIRST_LOOKBACK.total_seconds())
    context.progress(done=0, phase="reading")
    try:
        report = card_payments.sync(
            context.database.session,
            gateway,
            since,
            progress=_counter(context, "applying"),
        )
    except StripeUnavailable as exc:
        raise StripeDown(exc.detail) from exc
    # The API shows all of it; the console's job page the counts, ``since`` in Taiwan time,
    # how many problems there were and each refusal in words, from its message code
    # (admin/job_figures.py: the ``problems`` text itself is English)
    return {
        "sync": {
            # Where the next sync starts reading (less SYNC_OVERLAP)
            "cursor": started,
            "since": since,
            "events_seen": report.events_seen,
            "events_applied": report.events_applied,
            "events_ignored": report.events_ignored,
            "duplicates": report.duplicates,
            "needs_attention": report.needs_attention,
            "transactions_seen": report.transactions_seen,
            "objects_applied": report.objects_applied,
            "problems": report.problems[:50],
            "refusals": report.refusals[:50],
        }
    }


# --- importing balance transactions -------------------------------------------------------------


def import_name(payout: str | None, start: str | None, end: str | None) -> str:
    return f"payout={payout}" if payout else f"{start}..{end}"


def import_key(payout: str | None, start: str | None, end: str | None) -> str:
    """One unfinished import per payout or date range (the same request twice finds it)."""
    return (
        "stripe_import:" + hashlib.sha256(import_name(payout, start, end).encode()).hexdigest()[:32]
    )


@kind("stripe_import", max_attempts=5)
def stripe_import(context: JobContext) -> dict:
    """Import Stripe balance transactions for a payout (``params.payout``) or a date range
    (``params.start``, ``params.end``, Taiwan dates) as reconciliation lines.

    Read from Stripe first (all pages, no transaction open), then stored in one
    transaction that also writes the import's id on the job: a re-run after a crash finds
    it there and does not import again."""
    params = context.params
    payout, start, end = params.get("payout"), params.get("start"), params.get("end")
    with context.database.session() as session:
        done = json.loads(session.get(Job, context.job_id).result or "{}").get("import_id")
        if done is not None:
            return _import_result(session, done)
    gateway = context.services["stripe"]
    start_day = dt.date.fromisoformat(start) if start else None
    end_day = dt.date.fromisoformat(end) if end else None
    context.progress(done=0, phase="reading")
    transactions = []
    try:
        for txn in gateway.list_balance_transactions(
            payout=payout,
            created_gte=card_payments.taiwan_midnight(start_day) if start_day else None,
            created_lt=(
                card_payments.taiwan_midnight(end_day + dt.timedelta(days=1)) if end_day else None
            ),
        ):
            transactions.append(txn)
            if len(transactions) % 100 == 0:
                context.progress(done=len(transactions), phase="reading")
                context.check_cancelled()
    except StripeUnavailable as exc:
        raise StripeDown(exc.detail) from exc
    context.progress(done=0, total=len(transactions), phase="importing")
    with context.writing(), context.database.session() as session, session.begin():
        actor = session.get(User, context.actor_id) if context.actor_id else None
        report = reconciliation_runs.import_stripe_transactions(
            session,
            transactions,
            name=import_name(payout, start, end),
            payout=payout,
            actor=actor,
        )
        # Exactly once: the import and the note of it commit together. (No progress from
        # here on: on PostgreSQL it is written at once, from another connection, and this
        # transaction now holds the job's row.)
        session.execute(
            update(Job)
            .where(Job.id == context.job_id)
            .values(result=json.dumps({"import_id": report.import_id}))
            .execution_options(synchronize_session=False)
        )
    context.progress(done=len(transactions), phase="importing")
    with context.database.session() as session:
        return _import_result(session, report.import_id)


def _import_result(session, import_id: int) -> dict:
    stmt_import = session.get(StatementImport, import_id)
    if stmt_import is None:  # removed since; the job's work was done all the same
        return {"import_id": import_id}
    # The figures a bank import shows too (the jobs page has words for them)
    return {
        "import_id": import_id,
        "lines_read": stmt_import.lines_read,
        "lines_new": stmt_import.lines_new,
        "duplicates": stmt_import.lines_read - stmt_import.lines_new,
    }
