"""The overdue reminders: every day at 09:00 Taiwan time (01:00 UTC), the list of overdue
pledge instalments with whom to remind at each company (``ledger.fund.overdue``), kept as
the job's result for the console's overdue page.

One job a day however many workers run: each worker's sweep submits the day's slot
(``slot:overdue_reminders@…T01:00``) and the slot's key is unique. A manager may also run it
now (``submit_now``); that job has its own key while it is unfinished, so a double click
makes one.
"""

from __future__ import annotations

import json

from huey import crontab
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import records
from jobs.models import Job
from jobs.registry import kind
from jobs.runner import JobContext
from ledger.fund import common
from ledger.fund.overdue import reminder_list

KIND = "overdue_reminders"


@kind(KIND, max_attempts=3, schedule=crontab(minute="0", hour="1"))
def overdue_reminders(context: JobContext) -> dict:
    context.progress(0, None, "listing")
    with context.database.session() as session, session.begin():
        return reminder_list(session, common.today())


def submit_now(session: Session, actor_id: int | None) -> tuple[Job, bool]:
    """A manager's "make the list now" (the caller commits, then enqueues)."""
    return records.submit(session, KIND, actor_id=actor_id, dedupe_key=f"{KIND}:now")


def latest(session: Session) -> tuple[Job | None, dict | None]:
    """The newest finished list (the job and its result) and the newest job of the kind,
    whatever its state: ``(latest_job, latest_result)``."""
    newest = session.scalars(select(Job).where(Job.kind == KIND).order_by(Job.id.desc())).first()
    done = session.scalars(
        select(Job)
        .where(Job.kind == KIND, Job.status == "succeeded")
        .order_by(Job.finished_at.desc(), Job.id.desc())
    ).first()
    return newest, (json.loads(done.result) if done and done.result else None)
