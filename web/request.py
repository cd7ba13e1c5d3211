"""The request's database session, and which paths never open the console's cookie session.

Both faces import these; the app factory (placefund.app) installs them."""

from __future__ import annotations

from flask import g
from sqlalchemy.orm import Session

from jobs.queue import Queue

#: Requests here authenticate by bearer token or signature, never by the console's cookie:
#: no cookie session is opened, no console user loaded and no CSRF token asked for. (The
#: API's docs page, /api/docs, renders with the session like any other page.)
STATELESS_PREFIXES = ("/api/v1/", "/webhooks/")


def db_session() -> Session:
    """The request's session (one transaction per request, closed at teardown)."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["placefund.db"].session()
    return g.db_session


def job_queue() -> Queue:
    """Where this app hands background work to the workers (placefund.app installs it)."""
    from flask import current_app

    return current_app.extensions["placefund.queue"]
