"""The answer when the app's own error handlers could not give one.

Flask's handlers turn every error raised in a view into a problem document (api/errors.py)
or a console page (admin/error_pages.py). Two kinds of failure happen outside them, and
gunicorn then wrote its own HTML page to API clients:

- an exception escaping the Flask app itself: a teardown that fails on a dropped database
  connection, an error handler that fails, a response header gunicorn refuses. ``LastResort``
  wraps the WSGI app and answers 500 with a problem document (HTML for console paths).
- a request gunicorn refuses before the app sees it (a request line over
  ``limit_request_line``: 414; headers too large: 431; malformed HTTP: 400), or a response
  body that fails once gunicorn is sending it: 500. ``write_problem`` replaces gunicorn's
  page writer in each worker (``install_in_gunicorn``). The path may not even have been read,
  so these answers are problem documents whatever the path.
"""

from __future__ import annotations

import http
import json
import logging
import sys

from web.problems import HTTP_CODES, TYPE_PREFIX

log = logging.getLogger("placefund.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: The WSGI environ's key for the request id the app gave the request (placefund/app.py)
REQUEST_ID_KEY = "placefund.request_id"
#: Paths whose clients are programs (as admin/error_pages.py decides for handled errors)
PROBLEM_PATHS = ("/api", "/webhooks")

#: What to tell the client for each refusal gunicorn makes (its own text echoes the request)
GUNICORN_DETAIL = {
    400: "The request is not valid HTTP.",
    403: "The request is forbidden.",
    414: "The request line (method, path and query) is too long.",
    417: "The Expect header cannot be met.",
    431: "The request has too many headers, or one too large.",
    500: "An unexpected error occurred.",
    501: "The request's transfer coding is not supported.",
}


def problem_body(status: int, detail: str, instance: str | None = None) -> bytes:
    """A problem document (RFC 9457) built without Flask: no app context is needed."""

    code = HTTP_CODES.get(status, "error")
    body = {
        "type": TYPE_PREFIX + code,
        "code": code,
        "title": http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    return json.dumps(body).encode()


def _headers(content_type: str, body: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]


class LastResort:
    """WSGI middleware: an exception that escaped the app becomes a 500 of our own."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        except Exception:
            log.exception(
                "error outside the app's error handlers",
                extra={"request_id": environ.get(REQUEST_ID_KEY)},
            )
            path = environ.get("PATH_INFO", "")
            if path.startswith(PROBLEM_PATHS):
                body = problem_body(500, "An unexpected error occurred.", instance=path)
                headers = _headers(PROBLEM_MEDIA_TYPE, body)
            else:
                body = (
                    b"<!doctype html><meta charset=utf-8><title>500</title>"
                    b"<h1>500</h1><p>Something went wrong on our side. Please try again later.</p>"
                )
                headers = _headers("text/html; charset=utf-8", body)
            # exc_info: allowed to replace a status the app set but nothing was sent yet
            start_response("500 Internal Server Error", headers, sys.exc_info())
            return [body]


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering a problem document instead of HTML."""
    from gunicorn import util

    body = problem_body(status_int, GUNICORN_DETAIL.get(status_int, reason))
    head = f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in _headers(PROBLEM_MEDIA_TYPE, body)
    )
    util.write_nonblock(sock, head.encode("latin-1") + b"\r\n" + body)


def install_in_gunicorn(_worker=None) -> None:
    """In a gunicorn worker (its ``post_worker_init`` hook): its error pages become problem
    documents. gunicorn writes every error page through ``gunicorn.util.write_error``."""
    from gunicorn import util

    util.write_error = write_problem
