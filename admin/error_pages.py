"""Error pages: HTML in the reader's language for people, problem documents for programs.

The API registers its handlers (api/errors.py) for every error class; ``register`` wraps
each of them, so a request under ``/api`` or ``/webhooks`` (and the JSON ``/`` and
``/healthz``) still gets its RFC 9457 problem document, while the console, the company and
business pages, the donation pages and any unknown path get an HTML page with the console's
layout, a translated message and the request id to quote.
"""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from admin import messages
from admin.console import CONSOLE_CSP
from foundation.errors import LedgerError, NotFound
from matching.errors import MatchingError

log = logging.getLogger("placefund.console")

#: Paths whose clients are programs: they keep the API's problem documents
JSON_PATHS = ("/api", "/webhooks")
JSON_EXACT = ("/", "/healthz", "/readyz")


def wants_html() -> bool:
    path = request.path
    return not (path in JSON_EXACT or path.startswith(JSON_PATHS))


def _titles() -> dict[int, str]:
    return {
        400: _("The request could not be used"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Not allowed"),
        409: _("Conflict"),
        413: _("Too large"),
        422: _("Cannot be done"),
        429: _("Too many attempts"),
        500: _("Something went wrong"),
        503: _("Temporarily unavailable"),
    }


def _http_message(error: HTTPException) -> str:
    if isinstance(error, CSRFError):
        return _("The form expired or was not sent from this site. Please try again.")
    return {
        400: _("The request could not be read. Please go back and try again."),
        401: _("Please sign in."),
        403: _("Your role may not open this page."),
        404: _("This page does not exist."),
        405: _("This page cannot be used this way."),
        413: _("The upload is too large."),
        429: _("Too many attempts. Please wait a few minutes and try again."),
    }.get(error.code or 500, _("Something went wrong on our side. Please try again later."))


def describe(error: BaseException) -> tuple[int, str]:
    """The HTTP status and the translated message of an error, for a person."""
    if isinstance(error, HTTPException):
        return error.code or 500, _http_message(error)
    if isinstance(error, NotFound):
        return 404, _("This page does not exist.")
    if isinstance(error, LedgerError | MatchingError):
        return error.status, messages.message(error)
    if isinstance(error, StaleDataError):
        return 409, _("Someone else changed this meanwhile. Reload the page and try again.")
    if isinstance(error, IntegrityError):
        return 409, _("This conflicts with stored data. Reload the page and try again.")
    if isinstance(error, OperationalError):
        return 503, _("The database is unavailable. Please try again in a moment.")
    return 500, _("Something went wrong on our side. Please try again later.")


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        try:
            session.rollback()
        except Exception:  # a broken connection: the page is still shown
            log.warning("rollback after an error failed")


def error_page(error: BaseException):
    """The console's error page for ``error`` (status, translated message, request id)."""
    status, message = describe(error)
    if status >= 500 and not isinstance(error, HTTPException | OperationalError):
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
    _rollback()
    try:
        body = render_template(
            "console/error.html",
            code=status,
            title=_titles().get(status, _("Error")),
            message=message,
            request_id=g.get("request_id", ""),
        )
    except Exception:  # the layout itself failed (e.g. no database): a bare page still helps
        log.exception("the error page could not be rendered")
        body = (
            f"<!doctype html><meta charset=utf-8><title>{status}</title>"
            f"<h1>{status}</h1><p>request id: {g.get('request_id', '')}</p>"
        )
    headers = {}
    if isinstance(error, HTTPException):
        headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "retry-after")}
    headers["Content-Type"] = "text/html; charset=utf-8"
    # The console's policy, which lets the page load the console's stylesheet: an unknown
    # path belongs to no blueprint and would otherwise get the API's (which allows nothing)

    headers["Content-Security-Policy"] = CONSOLE_CSP
    return body, status, headers


def register(app: Flask) -> None:
    """Wrap the API's handlers: HTML pages for people, the API's own answer elsewhere."""
    handlers = dict(app.error_handler_spec[None][None])
    for cls in (
        HTTPException,
        LedgerError,
        MatchingError,
        StaleDataError,
        IntegrityError,
        DBAPIError,
        Exception,
    ):
        api_handler = handlers.get(cls)

        def handle(error, _api=api_handler):
            if wants_html() or _api is None:
                return error_page(error)
            return _api(error)

        app.register_error_handler(cls, handle)
