"""Matching: offers, requests, related parties, designations, runs, proposals, partnerships."""

from __future__ import annotations

import json

import marshmallow as ma
from marshmallow import fields, validate

from api.auth import requires
from api.common import Blueprint, decode_cursor, errors, page_out, user
from api.job_schemas import JobSchema
from api.jobs import accepted
from api.schemas import MAX_ID, Bool, Id, PageArgs, Strict, Text, page_schema
from foundation.errors import NotFound, ValidationError
from foundation.transactions import atomic
from identity.roles import MANAGERS, MEMBERS
from jobs.kinds import matching as match_jobs
from ledger.money import MAX_AMOUNT
from matching import services
from matching.disclosure import explanation_for
from matching.models import KINDS, JsonList, MatchOffer, MatchRequest, MatchRun
from web.request import db_session

blp = Blueprint("matching", __name__, url_prefix="/api/v1", description="Matchmaking.")


def _codes(**kw):
    return fields.List(
        fields.String(validate=validate.Length(1, 40)), validate=validate.Length(0, 50), **kw
    )


class OfferIn(Strict):
    company_id = Id(load_default=None, metadata={"description": "managers only"})
    kinds = fields.List(
        fields.String(validate=validate.OneOf(KINDS)), required=True, validate=validate.Length(1, 3)
    )
    # Zero passes to the service, whose rule (a stated budget is more than NT$0) the
    # console calls too: one rule, one message (invalid_amount, reason zero_budget)
    budget = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(0, MAX_AMOUNT),
        metadata={"description": "Integer minor units, more than 0; null: no stated budget"},
    )
    industries = _codes(load_default=list)
    regions = _codes(load_default=list)
    home_county = fields.String(load_default=None, allow_none=True, validate=validate.Length(5, 5))
    motives = _codes(load_default=list)
    goals = _codes(load_default=list)
    capacity = fields.Integer(strict=True, load_default=1, validate=validate.Range(1, 1000))
    exclude_industries = _codes(load_default=list)
    exclude_areas = _codes(load_default=list)
    active = Bool(load_default=True)


class OfferSchema(ma.Schema):
    id = fields.Integer()
    company_id = fields.Integer()
    kinds = fields.Method("_kinds")
    budget = fields.Integer(allow_none=True)
    industries = fields.Method("_industries")
    regions = fields.Method("_regions")
    home_county = fields.String(allow_none=True)
    capacity = fields.Integer()
    active = fields.Boolean()

    def _kinds(self, o):
        return JsonList.load(o.kinds)

    def _industries(self, o):
        return JsonList.load(o.industries)

    def _regions(self, o):
        return JsonList.load(o.regions)


class RequestIn(Strict):
    business_id = Id(load_default=None, metadata={"description": "managers only"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    amount = fields.Integer(strict=True, required=True, validate=validate.Range(0, 10**15))
    industry = fields.String(required=True, validate=validate.Length(1, 4))
    town_code = fields.String(required=True, validate=validate.Length(8, 8))
    tags = _codes(load_default=list)
    description = Text(2000, load_default="")
    capacity = fields.Integer(strict=True, load_default=1, validate=validate.Range(1, 100))
    active = Bool(load_default=True)


class RequestSchema(ma.Schema):
    id = fields.Integer()
    business_id = fields.Integer()
    kind = fields.String()
    amount = fields.Integer()
    industry = fields.String()
    town_code = fields.String()
    tags = fields.Method("_tags")
    description = fields.String()
    capacity = fields.Integer()
    active = fields.Boolean()

    def _tags(self, r):
        return JsonList.load(r.tags)


class RelatedIn(Strict):
    other_id = Id(required=True, metadata={"description": "the related organisation"})
    organisation_id = Id(load_default=None, metadata={"description": "managers only"})
    note = Text(500, load_default="")


class RelatedSchema(ma.Schema):
    id = fields.Integer()
    org_a_id = fields.Integer()
    org_b_id = fields.Integer()
    note = fields.String()


class DesignationsIn(Strict):
    csv = fields.String(
        required=True,
        validate=validate.Length(1, 200_000),
        metadata={"description": "CSV with header town_code,priority_type"},
    )


class DesignationsOut(ma.Schema):
    imported = fields.Integer()


class RunIn(Strict):
    params = fields.Dict(
        load_default=dict,
        metadata={
            "description": "k, min_score, weights, priority_weights, enforce_budgets, "
            "min_priority_share, time_limit, mip_gap (see the README's match solve format)"
        },
    )


class ProposalSchema(ma.Schema):
    id = fields.Integer()
    run_id = fields.Integer()
    offer_id = fields.Integer()
    request_id = fields.Integer()
    company_id = fields.Function(lambda p: p.offer.company_id)
    business_id = fields.Function(lambda p: p.request.business_id)
    kind = fields.Function(lambda p: p.request.kind)
    score = fields.Integer()
    fixed = fields.Boolean()
    status = fields.String()
    stage = fields.Function(
        lambda p: services.proposal_stage(p),
        metadata={"description": "who is still to answer: " + ", ".join(services.STAGES)},
    )
    #: As the caller may see it: alternatives and the company's budget figures are for
    #: fund managers (matching/disclosure.py)
    explanation = fields.Function(lambda p: explanation_for(p, user()))
    company_response = fields.String(allow_none=True)
    company_reason = fields.String(allow_none=True)
    business_response = fields.String(allow_none=True)
    business_reason = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class RunSchema(ma.Schema):
    id = fields.Integer()
    status = fields.String()
    solver_status = fields.String()
    total_score = fields.Integer()
    bound = fields.Integer()
    candidates = fields.Integer()
    params = fields.Function(lambda r: json.loads(r.params))
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    proposals = fields.List(
        fields.Nested(ProposalSchema),
        metadata={
            "description": "One page of the run's proposals, newest first (``?limit=``); the rest"
            " through GET /api/v1/match/proposals?run_id=...&cursor=next_cursor"
        },
    )
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "Pass as cursor to /match/proposals?run_id=; null on the last"},
    )


