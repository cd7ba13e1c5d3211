"""Logs as JSON lines: one object per line, whichever process or library wrote it.

Every process of the service (gunicorn's arbiter and workers, the sealer, the CLI's
long-running commands) formats its records with ``JsonFormatter``, so a log shipper reads
one JSON object per line and never has to stitch a multi-line traceback back together: an
exception travels as fields of its line (``exc_type``, ``exc_message`` and ``exc``, the
traceback as one string). ``component`` says which process wrote the line (``web``,
``sealer``); inside a web request ``request_id`` is added by web/logs.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields given to the
    formatter (``component``), the record's extra fields, and its exception if any."""

    def __init__(self, fields: dict[str, object] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
            **self.fields,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            kind, error = record.exc_info[0], record.exc_info[1]
            line["exc_type"] = f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")
            line["exc_message"] = str(error)
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # json.dumps escapes newlines: a traceback stays on this one line
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(
    component: str, level: int = logging.INFO, filters: list[logging.Filter] | None = None
) -> None:
    """JSON lines on stderr for everything this process logs (a process without gunicorn's
    logging configuration: the sealer, the worker). Replaces the root logger's handlers.
    ``filters`` add fields of the moment (the worker's job id)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter({"component": component}))
    for extra in filters or ():
        handler.addFilter(extra)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Warnings (deprecations...) are records too, not raw text on stderr
    logging.captureWarnings(True)
    # And an exception nothing caught is a last JSON line rather than a bare traceback
    sys.excepthook = _log_uncaught


def _log_uncaught(kind, error, traceback) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("placefund").critical("uncaught exception", exc_info=(kind, error, traceback))
