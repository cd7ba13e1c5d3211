"""Disbursements: proposed by a manager, approved by another institution's, paid or voided."""

from __future__ import annotations

from api import disbursement_schemas, schemas
from api.auth import requires
from api.common import (
    EMPTY_PAGE,
    Blueprint,
    decode_cursor,
    errors,
    etag_for,
    idempotency_key,
    money_moving,
    page_out,
    unit_of_work,
    user,
)
from foundation.errors import NotFound
from foundation.transactions import atomic
from identity.roles import MANAGERS, own_scope, visible
from ledger import listings
from ledger.fund import disbursements as fund_disbursements
from ledger.fund.models import Disbursement
from web.request import db_session

blp = Blueprint(
    "disbursements",
    __name__,
    url_prefix="/api/v1",
    description="Grants and investments: two managers of different institutions approve.",
)


@blp.route("/disbursements", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(disbursement_schemas.DisbursementIn)
@blp.response(201, disbursement_schemas.DisbursementSchema)
def propose(data):
    """Propose a grant or investment: the money is reserved and the proposer's approval counts

    The project's business must be verified; restricted funding must match the project.
    """
    me = user()
    key = idempotency_key(me)
    with unit_of_work() as uow:
        d = fund_disbursements.propose_disbursement(
            uow.session,
            key=key,
            actor=me,
            kind=data["kind"],
            project_id=data["project_id"],
            amount=data["amount"],
            currency=data["currency"],
            funding=data["funding"],
            purpose=data["purpose"],
            on=data["on"],
            uow=uow,
        )
    return d, 201, {"ETag": etag_for("disbursement", d)}


@blp.route("/disbursements", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(400, 422)
@blp.arguments(disbursement_schemas.DisbursementArgs, location="query")
@blp.response(200, schemas.page_schema(disbursement_schemas.DisbursementSchema, "DisbursementPage"))
def list_disbursements(args):
    """List disbursements (a business sees those to its own projects)"""
    ok, business_id = own_scope(user(), None)
    if not ok:  # pragma: no cover - no organisation filter is offered here
        return EMPTY_PAGE
    return page_out(
        listings.list_disbursements(
            db_session(),
            business_id=business_id,
            project_id=args["project_id"],
            status=args["status"],
            start=args["start"],
            end=args["end"],
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


def _disbursement(session, disbursement_id: int) -> Disbursement:
    d = session.get(Disbursement, disbursement_id)
    visible(user(), d.project.business_id if d else None, "Disbursement", disbursement_id)
    if d is None:
        raise NotFound(f"Disbursement {disbursement_id} does not exist.")
    return d


@blp.route("/disbursements/<int:disbursement_id>", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(404)
@blp.response(200, disbursement_schemas.DisbursementSchema)
def get_disbursement(disbursement_id):
    """Read a disbursement with its approvals (who, which institution, when)"""
    d = _disbursement(db_session(), disbursement_id)
    return d, 200, {"ETag": etag_for("disbursement", d)}


@blp.route("/disbursements/<int:disbursement_id>/approval", methods=["POST"])
@requires(*MANAGERS)
@errors(404, 409)
@blp.response(200, disbursement_schemas.DisbursementSchema)
def approve(disbursement_id):
    """Approve: must be a manager of an institution that has not approved yet"""
    with atomic(db_session()) as session:
        d = fund_disbursements.approve_disbursement(
            session, disbursement_id=disbursement_id, actor=user()
        )
    return d, 200, {"ETag": etag_for("disbursement", d)}


@blp.route("/disbursements/<int:disbursement_id>/payment", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(disbursement_schemas.PayIn)
@blp.response(200, disbursement_schemas.DisbursementSchema)
def pay(data, disbursement_id):
    """Pay an approved disbursement from the fund's bank account"""
    me = user()
    key = idempotency_key(me)
    with unit_of_work() as uow:
        d = fund_disbursements.pay_disbursement(
            uow.session,
            key=key,
            disbursement_id=disbursement_id,
            actor=me,
            paid_on=data["paid_on"],
            uow=uow,
        )
    return d, 200, {"ETag": etag_for("disbursement", d)}


@blp.route("/disbursements/<int:disbursement_id>/void", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(disbursement_schemas.VoidIn)
@blp.response(200, disbursement_schemas.DisbursementSchema)
def void(data, disbursement_id):
    """Void a reserved disbursement: the reservation is reversed, restricted money restored"""
    me = user()
    key = idempotency_key(me)
    with unit_of_work() as uow:
        d = fund_disbursements.void_disbursement(
            uow.session,
            key=key,
            disbursement_id=disbursement_id,
            actor=me,
            reason=data["reason"],
            on=data["on"],
            uow=uow,
        )
    return d, 200, {"ETag": etag_for("disbursement", d)}
