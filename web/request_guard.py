"""Text no column can hold is refused at the door: NUL characters and unpaired surrogates.

PostgreSQL refuses a NUL in text (the driver raises before sending) and no UTF-8 encoder
accepts a lone surrogate, so either one reaching the database was a 500; SQLite kept a NUL
and cut the text at it when read back, so a reason ``"keep\\u0000 the rest"`` came back as
``keep`` after a 201. One hook, before any view, looks at the path, the query string, a
form's fields and a JSON body's keys and strings, and refuses the request when any holds
one: a problem document (422 naming the fields, 400 for the path) under ``/api``, the
console's 400 page elsewhere for the path and the query string. Nothing is read further and
nothing is stored.

A page's form post is the exception: a person who pasted a NUL into a field is owed the form
again with the error next to that field, in their language, and only the view knows which
form it renders. So for a form post outside ``/api`` (path and query clean) the hook does not
refuse; it hands the view the names of the offending fields (``unstorable_form_fields``),
whose form validation puts the error on each (admin/forms.py, ``ConsoleForm``) and fails.
Two things make sure nothing is stored whatever the view does: the characters are removed
from ``request.form`` (a re-rendered field cannot hold them, and no column ever sees them),
and the request's database session refuses to commit (foundation/transactions.py,
``refuse_commit``), so a view that ignored the list would fail rather than store.

The Stripe webhook is left to its own checks (api/webhooks.py): its body is verified raw
and may be larger than what this hook could read.
"""

from __future__ import annotations

import json
import re

from flask import Flask, current_app, g, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest

from foundation.transactions import HalfPostedError, refuse_commit
from web.problems import ApiError
from web.request import db_session

#: A NUL, or a UTF-16 surrogate code point (a lone one: Python keeps pairs as one character)
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

MESSAGE = "must not contain NUL characters or unpaired surrogates"
SKIPPED_PREFIXES = ("/webhooks/",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def unstorable_fields(value, where: str = "") -> list[str]:
    """Dotted paths of the strings (and object keys) in ``value`` that hold NUL or a lone
    surrogate; ``_schema`` names the document itself."""
    found: list[str] = []
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            found.append(where or "_schema")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if UNSTORABLE.search(str(key)):
                found.append(path)
            else:
                found.extend(unstorable_fields(item, path))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(unstorable_fields(item, f"{where}.{index}" if where else str(index)))
    return found


def _json_body():
    """The body parsed, or None when it is not JSON we could read (the view's parser then
    answers 400 with the reason)."""
    raw = request.get_data(cache=True)
    # In valid JSON a NUL or a surrogate can only be written escaped (``\u0000``, ``\ud800``):
    # a raw one is a control character or invalid UTF-8, which the parser refuses anyway.
    if b"\\u" not in raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _refuse(status: int, detail: str, fields: dict[str, list[str]]):
    if request.path.startswith("/api"):
        code = "unstorable_text" if status == 422 else "bad_request"
        raise ApiError(status, detail, code=code, fields=fields)
    raise BadRequest(detail)


#: ``g`` key: the names of a page's form fields that held unstorable text
_FORM_FIELDS = "unstorable_form_fields"


def unstorable_form_fields() -> tuple[str, ...]:
    """The names of this request's form fields that held a NUL or a lone surrogate (removed
    from ``request.form`` already): a page's form marks each as in error and fails."""
    return g.get(_FORM_FIELDS, ())


def _hand_to_the_form(names: list[str]) -> None:
    """A page's form post: let the view re-render its form with the error next to each
    field, with the characters gone and no commit possible."""
    g.setdefault(_FORM_FIELDS, tuple(dict.fromkeys(names)))
    request.form = ImmutableMultiDict(
        [
            (UNSTORABLE.sub("", key), UNSTORABLE.sub("", value))
            for key, value in request.form.items(multi=True)
        ]
    )
    refuse_commit(
        db_session(), "a form field held text that cannot be stored", UnstorableFormCommit
    )


def refuse_unstorable_text() -> None:
    """Before every view: refuse a request whose path, query, form or JSON body holds text
    that cannot be stored (a page's form post goes to its view, see above)."""
    if UNSTORABLE.search(request.path):
        _refuse(400, "The URL path contains a NUL character or an unpaired surrogate.", {})
    bad = [
        f"query.{key}"
        for key, value in request.args.items(multi=True)
        if UNSTORABLE.search(key) or UNSTORABLE.search(value)
    ]
    if not request.path.startswith(SKIPPED_PREFIXES) and (
        request.content_length or request.headers.get("Transfer-Encoding")
    ):
        mimetype = request.mimetype or ""
        if mimetype in FORM_TYPES:
            fields = [
                key
                for key, value in request.form.items(multi=True)
                if UNSTORABLE.search(key) or UNSTORABLE.search(value)
            ]
            if fields and not bad and not request.path.startswith("/api"):
                _hand_to_the_form(fields)
                return
            bad += fields
        elif mimetype == "application/json" or mimetype.endswith("+json"):
            bad += unstorable_fields(_json_body())
    if bad:
        _refuse(
            422,
            "Text in the request contains a NUL character or an unpaired surrogate, which "
            "cannot be stored; nothing was changed.",
            {field: [MESSAGE] for field in bad},
        )


class UnstorableFormCommit(HalfPostedError):
    """A view tried to commit a form post whose text could not be stored, without letting
    its form say so (a button's view reads no form)."""


def _commit_refused(_error: UnstorableFormCommit):
    """Nothing was stored: the reader gets the 400 page this hook gives a bad path."""
    return current_app.handle_http_exception(
        BadRequest(
            "A form field held a NUL character or an unpaired surrogate, which cannot be "
            "stored; nothing was changed."
        )
    )


def register(app: Flask) -> None:
    """Install the check; call after the hook that sets per-endpoint body limits."""
    app.before_request(refuse_unstorable_text)
    app.register_error_handler(UnstorableFormCommit, _commit_refused)
