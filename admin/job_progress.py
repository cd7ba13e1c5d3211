"""How the console shows one background job of its pages (a match run being solved, the
yearly statements being made, the reminder list): its state and step in the reader's
language, how far it is, and the error it failed with."""

from __future__ import annotations

import json

from flask_babel import gettext as _

from admin import messages
from jobs.models import FINISHED, Job


def _phases() -> dict[str, str]:
    return {
        "queued": _("Waiting to start"),
        "waiting": _("Waiting to try again"),
        "numbering": _("Numbering the receipts"),
        "rendering": _("Making the statements"),
        "listing": _("Listing the overdue instalments"),
        "reading": _("Reading offers and requests"),
        "scoring": _("Scoring the candidate pairs"),
        "solving": _("Choosing the best pairs"),
        "saving": _("Saving the proposals"),
        "done": _("Done"),
        "cancelled": _("Cancelled"),
    }


def _states() -> dict[str, str]:
    return {
        "queued": _("Waiting"),
        "running": _("Running"),
        "succeeded": _("Finished"),
        "failed": _("Failed"),
        "cancelled": _("Cancelled"),
    }


def describe(job: Job) -> dict:
    """What a page says about ``job``."""
    total, done = job.progress_total, job.progress_done
    percent = 100 if job.status == "succeeded" else (int(100 * done / total) if total else None)
    error = None
    if job.status == "failed":
        try:
            detail = json.loads(job.error_detail or "{}")
        except ValueError:
            detail = {}
        error = messages.translate(detail.get("message_code"), detail.get("params"))
    try:
        result = json.loads(job.result) if job.result and job.status == "succeeded" else {}
    except ValueError:
        result = {}
    return {
        "job": job,
        "finished": job.status in FINISHED,
        "status_label": _states().get(job.status, job.status),
        "phase_label": _phases().get(job.phase, _("Working")),
        "done": done,
        "total": total,
        "percent": percent,
        "error": error,
        "result": result if isinstance(result, dict) else {},
        "cancelling": job.cancel_requested and job.status not in FINISHED,
    }