class ResponseIn(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(("accept", "decline")))
    reason = Text(1000, load_default="")


class PartnershipSchema(ma.Schema):
    id = fields.Integer()
    proposal_id = fields.Integer()
    company_id = fields.Integer()
    business_id = fields.Integer()
    kind = fields.String()
    disbursement_id = fields.Integer(allow_none=True)
    return_agreement_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


def _owner(data: dict, key: str) -> int:
    """Members act for their own organisation; managers say which one."""
    me = user()
    given = data.pop(key, None)
    if me.is_manager:
        if given is None:
            raise ValidationError(f"Say which organisation ({key}).", fields={key: ["required"]})
        return given
    return me.organisation_id


@blp.route("/match/offers", methods=["POST"])
@requires("company_member", *MANAGERS)
@errors(400, 404, 413, 415, 422)
@blp.arguments(OfferIn)
@blp.response(201, OfferSchema)
def create_offer(data):
    """Publish what a company offers local businesses"""
    company_id = _owner(data, "company_id")
    with atomic(db_session()) as session:
        offer = services.save_offer(session, actor=user(), company_id=company_id, **data)
    return offer, 201


@blp.route("/match/offers", methods=["GET"])
@requires("company_member", *MANAGERS)
@errors(400, 422)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(OfferSchema, "OfferPage"))
def list_offers(args):
    """Offers, newest first (a company sees its own)"""
    return page_out(
        services.offers_page(
            db_session(), user(), limit=args["limit"], after=decode_cursor(args["cursor"])
        )
    )


@blp.route("/match/offers/<int:offer_id>", methods=["PUT"])
@requires("company_member", *MANAGERS)
@errors(400, 404, 413, 415, 422)
@blp.arguments(OfferIn)
@blp.response(200, OfferSchema)
def update_offer(data, offer_id):
    """Replace an offer"""
    session = db_session()
    offer = session.get(MatchOffer, offer_id)
    me = user()
    if offer is None or (not me.is_manager and offer.company_id != me.organisation_id):
        raise NotFound(f"Offer {offer_id} does not exist.")
    data.pop("company_id", None)
    with atomic(db_session()) as session:
        return services.save_offer(
            session, actor=me, company_id=offer.company_id, offer_id=offer_id, **data
        )


@blp.route("/match/requests", methods=["POST"])
@requires("business_member", *MANAGERS)
@errors(400, 404, 413, 415, 422)
@blp.arguments(RequestIn)
@blp.response(201, RequestSchema)
def create_request(data):
    """Ask for a partner (product development, investment or sponsorship)"""
    business_id = _owner(data, "business_id")
    with atomic(db_session()) as session:
        request = services.save_request(session, actor=user(), business_id=business_id, **data)
    return request, 201


@blp.route("/match/requests", methods=["GET"])
@requires("business_member", *MANAGERS)
@errors(400, 422)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(RequestSchema, "RequestPage"))
def list_requests(args):
    """Requests, newest first (a business sees its own)"""
    return page_out(
        services.requests_page(
            db_session(), user(), limit=args["limit"], after=decode_cursor(args["cursor"])
        )
    )


@blp.route("/match/requests/<int:request_id>", methods=["PUT"])
@requires("business_member", *MANAGERS)
@errors(400, 404, 413, 415, 422)
@blp.arguments(RequestIn)
@blp.response(200, RequestSchema)
def update_request(data, request_id):
    """Replace a request"""
    session = db_session()
    request = session.get(MatchRequest, request_id)
    me = user()
    if request is None or (not me.is_manager and request.business_id != me.organisation_id):
        raise NotFound(f"Request {request_id} does not exist.")
    data.pop("business_id", None)
    with atomic(db_session()) as session:
        return services.save_request(
            session, actor=me, business_id=request.business_id, request_id=request_id, **data
        )


