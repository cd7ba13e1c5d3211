"""How the console's own pages follow one of their background jobs (a match run being
solved, the yearly statements being made, the reminder list): the jobs page's words for its
state, step, progress and error (``admin.job_pages.status``), with its outcome."""

from __future__ import annotations

import json

from admin import job_pages
from jobs.models import FINISHED, Job


def status(job: Job) -> dict:
    """The job's status JSON (what static/job-progress.js polls): the jobs page's, in words."""
    return job_pages.status(job)


def describe(job: Job) -> dict:
    """What a page says about ``job``."""
    try:
        result = json.loads(job.result) if job.result and job.status == "succeeded" else {}
    except ValueError:
        result = {}
    return dict(
        job_pages.status(job),
        job=job,
        result=result if isinstance(result, dict) else {},
        cancelling=job.cancel_requested and job.status not in FINISHED,
    )
