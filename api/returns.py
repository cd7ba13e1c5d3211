"""Return agreements, revenue reports and revenue returns (收益回流)."""

from __future__ import annotations

from api import return_schemas, schemas
from api.auth import requires
from api.common import (
    EMPTY_PAGE,
    Blueprint,
    With,
    decode_cursor,
    errors,
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
from ledger.fund import revenue_returns
from ledger.fund.models import ReturnAgreement, RevenueReport
from web.request import db_session

blp = Blueprint(
    "returns",
    __name__,
    url_prefix="/api/v1",
    description="Return agreements: a share of revenue flows back to the fund.",
)


def agreement_view(session, agreement: ReturnAgreement) -> With:
    totals = listings.agreement_totals(session, agreement.id)
    return With(agreement, due=totals.due, returned=totals.returned, outstanding=totals.outstanding)


def _agreement(session, agreement_id: int) -> ReturnAgreement:
    agreement = session.get(ReturnAgreement, agreement_id)
    visible(user(), agreement.business_id if agreement else None, "Agreement", agreement_id)
    if agreement is None:
        raise NotFound(f"Return agreement {agreement_id} does not exist.")
    return agreement


@blp.route("/return-agreements", methods=["POST"])
@requires(*MANAGERS)
@errors(404, 409, 413, 415, 422)
@blp.arguments(return_schemas.AgreementIn)
@blp.response(201, return_schemas.AgreementSchema)
def create_agreement(data):
    """Agree the share of revenue (basis points), period and cap a business returns"""
    with atomic(db_session()) as session:
        revenue_returns.check_agreement_links(
            session,
            business_id=data["business_id"],
            project_id=data["project_id"],
            disbursement_id=data["disbursement_id"],
        )
        agreement = revenue_returns.create_return_agreement(session, actor=user(), **data)
        return agreement_view(session, agreement)


@blp.route("/return-agreements", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(400, 422)
@blp.arguments(return_schemas.AgreementArgs, location="query")
@blp.response(200, schemas.page_schema(return_schemas.AgreementSchema, "AgreementPage"))
def list_agreements(args):
    """List return agreements with what is due and returned (a business sees its own)"""
    ok, business_id = own_scope(user(), args["business_id"])
    if not ok:
        return EMPTY_PAGE
    session = db_session()
    result = listings.list_agreements(
        session, business_id=business_id, limit=args["limit"], after=decode_cursor(args["cursor"])
    )
    return {
        "items": [agreement_view(session, a) for a in result.items],
        "next_cursor": page_out(result)["next_cursor"],
    }


@blp.route("/return-agreements/<int:agreement_id>", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(404)
@blp.response(200, return_schemas.AgreementSchema)
def get_agreement(agreement_id):
    """Read an agreement: what its revenue reports made due, what came back, what is left"""
    session = db_session()
    return agreement_view(session, _agreement(session, agreement_id))


@blp.route("/return-agreements/<int:agreement_id>/revenue-reports", methods=["POST"])
@requires("business_member", *MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(return_schemas.RevenueReportIn)
@blp.response(201, return_schemas.RevenueReportSchema)
def report_revenue(data, agreement_id):
    """Report revenue for a period; the amount due follows from the agreement (and its cap)"""
    me = user()
    key = idempotency_key(me)
    with unit_of_work() as uow:
        session = uow.session
        _agreement(session, agreement_id)
        report = revenue_returns.report_revenue(
            session,
            key=key,
            agreement_id=agreement_id,
            period_start=data["period_start"],
            period_end=data["period_end"],
            revenue=data["revenue"],
            actor=me,
            uow=uow,
        )
    return With(report, currency=report_currency(agreement_id))


@blp.route("/revenue-reports/<int:report_id>/corrections", methods=["POST"])
@requires("business_member", *MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(return_schemas.RevenueCorrectionIn)
@blp.response(201, return_schemas.RevenueReportSchema)
def correct_report(data, report_id):
    """Correct a revenue report: it is reversed and a new report, with the reason, replaces it

    Both stay on record; the reversed one carries ``reversed_at``, the new one
    ``corrects_report_id`` and ``reason``.
    """
    me = user()
    key = idempotency_key(me)
    with unit_of_work() as uow:
        session = uow.session
        report = session.get(RevenueReport, report_id)
        if report is None:
            raise NotFound(f"Revenue report {report_id} does not exist.")
        _agreement(session, report.agreement_id)
        new = revenue_returns.correct_revenue_report(
            session,
            key=key,
            report_id=report_id,
            revenue=data["revenue"],
            reason=data["reason"],
            period_start=data["period_start"],
            period_end=data["period_end"],
            actor=me,
            uow=uow,
        )
    return With(new, currency=report_currency(new.agreement_id))


def report_currency(agreement_id: int) -> str:
    return db_session().get(ReturnAgreement, agreement_id).currency


@blp.route("/return-agreements/<int:agreement_id>/revenue-reports", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(400, 404, 422)
@blp.arguments(schemas.PageArgs, location="query")
@blp.response(200, schemas.page_schema(return_schemas.RevenueReportSchema, "RevenueReportPage"))
def list_reports(args, agreement_id):
    """The revenue reports on an agreement"""
    session = db_session()
    agreement = _agreement(session, agreement_id)
    result = listings.list_revenue_reports(
        session, agreement_id, limit=args["limit"], after=decode_cursor(args["cursor"])
    )
    return {
        "items": [With(r, currency=agreement.currency) for r in result.items],
        "next_cursor": page_out(result)["next_cursor"],
    }


@blp.route("/return-agreements/<int:agreement_id>/returns", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(return_schemas.RevenueReturnIn)
@blp.response(201, return_schemas.RevenueReturnSchema)
def record_return(data, agreement_id):
    """Record money a business returned against its agreement (no more than is due)"""
    me = user()
    key = idempotency_key(me)
    refs = {"bank_line": data["bank_reference"]} if data["bank_reference"] else None
    with unit_of_work() as uow:
        return revenue_returns.record_revenue_return(
            uow.session,
            key=key,
            agreement_id=agreement_id,
            amount=data["amount"],
            received_on=data["received_on"],
            refs=refs,
            actor=me,
            uow=uow,
        )


@blp.route("/return-agreements/<int:agreement_id>/returns", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(400, 404, 422)
@blp.arguments(schemas.PageArgs, location="query")
@blp.response(200, schemas.page_schema(return_schemas.RevenueReturnSchema, "RevenueReturnPage"))
def list_returns(args, agreement_id):
    """The returns recorded against an agreement"""
    session = db_session()
    _agreement(session, agreement_id)
    return page_out(
        listings.list_revenue_returns(
            session, agreement_id, limit=args["limit"], after=decode_cursor(args["cursor"])
        )
    )