@blp.route("/match/related-parties", methods=["POST"])
@requires(*MEMBERS, *MANAGERS)
@errors(400, 404, 413, 415, 422)
@blp.arguments(RelatedIn)
@blp.response(201, RelatedSchema)
def declare_related(data):
    """Declare a related party: the two are never matched (conflict of interest)"""
    me = user()
    org_id = data["organisation_id"] if me.is_manager else me.organisation_id
    if org_id is None:
        raise ValidationError(
            "Say which organisation (organisation_id).", fields={"organisation_id": ["required"]}
        )
    with atomic(db_session()) as session:
        related = services.declare_related(
            session, actor=me, other_id=data["other_id"], note=data["note"], org_id=org_id
        )
    return related, 201


@blp.route("/match/designations", methods=["PUT"])
@requires(*MANAGERS)
@errors(400, 413, 415, 422)
@blp.arguments(DesignationsIn)
@blp.response(200, DesignationsOut)
def import_designations(data):
    """Replace the priority-area designations (CSV: town_code,type)"""
    with atomic(db_session()) as session:
        count = services.import_designations(session, actor=user(), text=data["csv"])
    return {"imported": count}


@blp.route("/match/runs", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 413, 415, 422)
@blp.arguments(RunIn)
@blp.response(202, JobSchema)
def start_run(data):
    """Start a match run in the background: 202 with the job to poll, whose result carries
    the run's id once solved; its proposals wait for review before they are published"""
    with atomic(db_session()) as session:
        job, created = match_jobs.submit(session, actor_id=user().id, params=data["params"])
    return accepted(job, created=created)


class _RunPage:
    """A run with one page of its proposals in place of all of them."""

    def __init__(self, run: MatchRun, page):
        self._run = run
        self.proposals = page.items
        self.next_cursor = str(page.next_after) if page.next_after is not None else None

    def __getattr__(self, name):
        return getattr(self._run, name)


@blp.route("/match/runs/<int:run_id>", methods=["GET"])
@requires(*MANAGERS)
@errors(400, 404, 422)
@blp.arguments(PageArgs, location="query")
@blp.response(200, RunSchema)
def get_run(args, run_id):
    """A run with its parameters and a page of its proposals with their explanations

    A national run holds 100,000 proposals: the first page comes with the run, the next ones
    from ``GET /api/v1/match/proposals?run_id=`` with ``next_cursor``.
    """
    session = db_session()
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound(f"Match run {run_id} does not exist.")
    page = services.proposals_page(
        session, user(), run_id=run_id, limit=args["limit"], after=decode_cursor(args["cursor"])
    )
    return _RunPage(run, page)


@blp.route("/match/runs/<int:run_id>/publish", methods=["POST"])
@requires(*MANAGERS)
@errors(404)
@blp.response(200, RunSchema)
def publish_run(run_id):
    """Publish a reviewed run to the companies and businesses"""
    with atomic(db_session()) as session:
        return services.publish_run(session, actor=user(), run_id=run_id)


class ProposalArgs(PageArgs):
    run_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))


@blp.route("/match/proposals", methods=["GET"])
@requires(*MEMBERS, *MANAGERS)
@errors(400, 422)
@blp.arguments(ProposalArgs, location="query")
@blp.response(200, page_schema(ProposalSchema, "ProposalPage"))
def list_proposals(args):
    """Proposals, newest first (companies and businesses see their own published ones)"""
    return page_out(
        services.proposals_page(
            db_session(),
            user(),
            run_id=args["run_id"],
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


@blp.route("/match/proposals/<int:proposal_id>", methods=["GET"])
@requires(*MEMBERS, *MANAGERS)
@errors(404)
@blp.response(200, ProposalSchema)
def get_proposal(proposal_id):
    """A proposal with its score breakdown and the best alternative that lost"""
    return services.get_proposal(db_session(), user(), proposal_id)


@blp.route("/match/proposals/<int:proposal_id>/response", methods=["POST"])
@requires(*MEMBERS)
@errors(400, 404, 409, 413, 415, 422)
@blp.arguments(ResponseIn)
@blp.response(200, ProposalSchema)
def respond(data, proposal_id):
    """Accept or decline a proposal (a reason is required to decline)"""
    with atomic(db_session()) as session:
        return services.respond(
            session,
            actor=user(),
            proposal_id=proposal_id,
            decision=data["decision"],
            reason=data["reason"],
        )


@blp.route("/partnerships", methods=["GET"])
@requires(*MEMBERS, *MANAGERS)
@errors(400, 422)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(PartnershipSchema, "PartnershipPage"))
def list_partnerships(args):
    """Partnerships: accepted proposals, newest first (each side sees its own)"""
    return page_out(
        services.partnerships_page(
            db_session(), user(), limit=args["limit"], after=decode_cursor(args["cursor"])
        )
    )
