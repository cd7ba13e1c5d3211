"""Bearer tokens and who may call what.

``Authorization: Bearer pf_...``. Tokens are looked up by their SHA-256 (``identity.tokens``
issues them and runs the lookup); the plain token exists only in the response that created
it. ``requires(*roles)`` both enforces and
documents the roles of an endpoint.
"""

from __future__ import annotations

import datetime as dt
import hmac
from functools import wraps

from flask import g, request
from sqlalchemy import update
from sqlalchemy.orm import Session

from api.errors import documented_errors
from api.token_cache import TokenCache
from foundation import auth_sync
from foundation.db import utcnow
from identity import tokens
from identity.models import ApiToken, User
from identity.roles import ROLES
from identity.tokens import TOKEN_PREFIX, hash_token
from web.problems import ApiError
from web.request import db_session

#: last_used_at is written at most this often per token (a write per request would serialise
#: every request of a busy client on one row)
TOUCH_INTERVAL = dt.timedelta(seconds=60)

#: ``requires()`` without roles: any signed-in user
ANYONE = ROLES

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="placefund"'}


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, code="unauthorized", headers=_CHALLENGE)


def _token_cache(session: Session) -> TokenCache | None:
    """This app's cache of verified tokens: PostgreSQL only (it needs LISTEN/NOTIFY)."""
    from flask import current_app

    extensions = current_app.extensions
    if "placefund.token_cache" not in extensions:
        engine = session.get_bind()
        extensions["placefund.token_cache"] = (
            TokenCache(engine) if engine.dialect.name == "postgresql" else None
        )
    return extensions["placefund.token_cache"]


def authenticate() -> User:
    """The user behind the request's bearer token, or a 401 problem."""
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("Authentication required: send 'Authorization: Bearer <token>'.")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise _unauthorized("The Authorization header must be 'Bearer <token>'.")
    digest = hash_token(token)
    session = db_session()
    cache = _token_cache(session)
    values = None if cache is None else cache.get(digest)
    if values is None:
        generation = None if cache is None else cache.generation
        values = tokens.lookup(session, digest)
        # compare_digest: belt and braces; the index lookup already matched on the hash
        if values is None or not hmac.compare_digest(values[1], digest):
            raise _unauthorized("The token is not valid or has been revoked.")
        if cache is not None:
            cache.put(digest, values, generation)
    token_id, _hash, last_used_at = values[:3]
    user = tokens.loaded_user(session, values)
    now = utcnow()
    if last_used_at is None or now - last_used_at > TOUCH_INTERVAL:
        # Also a check in the database of a token the cache holds: a revoked one is refused
        generation = None if cache is None else cache.generation
        touched = session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(last_used_at=now),
            # Notifies nothing (migration 0008), so its commit waits for no listener
            execution_options={auth_sync.QUIET: True},
        ).rowcount
        session.commit()
        if not touched:
            if cache is not None:
                cache.forget(digest)
            raise _unauthorized("The token is not valid or has been revoked.")
        if cache is not None:
            # Replaces the entry (unless an invalidation came meanwhile, which emptied it)
            cache.put(digest, [token_id, _hash, now, *values[3:]], generation)
    g.user = user
    g.token_id = token_id
    return user


def requires(*roles: str):
    """Only these roles may call the view; documents the roles and the bearer scheme.

    Authentication runs before the request body is parsed, so an anonymous caller learns
    nothing about the request format or the objects behind it.
    """
    roles = roles or ANYONE
    unknown = set(roles) - set(ROLES)
    if unknown:  # pragma: no cover - a programming error
        raise ValueError(f"unknown roles {unknown}")

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            user = authenticate()
            if user.role not in roles:
                raise ApiError(
                    403,
                    f"Your role ({user.role}) may not do this; it needs one of: "
                    + ", ".join(roles)
                    + ".",
                    code="forbidden",
                )
            return func(*args, **kwargs)

        wrapper._apidoc = dict(getattr(wrapper, "_apidoc", {}))
        manual = dict(wrapper._apidoc.get("manual_doc", {}))
        manual["security"] = [{"bearerAuth": []}]
        manual["x-required-roles"] = list(roles)
        role_note = f"**Roles:** {', '.join(roles)}."
        body = (func.__doc__ or "").strip().partition("\n")[2].strip()
        body = manual.get("description") or " ".join(line.strip() for line in body.splitlines())
        manual["description"] = f"{body}\n\n{role_note}" if body else role_note
        responses = dict(manual.get("responses", {}))
        responses.update(documented_errors(401, 403))
        manual["responses"] = responses
        wrapper._apidoc["manual_doc"] = manual
        return wrapper

    return decorator


def public(func):
    """No authentication: documented with an empty security requirement."""
    func._apidoc = dict(getattr(func, "_apidoc", {}))
    manual = dict(func._apidoc.get("manual_doc", {}))
    manual["security"] = []
    manual["x-required-roles"] = []
    func._apidoc["manual_doc"] = manual
    return func


def current_user() -> User:
    return g.user
