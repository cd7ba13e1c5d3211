"""API tokens: issuing, revoking and looking them up by their SHA-256.

A token is ``pf_`` and 43 URL-safe characters (32 random bytes), shown once to its owner;
only its SHA-256 is stored (``identity.models.ApiToken``). The API's bearer authentication
(``api.auth``) reads the ``Authorization`` header and calls ``lookup`` and ``loaded_user``
here; the registration, the CLI and the demo issue tokens through ``issue_token``.

Like the other services these only flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from foundation.db import as_loaded, utcnow
from foundation.pgwire import Batch
from identity.models import ApiToken, Organisation, User

TOKEN_PREFIX = "pf_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh secret: ``pf_`` and 43 URL-safe characters (32 random bytes)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_token(
    session: Session, user: User, *, name: str, created_by: User | None = None
) -> tuple[ApiToken, str]:
    """Store a new token for ``user``; return the row and the plain token (shown once)."""
    token = new_token()
    row = ApiToken(
        user_id=user.id,
        name=name,
        prefix=token[:9],
        token_hash=hash_token(token),
        created_by_id=(created_by or user).id,
    )
    session.add(row)
    session.flush()
    return row, token


def revoke_token(session: Session, token: ApiToken, actor: User | None) -> ApiToken:
    """Revoke a token (idempotent: revoking twice keeps the first time and revoker).

    ``actor`` None: revoked by the operator (``placefund token revoke``), nobody recorded.
    """
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.revoked_by_id = actor.id if actor is not None else None
        session.flush()
    return token


# --- verifying -------------------------------------------------------------------------------


_USER_COLUMNS = [c.key for c in User.__table__.columns]
_ORG_COLUMNS = [c.key for c in Organisation.__table__.columns]
#: One Core query (compiled once, cached) for the token, its user and the user's
#: organisation: the check runs on every request, and loading ORM entities through a query
#: costs several times the round trip itself.
_LOOKUP = (
    select(
        ApiToken.id.label("token_id"),
        ApiToken.token_hash,
        ApiToken.last_used_at,
        *(User.__table__.c[k].label(f"u_{k}") for k in _USER_COLUMNS),
        *(Organisation.__table__.c[k].label(f"o_{k}") for k in _ORG_COLUMNS),
    )
    .join(User.__table__, User.__table__.c.id == ApiToken.user_id)
    .join(Organisation.__table__, Organisation.__table__.c.id == User.__table__.c.organisation_id)
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))
)


def loaded_user(session: Session, values: list) -> User:
    """The row's user and organisation as objects of this session, without a second query.

    make_transient_to_detached + add is SQLAlchemy's documented way to place objects whose
    state is already known into a session (as a cache would): they are persistent, exactly
    as if loaded, so relationships and flushes treat them like any other loaded object.
    """
    org = as_loaded(Organisation, dict(zip(_ORG_COLUMNS, values[_ORG_SLICE], strict=True)))
    user = as_loaded(
        User, {**dict(zip(_USER_COLUMNS, values[_USER_SLICE], strict=True)), "organisation": org}
    )
    session.add(user)
    return user


_USER_SLICE = slice(3, 3 + len(_USER_COLUMNS))
_ORG_SLICE = slice(3 + len(_USER_COLUMNS), None)


class _Lookup:
    """The token query, run the cheapest way each database allows.

    On PostgreSQL it runs on the session's own DBAPI connection through foundation.pgwire, so
    the BEGIN that opens the request's transaction travels with it (one round trip, not two),
    and its values pass through the same result processors that SQLAlchemy would apply (UTC
    timestamps). SQLite runs it through SQLAlchemy as usual.
    """

    def __init__(self):
        self.compiled = {}

    def row(self, session: Session, digest: str) -> list | None:
        connection = session.connection()
        dialect = connection.dialect
        if dialect.name != "postgresql":
            row = connection.execute(_LOOKUP, {"digest": digest}).one_or_none()
            return None if row is None else list(row)
        plan = self.compiled.get(dialect)
        if plan is None:
            sql = str(_LOOKUP.compile(dialect=dialect)).replace("%(digest)s", "$1")
            processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in _LOOKUP.selected_columns
            ]
            plan = self.compiled[dialect] = (sql, processors)
        sql, processors = plan
        batch = Batch(connection.connection.driver_connection, connection)
        lookup = batch.add(sql, [digest])
        raw = batch.run()[lookup].row()
        if raw is None:
            return None
        return [v if p is None else p(v) for v, p in zip(raw, processors, strict=True)]


_lookup = _Lookup()


def lookup(session: Session, digest: str) -> list | None:
    """The live (unrevoked) token with this SHA-256 as one row: ``[token id, hash,
    last_used_at, *user columns, *organisation columns]`` (``loaded_user`` makes objects of
    it), or None."""
    return _lookup.row(session, digest)
