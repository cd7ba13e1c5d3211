"""The request id on every log line written while a request is being answered.

A filter on the log handler (placefund/server.py's logging configuration) rather than
``extra=`` at each call: lines from any logger (SQLAlchemy's, the ledger's, an error handler's)
carry the id the client sees in ``X-Request-ID``, so one request's lines can be found.
"""

from __future__ import annotations

import logging

from flask import g, has_app_context


class RequestId(logging.Filter):
    """Adds ``request_id`` (from ``flask.g``) to a record made inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__ and has_app_context():
            request_id = g.get("request_id")
            if request_id:
                record.request_id = request_id
        return True
