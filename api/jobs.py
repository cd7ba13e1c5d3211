"""Background jobs for fund managers: poll one, list them, retry or cancel one.

A request that starts background work (a bank statement import, a Stripe import) answers
202 Accepted with the job (``accepted``) and a ``Location`` to poll.
"""

from __future__ import annotations

from flask import url_for

from api import job_schemas, schemas
from api.auth import requires
from api.common import Blueprint, decode_cursor, errors, page_out
from foundation.transactions import atomic
from identity.roles import MANAGERS
from jobs import records
from jobs.models import Job
from web.request import db_session, job_queue

blp = Blueprint("jobs", __name__, url_prefix="/api/v1", description="Background jobs.")


def accepted(job: Job, *, created: bool = True):
    """The answer to a request that started (or, for the same work already running, found)
    job ``job``: 202 with the job and where to poll it. Call after the commit."""
    if created or job.status == "queued":
        job_queue().enqueue_quietly(job.id)
    location = url_for("jobs.get_job", job_id=job.id)
    return job, 202, {"Location": location}


@blp.route("/jobs", methods=["GET"])
@requires(*MANAGERS)
@errors(400, 422)
@blp.arguments(job_schemas.JobArgs, location="query")
@blp.response(200, schemas.page_schema(job_schemas.JobSchema, "JobPage"))
def list_jobs(args):
    """List background jobs, newest first"""
    return page_out(
        records.list_jobs(
            db_session(),
            status=args["status"],
            kind=args["kind"],
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


@blp.route("/jobs/<bigid:job_id>", methods=["GET"])
@requires(*MANAGERS)
@errors(404)
@blp.response(200, job_schemas.JobSchema)
def get_job(job_id):
    """Read a job: status, progress and outcome (poll until it has finished)"""
    return records.get(db_session(), job_id)


@blp.route("/jobs/<bigid:job_id>/retry", methods=["POST"])
@requires(*MANAGERS)
@errors(404, 409)
@blp.response(202, job_schemas.JobSchema)
def retry_job(job_id):
    """Run a failed or cancelled job again"""
    with atomic(db_session()) as session:
        job = records.retry(session, job_id)
    return accepted(job)


@blp.route("/jobs/<bigid:job_id>/cancel", methods=["POST"])
@requires(*MANAGERS)
@errors(404, 409)
@blp.response(200, job_schemas.JobSchema)
def cancel_job(job_id):
    """Cancel a queued job, or stop a running one at its next checkpoint (its work rolls back)"""
    with atomic(db_session()) as session:
        return records.cancel(session, job_id)
