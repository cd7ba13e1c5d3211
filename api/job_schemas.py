"""What the API says about a background job (``/api/v1/jobs``)."""

from __future__ import annotations

import json

import marshmallow as ma
from marshmallow import fields, validate

from api.schemas import PageArgs
from jobs.models import JOB_STATUSES


def _json(value: str | None) -> dict:
    try:
        loaded = json.loads(value or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


class JobErrorSchema(ma.Schema):
    code = fields.String(required=True, metadata={"description": "Stable code of the failure"})
    detail = fields.String(required=True, metadata={"description": "What went wrong, in English"})


class JobSchema(ma.Schema):
    id = fields.Integer(required=True)
    kind = fields.String(
        required=True,
        metadata={"description": "bank_import, stripe_import, stripe_event, stripe_sync, ..."},
    )
    parent_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "The job this one is a part of (a yearly statements job's parts, "
            "each a range of companies); null for a job of its own"
        },
    )
    status = fields.String(required=True, metadata={"enum": list(JOB_STATUSES)})
    phase = fields.String(required=True, metadata={"description": "Where the work is"})
    progress = fields.Method("_progress", required=True)
    attempts = fields.Integer(required=True)
    max_attempts = fields.Integer(required=True)
    cancel_requested = fields.Boolean(required=True)
    params = fields.Method("_params", required=True)
    result = fields.Method(
        "_result",
        required=True,
        allow_none=True,
        metadata={"description": "The outcome once succeeded (counts, ids of what was made)"},
    )
    error = fields.Method("_error", required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True, required=True)
    finished_at = fields.DateTime(allow_none=True, required=True)
    run_after = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "A retry waits until then (backoff)"},
    )

    def _progress(self, job) -> dict:
        return {"done": job.progress_done, "total": job.progress_total}

    def _params(self, job) -> dict:
        return _json(job.params)

    def _result(self, job) -> dict | None:
        return _json(job.result) if job.result is not None else None

    def _error(self, job) -> dict | None:
        if not job.error_code:
            return None
        detail = _json(job.error_detail)
        return {"code": job.error_code, "detail": str(detail.get("detail", ""))}


class JobArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(JOB_STATUSES))
    kind = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
