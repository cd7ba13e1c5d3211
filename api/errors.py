"""The API's error handlers: every error the API returns as an RFC 9457 problem document.

Every error the API returns has the same shape (``ProblemSchema``) and the media type
``application/problem+json``: a stable ``type`` URI and ``code`` for machines, a ``title``
and a ``detail`` for people, and ``errors`` mapping field names to messages. The document
itself is built by ``web.problems``, which the input guard and the last-resort handler use too."""

from __future__ import annotations

import http
import logging

import marshmallow as ma
from flask import Flask
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from foundation.errors import LedgerError
from matching.errors import MatchingError
from web.problems import HTTP_CODES, PROBLEM_MEDIA_TYPE, ApiError, problem

log = logging.getLogger("placefund.api")


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem document."""

    type = ma.fields.String(
        required=True, metadata={"description": "URI naming the kind of problem (stable)"}
    )
    code = ma.fields.String(required=True, metadata={"description": "Stable machine code"})
    title = ma.fields.String(required=True, metadata={"description": "Short summary"})
    status = ma.fields.Integer(required=True, metadata={"description": "HTTP status"})
    detail = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    instance = ma.fields.String(metadata={"description": "The request path"})
    request_id = ma.fields.String(metadata={"description": "Quote this when asking for help"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Messages per field (dotted paths for nested fields)"},
    )


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dicts as ``{"dotted.path": [messages]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_messages(value, path).items():
                flat.setdefault(k, []).extend(v)
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "_schema"] = list(messages)
        else:
            for item in messages:
                for k, v in flatten_messages(item, prefix).items():
                    flat.setdefault(k, []).extend(v)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def _webargs_fields(messages) -> dict[str, list[str]]:
    """webargs groups errors by location; the body's fields are named plainly, others prefixed."""
    fields: dict[str, list[str]] = {}
    for location, errors in (messages or {}).items():
        prefix = "" if location == "json" else location
        fields.update(flatten_messages(errors, prefix))
    return fields


_HTTP_DETAIL = {
    400: "The request could not be read.",
    404: "No such resource.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    422: "The request has invalid fields.",
}


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    # A 405 must say which methods are allowed (RFC 9110); werkzeug keeps them on the error.
    for name, value in error.get_headers():
        if name.lower() == "allow":
            headers["Allow"] = value
    fields = _webargs_fields(data.get("messages")) if "messages" in data else {}
    if status == 400 and fields.get("_schema") == ["Invalid JSON body."]:
        return problem(400, "malformed_json", "The request body is not valid JSON.")
    detail = data.get("message") or _HTTP_DETAIL.get(status) or error.description or ""
    return problem(status, HTTP_CODES.get(status, "error"), detail, fields=fields, headers=headers)


def handle_api_error(error: ApiError):
    return problem(
        error.status, error.code, error.detail, fields=error.fields, headers=error.headers
    )


def handle_ledger_error(error: LedgerError | MatchingError):
    """Domain errors (ledger and matcher) carry their own status, code and detail."""
    fields = getattr(error, "fields", None) or {
        str(where): [message] for where, message in getattr(error, "problems", [])
    }
    return problem(error.status, error.code, error.detail, fields=fields)


def handle_stale(_error: StaleDataError):
    return problem(
        409,
        "stale_version",
        "The object was changed by someone else meanwhile; read it again and retry.",
    )


def handle_integrity(error: IntegrityError):
    log.warning("integrity error: %s", error.orig.__class__.__name__)
    return problem(409, "conflict", "The request conflicts with stored data.")


def handle_database(error: DBAPIError):
    if isinstance(error, OperationalError):
        log.error("database unavailable: %s", error.orig.__class__.__name__)
        # Retryable: the pool has recycled its dead connections, and a money-moving retry
        # with the same Idempotency-Key answers the stored result should the commit have
        # reached the server before the connection was lost
        return problem(
            503,
            "service_unavailable",
            "The database is unavailable; retry later.",
            headers={"Retry-After": "1"},
        )
    if isinstance(error, DataError):
        # The request carried a value the column cannot hold that no schema caught (too
        # large a number, a NUL character): the client's to fix, and nothing was stored.
        log.warning("database refused a value: %s", error.orig.__class__.__name__)
        return problem(
            422,
            "unstorable_value",
            "A value in the request cannot be stored (out of range or a forbidden character).",
        )
    log.exception("database error")
    return problem(500, "internal_error", "An unexpected error occurred.")


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled error")
    return problem(500, "internal_error", "An unexpected error occurred.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(LedgerError, handle_ledger_error)
    app.register_error_handler(MatchingError, handle_ledger_error)
    app.register_error_handler(StaleDataError, handle_stale)
    app.register_error_handler(IntegrityError, handle_integrity)
    app.register_error_handler(DBAPIError, handle_database)
    app.register_error_handler(Exception, handle_unexpected)


def documented_errors(*statuses: int) -> dict:
    """OpenAPI ``responses`` for these error statuses, all problem documents."""
    return {
        str(status): {
            "description": http.HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
