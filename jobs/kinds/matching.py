"""A match run in the background: the API's ``POST /api/v1/match/runs`` and the console's
"Start the run" queue one instead of solving inside the request (a national run takes
minutes). The result carries the run's id.

The solve holds no transaction (on SQLite a transaction holds the only write lock): the
instance is read, solved with the solver's stages as the job's progress (each report is
also a checkpoint for cancelling), and the run stored in one transaction that also writes
its id on the job row, so a re-run after a crash between that commit and the job's finish
finds the run instead of making a second one.
"""

from __future__ import annotations

import json

from sqlalchemy import update

from foundation.errors import LedgerError
from jobs import records
from jobs.models import Job
from jobs.registry import kind
from jobs.runner import JobContext
from matching import services
from matching.errors import MatchingError
from matching.models import MatchRun
from matching.solver import solve

KIND = "match_run"


class MatchRefused(LedgerError):
    """The matcher refused the run (an infeasible constraint...): running it again would be
    refused the same way, so the job fails at once with the matcher's code and message."""

    def __init__(self, error: MatchingError):
        super().__init__(error.detail, params=error.params)
        # The matcher's own code and reason, so its message (admin/error_messages.py) shows
        self.code, self.reason = error.code, error.reason


@kind(KIND, max_attempts=2)
def match_run(context: JobContext) -> dict:
    params = dict(context.params.get("params") or {})
    with context.database.session() as session:
        done = session.get(Job, context.job_id)
        earlier = json.loads(done.result or "null") if done is not None else None
        if (
            isinstance(earlier, dict)
            and earlier.get("match_run_id")
            and session.get(MatchRun, earlier["match_run_id"]) is not None
        ):
            return earlier  # stored by an attempt that died before finishing

    def progress(stage: str, done: int, total: int) -> None:
        context.check_cancelled()
        context.progress(done, total, stage.split(":")[0])  # "solving: lagrangian" is "solving"

    context.progress(0, None, "collecting")
    with context.database.session() as session, session.begin():
        instance = services.run_instance(session, params)
    try:
        result = solve(instance, progress=progress)
    except MatchingError as error:
        raise MatchRefused(error) from error
    context.check_cancelled()
    context.progress(phase="saving")
    with context.database.session() as session, session.begin(), context.writing():
        run = services.save_run(
            session, actor_id=context.actor_id, params=params, instance=instance, result=result
        )
        # Figures only, each named on the job page (admin/job_figures.py); not "run_id",
        # which is a reconciliation run's
        outcome = {"match_run_id": run.id, "proposals": len(result.proposals)}
        session.execute(
            update(Job)
            .where(Job.id == context.job_id)
            .values(result=json.dumps(outcome))
            .execution_options(synchronize_session=False)
        )
    return outcome


def submit(session, *, actor_id: int, params: dict) -> tuple[Job, bool]:
    """Check the parameters (a clear error now, nothing queued), then queue the run. The
    caller commits, then enqueues."""
    services.check_params(params)
    return records.submit(session, KIND, params={"params": params}, actor_id=actor_id)
