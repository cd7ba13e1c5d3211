"""Organisations (self-registration, profiles, verification), the current user, and tokens."""

from __future__ import annotations

from flask import request
from sqlalchemy import select

from api import organisation_schemas, schemas
from api.auth import ANYONE, public, requires
from api.common import (
    EMPTY_PAGE,
    Blueprint,
    check_precondition,
    decode_cursor,
    errors,
    etag_for,
    get_or_404,
    page_out,
    precondition,
    user,
)
from foundation.errors import NotFound
from foundation.transactions import atomic
from identity import organisations, tokens
from identity.models import ApiToken, Organisation, User
from identity.roles import MANAGERS, is_manager, visible
from ledger import listings
from web.problems import ApiError
from web.rate_limits import REGISTRATION_ATTEMPTS, REGISTRATIONS, rate_limits
from web.request import db_session

blp = Blueprint(
    "organisations",
    __name__,
    url_prefix="/api/v1",
    description="Companies, local businesses and fund institutions; users and API tokens.",
)


def _throttled(rule, detail: str) -> None:
    """429 with Retry-After once the client's address is over the rule's limit."""
    refused = rate_limits().hit(rule, request.remote_addr or "?")
    if refused is not None:
        retry = {"Retry-After": str(refused.retry_after)}
        raise ApiError(429, detail, code="too_many_requests", headers=retry)


@blp.route("/organisations", methods=["POST"])
@public
@errors(400, 409, 413, 415, 422, 429)
@blp.arguments(organisation_schemas.RegistrationIn)
@blp.response(201, organisation_schemas.RegistrationOut)
def register(data):
    """Register a company or local business (unverified) and its first member

    Returns the member's first API token: it is shown only in this response. Each client
    address may try a few times only (429 with Retry-After beyond that).
    """
    # Counted with the console's registration page, per client address
    _throttled(
        REGISTRATION_ATTEMPTS, "Too many registration attempts from your address; try again later."
    )
    _throttled(REGISTRATIONS, "Too many organisations registered from your address; try later.")
    with atomic(db_session()) as session:
        org, member, token, plain = organisations.register_organisation(
            session,
            kind=data["kind"],
            name=data["name"],
            name_en=data["name_en"],
            ubn=data["ubn"],
            town_code=data["town_code"],
            contact_email=data["contact"]["email"],
            contact_name=data["contact"]["name"],
        )
    token_out = {c: getattr(token, c) for c in ("id", "user_id", "name", "prefix", "created_at")}
    token_out.update(token=plain, last_used_at=None, revoked_at=None)
    return {"organisation": org, "user": member, "token": token_out}


@blp.route("/organisations", methods=["GET"])
@requires(*ANYONE)
@errors(400, 422)
@blp.arguments(organisation_schemas.OrganisationArgs, location="query")
@blp.response(200, schemas.page_schema(organisation_schemas.OrganisationSchema, "OrganisationPage"))
def list_organisations(args):
    """List organisations (members see only their own)"""
    me = user()
    only = None if is_manager(me) else me.organisation_id
    return page_out(
        listings.list_organisations(
            db_session(),
            only_id=only,
            kind=args["kind"],
            verified=args["verified"],
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


def _organisation(ident: int) -> Organisation:
    org = db_session().get(Organisation, ident)
    visible(user(), org.id if org else None, "Organisation", ident)
    if org is None:
        raise NotFound(f"Organisation {ident} does not exist.")
    return org


@blp.route("/organisations/<int:org_id>", methods=["GET"])
@requires(*ANYONE)
@errors(404)
@blp.response(
    200, organisation_schemas.OrganisationSchema, headers={"ETag": {"schema": {"type": "string"}}}
)
def get_organisation(org_id):
    """Read an organisation (its members and managers only); ETag for updates"""
    org = _organisation(org_id)
    return org, 200, {"ETag": etag_for("organisation", org)}


@blp.route("/organisations/<int:org_id>", methods=["PATCH"])
@requires(*ANYONE)
@errors(404, 413, 415, 422)
@precondition
@blp.arguments(organisation_schemas.OrganisationPatch)
@blp.response(200, organisation_schemas.OrganisationSchema)
def update_organisation(data, org_id):
    """Edit a profile (name, English name, township): own organisation, or a manager

    Send If-Match with the ETag you read, or the version field: a stale update gets 412 or 409.
    """
    with atomic(db_session()) as session:
        org = _organisation(org_id)
        check_precondition("organisation", org, data.pop("version", None))
        org = organisations.update_profile(session, actor=user(), org=org, changes=data)
    return org, 200, {"ETag": etag_for("organisation", org)}


@blp.route("/organisations/<int:org_id>/verification", methods=["POST"])
@requires(*MANAGERS)
@errors(404, 409)
@blp.response(200, organisation_schemas.OrganisationSchema)
def verify_organisation(org_id):
    """Verify a registered company or business (only verified ones take part in money)"""
    with atomic(db_session()) as session:
        org = get_or_404(session, Organisation, org_id, "Organisation")
        org = organisations.verify_organisation(session, org, user())
    return org, 200, {"ETag": etag_for("organisation", org)}


@blp.route("/me", methods=["GET"])
@requires(*ANYONE)
@blp.response(200, organisation_schemas.MeSchema)
def me():
    """Who the token belongs to: user, role and organisation"""
    u = user()
    return {
        "id": u.id,
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "organisation_id": u.organisation_id,
        "organisation": u.organisation,
        "institution": u.institution if u.is_manager else None,
    }


# --- tokens --------------------------------------------------------------------------------


@blp.route("/tokens", methods=["GET"])
@requires(*ANYONE)
@errors(400, 422)
@blp.arguments(organisation_schemas.TokenArgs, location="query")
@blp.response(200, schemas.page_schema(organisation_schemas.TokenSchema, "TokenPage"))
def list_tokens(args):
    """Your API tokens (an admin may list anyone's with user_id); secrets are never shown"""
    me = user()
    target = args["user_id"]
    if me.role != "admin":
        if target not in (None, me.id):
            return EMPTY_PAGE
        target = me.id
    stmt = select(ApiToken)
    if target is not None:
        stmt = stmt.where(ApiToken.user_id == target)
    return page_out(
        listings.page(
            db_session(),
            stmt,
            ApiToken.id,
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


@blp.route("/tokens", methods=["POST"])
@requires(*ANYONE)
@errors(404, 413, 415, 422)
@blp.arguments(organisation_schemas.TokenIn)
@blp.response(201, organisation_schemas.NewTokenSchema)
def create_token(data):
    """Create an API token for yourself (an admin may for any user); shown only once"""
    me = user()
    with atomic(db_session()) as session:
        owner = me
        if data["user_id"] is not None and data["user_id"] != me.id:
            if me.role != "admin":
                raise ApiError(403, "Only an admin may issue tokens for other users.")
            owner = get_or_404(session, User, data["user_id"], "User")
        row, plain = tokens.issue_token(session, owner, name=data["name"].strip(), created_by=me)
        out = {c: getattr(row, c) for c in ("id", "user_id", "name", "prefix", "created_at")}
    out.update(token=plain, last_used_at=None, revoked_at=None)
    return out


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@requires(*ANYONE)
@errors(404)
@blp.response(200, organisation_schemas.TokenSchema)
def revoke_token(token_id):
    """Revoke one of your tokens (an admin may revoke any); it stops working at once"""
    me = user()
    with atomic(db_session()) as session:
        row = session.get(ApiToken, token_id)
        if row is None or (me.role != "admin" and row.user_id != me.id):
            raise NotFound(f"Token {token_id} does not exist.")
        return tokens.revoke_token(session, row, me)
