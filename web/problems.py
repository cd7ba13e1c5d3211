"""RFC 9457 problem documents: their media type, stable codes, and the response that carries one.

Shared by the API's error handlers, the input guard and the last-resort handler, which
answer before (or outside) either face."""

from __future__ import annotations

import http

from flask import g, jsonify, request

PROBLEM_MEDIA_TYPE = "application/problem+json"


TYPE_PREFIX = "urn:placefund:problem:"


#: Stable codes for HTTP-level errors (LedgerErrors bring their own ``code``).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "request_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An HTTP-level refusal raised by the API layer (auth, preconditions, media types)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code or HTTP_CODES.get(status, "error")
        self.detail = detail
        self.fields = fields or {}
        self.headers = headers or {}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
):
    """A Flask response holding a problem document."""
    body = {
        "type": TYPE_PREFIX + code,
        "code": code,
        "title": http.HTTPStatus(status).phrase,
        "status": status,
        "detail": encodable(detail),
        "instance": request.path,
    }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    if fields:
        body["errors"] = {encodable(k): [encodable(str(m)) for m in v] for k, v in fields.items()}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_MEDIA_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def encodable(text: str) -> str:
    """``text`` as it can be sent in UTF-8: a lone surrogate (from a client's ``"\\ud800"``,
    echoed in a field name or message) written as ``\\ud800`` instead of failing to encode
    while the error itself is being answered."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
