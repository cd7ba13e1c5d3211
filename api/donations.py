"""Donations: what donors paid. Managers record bank transfers; card payments come via Stripe."""

from __future__ import annotations

from api import donation_schemas, schemas
from api.auth import requires
from api.common import (
    EMPTY_PAGE,
    Blueprint,
    decode_cursor,
    errors,
    idempotency_key,
    money_moving,
    page_out,
    user,
    write,
)
from api.job_schemas import JobSchema
from api.jobs import accepted
from foundation.errors import NotFound
from foundation.transactions import atomic
from identity.roles import MANAGERS, own_scope, visible
from jobs.kinds import statements as statement_jobs
from ledger import listings
from ledger.fund import donations as fund_donations
from ledger.fund.models import Donation
from web.request import db_session

blp = Blueprint("donations", __name__, url_prefix="/api/v1", description="Donations received.")


@blp.route("/donations", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(donation_schemas.DonationIn)
@blp.response(201, donation_schemas.DonationSchema)
def record_donation(data):
    """Record a bank-transfer receipt (against a pledge, or a direct donation)"""
    me = user()
    key = idempotency_key(me)
    refs = {"bank_line": data["bank_reference"]} if data["bank_reference"] else None
    return write(
        fund_donations.record_donation,
        key=key,
        channel=data["channel"],
        amount=data["amount"],
        currency=data["currency"],
        company_id=data["company_id"],
        pledge_id=data["pledge_id"],
        restriction=data["restriction"],
        received_on=data["received_on"],
        refs=refs,
        actor=me,
    )


@blp.route("/donations", methods=["GET"])
@requires("company_member", *MANAGERS)
@errors(400, 422)
@blp.arguments(donation_schemas.DonationArgs, location="query")
@blp.response(200, schemas.page_schema(donation_schemas.DonationSchema, "DonationPage"))
def list_donations(args):
    """List donations (a company sees its own payments)"""
    ok, company_id = own_scope(user(), args["company_id"])
    if not ok:
        return EMPTY_PAGE
    return page_out(
        listings.list_donations(
            db_session(),
            company_id=company_id,
            pledge_id=args["pledge_id"],
            channel=args["channel"],
            start=args["start"],
            end=args["end"],
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


@blp.route("/donations/<int:donation_id>", methods=["GET"])
@requires("company_member", *MANAGERS)
@errors(404)
@blp.response(200, donation_schemas.DonationSchema)
def get_donation(donation_id):
    """Read a donation (a company: its own)"""
    donation = db_session().get(Donation, donation_id)
    visible(user(), donation.company_id if donation else None, "Donation", donation_id)
    if donation is None:
        raise NotFound(f"Donation {donation_id} does not exist.")
    return donation


@blp.route("/donations/yearly-statements", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 413, 415, 422)
@blp.arguments(donation_schemas.YearlyStatementsIn)
@blp.response(202, JobSchema)
def make_yearly_statements(data):
    """Make and keep every donor company's yearly statement in the background (202 with the
    job to poll; one unfinished job per year)"""
    with atomic(db_session()) as session:
        job, created = statement_jobs.submit(session, year=data["year"], actor_id=user().id)
    return accepted(job, created=created)
