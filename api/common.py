"""What every view needs: the unit of work, idempotency keys, cursors, scopes and preconditions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import g, request
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy.orm import Session
from webargs.flaskparser import FlaskParser

from api.errors import documented_errors
from foundation import transactions
from foundation.errors import NotFound
from foundation.transactions import UnitOfWork
from identity.models import User
from web.problems import ApiError
from web.request import db_session

#: Printable ASCII without spaces: what Stripe and the IETF draft accept, and nothing that
#: could smuggle a separator into the namespaced ledger key
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class Parser(FlaskParser):
    """webargs' parser, with every unreadable body a 400 (never a 500).

    ``json.loads`` raises plain ValueError for an integer beyond Python's digit limit and
    RecursionError for absurd nesting; both mean the body is not JSON we accept.
    """

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            raise json.JSONDecodeError("unreadable JSON", "", 0) from exc


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, *args, **kwargs):
        """As flask-smorest's, with a schema class instantiated once here: webargs would
        build (and deep-copy the fields of) a new instance on every request."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    """The request's transaction for a money-moving write, as a unit of work to hand to the
    service (``uow=``): committed on success, rolled back on any error. A replay it reports
    is told to the client."""
    uow = UnitOfWork(db_session())
    try:
        with uow:
            yield uow
    finally:
        if uow.replayed:
            g.idempotent_replayed = True  # api.views answers Idempotent-Replayed: true


def write(service, *args, **kwargs):
    """``service(session, ..., uow=...)`` as the request's one transaction, its last posting
    allowed to commit with it (foundation.transactions.write). A replay is told to the
    client."""
    result, uow = transactions.write(db_session(), service, *args, **kwargs)
    if uow.replayed:
        g.idempotent_replayed = True
    return result


def idempotency_key(user: User) -> str:
    """The ledger key for a money-moving POST, namespaced by the caller's organisation.

    Two tenants sending the same header value get different keys, so they can neither
    collide nor probe each other's requests.
    """
    value = request.headers.get("Idempotency-Key")
    if value is None:
        raise ApiError(
            400,
            "This request moves money: send an Idempotency-Key header (a unique value per "
            "operation, reused only to retry it).",
            code="idempotency_key_required",
            fields={"Idempotency-Key": ["required"]},
        )
    if not _KEY.match(value):
        raise ApiError(
            400,
            "The Idempotency-Key must be 1 to 200 printable ASCII characters without spaces.",
            code="idempotency_key_invalid",
            fields={"Idempotency-Key": ["1 to 200 printable ASCII characters"]},
        )
    return f"api:{user.organisation_id}:{value}"


IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "Unique per operation; a retry with the same key and body returns the "
    "original result, the same key with another body is a 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
}


# --- cursors -------------------------------------------------------------------------------


def encode_cursor(after: int | None) -> str | None:
    """The cursor is the keyset position itself; it only moves within the caller's scope."""
    return None if after is None else str(after)


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise ApiError(
            400, "The cursor is not valid.", code="invalid_cursor", fields={"cursor": ["invalid"]}
        )
    return int(cursor)


def page_out(result) -> dict:
    return {"items": result.items, "next_cursor": encode_cursor(result.next_after)}


EMPTY_PAGE = {"items": [], "next_cursor": None}


# --- lookups -------------------------------------------------------------------------------
# (who sees what: identity.roles.visible and own_scope)


def get_or_404(session: Session, model, ident: int, what: str):
    obj = session.get(model, ident)
    if obj is None:
        raise NotFound(f"{what} {ident} does not exist.")
    return obj


# --- preconditions (ETags) -------------------------------------------------------------------


def etag_for(kind: str, obj) -> str:
    return f'"{kind}-{obj.id}-v{obj.version}"'


def check_precondition(kind: str, obj, body_version: int | None) -> None:
    """A stale update is refused: If-Match (an ETag) or a ``version`` field is required."""
    if_match = request.headers.get("If-Match")
    current = etag_for(kind, obj)
    if if_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
        if "*" not in tags and current not in tags:
            raise ApiError(
                412,
                "The object changed since you read it (If-Match does not match); "
                "read it again and retry.",
                code="precondition_failed",
            )
    elif body_version is None:
        raise ApiError(
            428,
            "Updates need the version you read: send If-Match with the ETag, or a version field.",
            code="precondition_required",
        )
    if body_version is not None and body_version != obj.version:
        raise ApiError(
            409,
            f"The object is at version {obj.version}, not {body_version}; read it again and retry.",
            code="stale_version",
            fields={"version": [f"current version is {obj.version}"]},
        )


def set_etag(response, kind: str, obj):
    response.headers["ETag"] = etag_for(kind, obj)
    return response


class With:
    """An object seen with extra computed attributes (paid, outstanding...) for a schema."""

    def __init__(self, obj, **extra):
        self._obj = obj
        self.__dict__.update(extra)

    def __getattr__(self, name):
        return getattr(self._obj, name)


def user() -> User:
    return g.user


PRECONDITION_HEADER = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The ETag you read; or send the version field in the body",
    "schema": {"type": "string"},
}


def _manual_doc(func, **updates):
    func._apidoc = dict(getattr(func, "_apidoc", {}))
    manual = dict(func._apidoc.get("manual_doc", {}))
    for key, value in updates.items():
        if isinstance(value, dict):
            manual[key] = {**manual.get(key, {}), **value}
        elif isinstance(value, list):
            manual[key] = [*manual.get(key, []), *value]
        else:
            manual[key] = value
    func._apidoc["manual_doc"] = manual
    return func


def errors(*statuses: int):
    """Document the error statuses a view may answer with (all problem documents)."""

    def decorator(func):
        return _manual_doc(func, responses=documented_errors(*statuses))

    return decorator


def money_moving(func):
    """Document the required Idempotency-Key header of a money-moving POST."""
    return _manual_doc(func, parameters=[IDEMPOTENCY_HEADER])


def precondition(func):
    """Document If-Match and the 412/428 answers of an update."""

    return _manual_doc(
        func, parameters=[PRECONDITION_HEADER], responses=documented_errors(409, 412, 428)
    )
