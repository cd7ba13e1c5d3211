"""Pledges: a company promises a donation, optionally restricted, paid in instalments."""

from __future__ import annotations

from flask import current_app

from api import pledge_schemas, schemas
from api.auth import requires
from api.common import (
    EMPTY_PAGE,
    Blueprint,
    With,
    check_precondition,
    decode_cursor,
    errors,
    etag_for,
    idempotency_key,
    money_moving,
    page_out,
    precondition,
    unit_of_work,
    user,
)
from foundation.errors import NotFound
from foundation.transactions import atomic
from identity.roles import MANAGERS, is_manager, own_scope, visible
from ledger import listings
from ledger.fund import pledges as fund_pledges
from ledger.fund.models import Pledge
from web.problems import ApiError
from web.request import db_session

blp = Blueprint("pledges", __name__, url_prefix="/api/v1", description="Donation pledges.")


def pledge_view(pledge: Pledge, paid: int) -> With:
    return With(
        pledge,
        paid=paid,
        outstanding=pledge.amount - paid,
        status="paid" if paid >= pledge.amount else "open",
    )


def _pledge(session, pledge_id: int) -> Pledge:
    pledge = session.get(Pledge, pledge_id)
    visible(user(), pledge.company_id if pledge else None, "Pledge", pledge_id)
    if pledge is None:
        raise NotFound(f"Pledge {pledge_id} does not exist.")
    return pledge


@blp.route("/pledges", methods=["POST"])
@requires("company_member", *MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(pledge_schemas.PledgeIn)
@blp.response(201, pledge_schemas.PledgeSchema)
def create_pledge(data):
    """Pledge a donation: a company for itself (a manager may record one for a company)"""
    me = user()
    if is_manager(me):
        if data["company_id"] is None:
            raise ApiError(422, "Say which company pledges.", fields={"company_id": ["required"]})
        company_id = data["company_id"]
    else:
        if data["company_id"] not in (None, me.organisation_id):
            raise ApiError(
                422,
                "A company pledges only for itself.",
                fields={"company_id": ["must be your own organisation"]},
            )
        if me.organisation.verified_at is None:
            raise ApiError(
                403,
                "Your organisation is not verified yet; a fund manager verifies it first.",
                code="organisation_not_verified",
            )
        company_id = me.organisation_id
    key = idempotency_key(me)
    with unit_of_work() as uow:
        session = uow.session
        pledge = fund_pledges.record_pledge(
            session,
            key=key,
            company_id=company_id,
            amount=data["amount"],
            currency=data["currency"],
            instalments=data["instalments"],
            restriction=data["restriction"],
            public_name=data["public_name"],
            pledged_on=data["pledged_on"],
            actor=me,
            scheme=current_app.extensions["placefund.va_scheme"],
            uow=uow,
        )
        paid = fund_pledges.pledge_paid(session, pledge.id)
    return pledge_view(pledge, paid), 201, {"ETag": etag_for("pledge", pledge)}


@blp.route("/pledges", methods=["GET"])
@requires("company_member", *MANAGERS)
@errors(400, 422)
@blp.arguments(pledge_schemas.PledgeArgs, location="query")
@blp.response(200, schemas.page_schema(pledge_schemas.PledgeSchema, "PledgePage"))
def list_pledges(args):
    """List pledges with their payment status (a company sees its own)"""
    ok, company_id = own_scope(user(), args["company_id"])
    if not ok:
        return EMPTY_PAGE
    result = listings.list_pledges(
        db_session(),
        company_id=company_id,
        status=args["status"],
        start=args["start"],
        end=args["end"],
        limit=args["limit"],
        after=decode_cursor(args["cursor"]),
    )
    return {
        "items": [pledge_view(p, paid) for p, paid in result.items],
        "next_cursor": page_out(result)["next_cursor"],
    }


@blp.route("/pledges/<int:pledge_id>", methods=["GET"])
@requires("company_member", *MANAGERS)
@errors(404)
@blp.response(200, pledge_schemas.PledgeSchema, headers={"ETag": {"schema": {"type": "string"}}})
def get_pledge(pledge_id):
    """Read a pledge with its instalments and what has been paid"""
    session = db_session()
    pledge = _pledge(session, pledge_id)
    paid = fund_pledges.pledge_paid(session, pledge.id)
    return pledge_view(pledge, paid), 200, {"ETag": etag_for("pledge", pledge)}


@blp.route("/pledges/<int:pledge_id>", methods=["PATCH"])
@requires("company_member", *MANAGERS)
@errors(404, 413, 415, 422)
@precondition
@blp.arguments(pledge_schemas.PledgePatch)
@blp.response(200, pledge_schemas.PledgeSchema)
def update_pledge(data, pledge_id):
    """Change whether the company's name may be shown publicly for this pledge

    Send If-Match with the ETag you read, or the version field.
    """
    with atomic(db_session()) as session:
        pledge = _pledge(session, pledge_id)
        check_precondition("pledge", pledge, data.get("version"))
        pledge.public_name = data["public_name"]
        session.flush()
        paid = fund_pledges.pledge_paid(session, pledge.id)
    return pledge_view(pledge, paid), 200, {"ETag": etag_for("pledge", pledge)}
