"""The matching workflow over the database: offers, requests, related parties, designations,
runs, proposals and partnerships. The solving itself is the pure core (``matching.solver``).

A run builds the instance from what is active and verified, solves it, and stores every
proposal with its explanation; managers review it and publish; each side then accepts or
declines with a reason. Both acceptances make a partnership; a decline is never proposed
again; a new run keeps accepted pairs fixed. Services flush only; the caller commits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from foundation.db import utcnow
from foundation.errors import (
    FieldMessage,
    InvalidAmount,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from identity.models import Organisation, User
from identity.roles import ROLES, require_manager
from ledger.listings import Page, page
from matching import instance as instance_json
from matching.errors import InvalidInstance
from matching.models import (
    KINDS,
    JsonList,
    MatchOffer,
    MatchProposal,
    MatchRequest,
    MatchRun,
    Partnership,
    PriorityDesignation,
    RelatedParty,
)
from matching.priority import parse_designations
from matching.solver import solve

OFFER_FIELDS = (
    "kinds", "budget", "industries", "regions", "home_county", "motives", "goals",
    "capacity", "exclude_industries", "exclude_areas", "active",
)  # fmt: skip
REQUEST_FIELDS = ("kind", "amount", "industry", "town_code", "tags", "description", "capacity",
                  "active")  # fmt: skip
_LISTS = {"kinds", "industries", "regions", "motives", "goals", "exclude_industries",
          "exclude_areas", "tags"}  # fmt: skip


def _org_key(org_id: int) -> str:
    return f"org:{org_id}"


def _offer_key(offer_id: int) -> str:
    return f"o{offer_id}"


def _request_key(request_id: int) -> str:
    return f"r{request_id}"


def _own(actor: User, org_id: int, what: str, ident: int) -> None:
    """Members act only for their own organisation; to an outsider it does not exist."""
    if actor.is_manager:
        return
    if actor.organisation_id != org_id:
        raise NotFound(f"{what} {ident} does not exist.")


def _validate(data: dict, fields: Iterable[str]) -> dict:
    unknown = set(data) - set(fields)
    if unknown:
        raise ValidationError(
            f"Unknown fields: {', '.join(sorted(unknown))}.",
            fields={
                name: [FieldMessage("unknown field", "unknown_field")] for name in sorted(unknown)
            },
        )
    return {k: JsonList.dump(v) if k in _LISTS else v for k, v in data.items()}


def _check_amounts(values: dict) -> None:
    """The amounts of an offer or a request, the same rules for the API and the console.

    An offer's budget, when stated, is more than NT$0: "no stated budget" is None, and a
    budget of zero would leave the offer able to fund nothing while it still looks open (the
    API refused it, the console stored it). An amount sought may be NT$0 (a partner for
    product development, no money asked). TWD amounts are whole dollars wherever they enter
    (NT$1,000 is 100000 minor units)."""
    budget = values.get("budget")
    if isinstance(budget, int) and not isinstance(budget, bool) and budget <= 0:
        raise InvalidAmount(
            "budget must be more than zero; leave it out (null) for no stated budget.",
            fields={"budget": [FieldMessage("must be positive", "not_positive")]},
            reason="zero_budget",
        )
    for name in ("amount", "budget"):
        value = values.get(name)
        if isinstance(value, int) and value % 100:
            raise InvalidAmount(
                f"{name} must be a whole number of dollars.",
                fields={name: ["must be a multiple of 100"]},
            )


def _check_with_core(offers: list[MatchOffer], requests: list[MatchRequest]) -> None:
    """Validate offers and requests with the core's own instance checks (codes, kinds...)."""
    try:
        instance_json.parse_instance(_instance_dict(offers, requests, [], [], [], {}))
    except InvalidInstance as exc:
        fields: dict[str, list[str]] = {}
        for path, message in exc.problems:
            fields.setdefault(path.split(".", 2)[-1] if "." in path else path, []).append(message)
        raise ValidationError(exc.detail, fields=fields) from exc


def _save_listing(session, actor, model, owner_kind, owner_id, listing_id, fields, data):
    """Create or update an offer or a request of one organisation, checked by the core."""
    owner = session.get(Organisation, owner_id)
    label = owner_kind.capitalize()
    if owner is None or owner.kind != owner_kind:
        raise NotFound(f"{label} {owner_id} does not exist.")
    _own(actor, owner_id, label, owner_id)
    owner_field = f"{owner_kind}_id"
    values = _validate(data, fields)
    _check_amounts(values)
    if listing_id is None:
        listing = model(**{owner_field: owner_id}, **values)
        session.add(listing)
    else:
        listing = session.get(model, listing_id)
        if listing is None or getattr(listing, owner_field) != owner_id:
            raise NotFound(f"{model.__name__.removeprefix('Match')} {listing_id} does not exist.")
        for key, value in values.items():
            setattr(listing, key, value)
    if model is MatchRequest and listing.kind not in KINDS:
        raise ValidationError(f"Unknown kind {listing.kind!r}.", fields={"kind": list(KINDS)})
    _check_with_core(*(([listing], []) if model is MatchOffer else ([], [listing])))
    session.flush()
    return listing


def save_offer(
    session: Session, *, actor: User, company_id: int, offer_id: int | None = None, **data
) -> MatchOffer:
    """Create or update a company's offer (a member for its own company, or a manager)."""
    return _save_listing(
        session, actor, MatchOffer, "company", company_id, offer_id, OFFER_FIELDS, data
    )


def save_request(
    session: Session, *, actor: User, business_id: int, request_id: int | None = None, **data
) -> MatchRequest:
    """Create or update a local business's request for a partner."""
    return _save_listing(
        session, actor, MatchRequest, "business", business_id, request_id, REQUEST_FIELDS, data
    )


def declare_related(
    session: Session, *, actor: User, other_id: int, note: str = "", org_id: int | None = None
) -> RelatedParty:
    """Declare two organisations related (a subsidiary, a supplier, a family business...)."""
    org_id = actor.organisation_id if org_id is None else org_id
    _own(actor, org_id, "Organisation", org_id)
    if org_id == other_id or session.get(Organisation, other_id) is None:
        raise ValidationError(
            "Name another existing organisation.",
            fields={"other_id": [FieldMessage("invalid", "invalid")]},
        )
    a, b = sorted((org_id, other_id))
    existing = session.scalars(
        select(RelatedParty).where(RelatedParty.org_a_id == a, RelatedParty.org_b_id == b)
    ).one_or_none()
    if existing is not None:
        return existing
    related = RelatedParty(org_a_id=a, org_b_id=b, declared_by_id=actor.id, note=note)
    session.add(related)
    session.flush()
    return related


def import_designations(session: Session, *, actor: User, text: str) -> int:
    """Replace the priority-area designations with a CSV (town code, type). Bad lines are
    reported with their line numbers and nothing changes."""
    require_manager(actor)
    designations = parse_designations(text)
    for row in session.scalars(select(PriorityDesignation)):
        session.delete(row)
    session.flush()
    session.add_all(
        PriorityDesignation(town_code=code, priority_type=kind, imported_by_id=actor.id)
        for code, kind in sorted(designations.items())
    )
    session.flush()
    return len(designations)


def designations(session: Session) -> dict[str, str]:
    return dict(
        session.execute(
            select(PriorityDesignation.town_code, PriorityDesignation.priority_type)
        ).all()
    )


def _instance_dict(offers, requests, related, declined, fixed, params) -> dict:
    return {
        "currency": "TWD",
        "params": params,
        "offers": [
            {
                "id": _offer_key(o.id or 0),
                "name": o.company.name if o.company else "",
                "organisation": _org_key(o.company_id),
                "kinds": JsonList.load(o.kinds),
                "budget": o.budget,
                "industries": JsonList.load(o.industries),
                "regions": JsonList.load(o.regions),
                "home_county": o.home_county,
                "motives": JsonList.load(o.motives),
                "goals": JsonList.load(o.goals),
                "capacity": o.capacity or 1,
                "exclusions": {
                    "industries": JsonList.load(o.exclude_industries),
                    "areas": JsonList.load(o.exclude_areas),
                },
            }
            for o in offers
        ],
        "requests": [
            {
                "id": _request_key(r.id or 0),
                "name": r.business.name if r.business else "",
                "organisation": _org_key(r.business_id),
                "kind": r.kind,
                "amount": r.amount,
                "industry": r.industry,
                "town_code": r.town_code,
                "tags": JsonList.load(r.tags),
                "description": r.description or "",
                "capacity": r.capacity or 1,
            }
            for r in requests
        ],
        "related_parties": related,
        "declined": declined,
        "fixed": fixed,
    }


def build_instance(session: Session, params: dict) -> dict:
    """The run's input in the documented ``match solve`` format, from the database.

    Only active offers and requests of verified organisations take part. Declined pairs are
    excluded for good; accepted pairs are fixed.
    """
    offers = session.scalars(
        select(MatchOffer)
        .join(Organisation, Organisation.id == MatchOffer.company_id)
        .where(MatchOffer.active, Organisation.verified_at.is_not(None))
        .order_by(MatchOffer.id)
    ).all()
    requests = session.scalars(
        select(MatchRequest)
        .join(Organisation, Organisation.id == MatchRequest.business_id)
        .where(MatchRequest.active, Organisation.verified_at.is_not(None))
        .order_by(MatchRequest.id)
    ).all()
    offer_ids = {o.id for o in offers}
    request_ids = {r.id for r in requests}
    related = [
        {"a": _org_key(rp.org_a_id), "b": _org_key(rp.org_b_id), "note": rp.note}
        for rp in session.scalars(select(RelatedParty).order_by(RelatedParty.id))
    ]
    declined, fixed = [], []
    for p in session.scalars(
        select(MatchProposal)
        .where(MatchProposal.status.in_(("declined", "accepted")))
        .order_by(MatchProposal.id)
    ):
        if p.offer_id in offer_ids and p.request_id in request_ids:
            pair = {"offer": _offer_key(p.offer_id), "request": _request_key(p.request_id)}
            (declined if p.status == "declined" else fixed).append(pair)
    data = _instance_dict(offers, requests, related, declined, fixed, params)
    # De-duplicate: the same pair may have been accepted or declined in several runs.
    data["declined"] = [dict(t) for t in sorted({tuple(d.items()) for d in declined})]
    data["fixed"] = [dict(t) for t in sorted({tuple(f.items()) for f in fixed})]
    return data


def check_params(params: dict) -> None:
    """Refuse parameters no run could take, before any work is queued: the same checks and
    the same errors (``params.k``...) as a run's own."""
    data = _instance_dict([], [], [], [], [], dict(params))
    try:
        instance_json.parse_instance(data)
    except InvalidInstance as exc:
        raise ValidationError(exc.detail, fields={p: [m] for p, m in exc.problems}) from exc


def run_instance(session: Session, params: dict):
    """The instance a run solves: everything active now (reads only)."""
    data = build_instance(session, dict(params))
    try:
        return instance_json.parse_instance(data, designations(session))
    except InvalidInstance as exc:
        raise ValidationError(exc.detail, fields={p: [m] for p, m in exc.problems}) from exc


def save_run(session: Session, *, actor_id: int | None, params: dict, instance, result) -> MatchRun:
    """Store a solved run and its proposals for review (flush only)."""
    audit = instance_json.result_to_json(result, instance)
    run = MatchRun(
        started_by_id=actor_id,
        params=json.dumps(params, ensure_ascii=False, sort_keys=True),
        instance=json.dumps(instance_json.instance_to_json(instance), ensure_ascii=False),
        solver_status=result.status,
        total_score=result.total_score,
        bound=result.bound,
        candidates=len(result.candidates),
    )
    session.add(run)
    session.flush()
    for proposal in audit["assignment"]:
        offer_id, request_id = int(proposal["offer"][1:]), int(proposal["request"][1:])
        session.add(
            MatchProposal(
                run_id=run.id,
                offer_id=offer_id,
                request_id=request_id,
                score=proposal["score"],
                fixed=proposal["fixed"],
                explanation=json.dumps(proposal, ensure_ascii=False),
                status="accepted" if proposal["fixed"] else "proposed",
            )
        )
    session.flush()
    session.refresh(run)
    return run


def start_run(
    session: Session,
    *,
    actor: User | None,
    params: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> MatchRun:
    """Solve over everything active and store the run and its proposals for review, in the
    caller's transaction (the CLI and the demo; the faces queue a ``match_run`` job, which
    calls the three steps with no transaction open while it solves).

    ``actor`` is None only for the scheduled CLI run. Invalid parameters or an infeasible
    minimum priority share raise a clear error and store nothing.
    """
    if actor is not None:
        require_manager(actor)
    params = dict(params or {})
    instance = run_instance(session, params)
    result = solve(instance, progress=progress)
    return save_run(
        session,
        actor_id=actor.id if actor else None,
        params=params,
        instance=instance,
        result=result,
    )


def publish_run(session: Session, *, actor: User, run_id: int) -> MatchRun:
    """Managers publish a reviewed run: its proposals become visible to both sides.

    Proposals of earlier runs still open are superseded; where this run proposes the same
    pair again, an acceptance one side already gave carries over to the new proposal.
    """
    require_manager(actor)
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound(f"Match run {run_id} does not exist.")
    if run.status == "published":
        return run
    open_before = {}
    for old in session.scalars(
        select(MatchProposal)
        .where(
            MatchProposal.run_id != run_id,
            MatchProposal.status.in_(("proposed", "published")),
        )
        .order_by(MatchProposal.id)
    ):
        if old.status == "published":
            open_before[(old.offer_id, old.request_id)] = old
        old.status = "superseded"
    for proposal in run.proposals:
        if proposal.status == "proposed":
            proposal.status = "published"
            # The same pair proposed again: an answer one side already gave stands, so the
            # side is not asked twice and the other side sees who it is waiting for.
            earlier = open_before.get((proposal.offer_id, proposal.request_id))
            if earlier is not None:
                for side in ("company", "business"):
                    if getattr(earlier, f"{side}_response") == "accepted":
                        setattr(proposal, f"{side}_response", "accepted")
                        setattr(proposal, f"{side}_reason", getattr(earlier, f"{side}_reason"))
    run.status = "published"
    run.published_at = utcnow()
    run.published_by_id = actor.id
    session.flush()
    return run


def visible_proposals(
    session: Session,
    actor: User,
    *,
    run_id: int | None = None,
    organisation_id: int | None = None,
    limit: int | None = None,
    after: int | None = None,
):
    """Proposals a user may see: managers all; members their organisation's published ones.

    Across runs (no ``run_id``) each pair is listed once: a later run stores an accepted
    pair again as ``fixed`` so its own result is complete, but that copy is the same
    proposal, already answered, and is left out here. ``organisation_id`` keeps the
    published (or answered) proposals of that organisation's offers or requests.

    With ``limit``: one keyset page, newest first (``id < after``), so a run of 100,000
    proposals is read a page at a time; the offer's company and the request's business come
    in the same query (the pages show both names).
    """
    query = select(MatchProposal).options(
        joinedload(MatchProposal.offer).joinedload(MatchOffer.company),
        joinedload(MatchProposal.request).joinedload(MatchRequest.business),
    )
    if run_id is not None:
        query = query.where(MatchProposal.run_id == run_id)
    else:
        query = query.where(MatchProposal.fixed.is_(False))
    orgs = []
    if not actor.is_manager:
        orgs.append(actor.organisation_id)
    if organisation_id is not None:
        orgs.append(organisation_id)
    for org in orgs:
        # Subqueries on the indexed offer_id and request_id: the database reads just this
        # organisation's proposals instead of joining every proposal to test the owner
        query = query.where(
            MatchProposal.status.in_(("published", "accepted", "declined")),
            or_(
                MatchProposal.offer_id.in_(
                    select(MatchOffer.id).where(MatchOffer.company_id == org)
                ),
                MatchProposal.request_id.in_(
                    select(MatchRequest.id).where(MatchRequest.business_id == org)
                ),
            ),
        )
    if limit is None:
        return session.scalars(query.order_by(MatchProposal.id)).unique().all()
    if after is not None:
        query = query.where(MatchProposal.id < after)
    return session.scalars(query.order_by(MatchProposal.id.desc()).limit(limit)).unique().all()


#: Where a proposal stands, as its two sides need to read it. The stored ``status`` says
#: ``published`` until both have answered; the stage also says who is still to answer.
STAGES = (
    "under_review",  # a run's proposal the managers have not published
    "awaiting_both",  # published, neither side has answered
    "awaiting_business",  # the company accepted; the local business has not answered
    "awaiting_company",  # the local business accepted; the company has not answered
    "accepted",  # both accepted: a partnership
    "declined",
    "superseded",
)


def proposal_stage(proposal: MatchProposal) -> str:
    """The proposal's stage (one of ``STAGES``): after one side accepts it waits for the other."""
    if proposal.status == "proposed":
        return "under_review"
    if proposal.status != "published":
        return proposal.status
    company = proposal.company_response == "accepted"
    business = proposal.business_response == "accepted"
    if company and not business:
        return "awaiting_business"
    if business and not company:
        return "awaiting_company"
    return "awaiting_both"


def get_proposal(session: Session, actor: User, proposal_id: int) -> MatchProposal:
    proposal = session.get(MatchProposal, proposal_id)
    if proposal is None or (
        not actor.is_manager
        and (
            proposal.status in ("proposed", "superseded")
            or actor.organisation_id
            not in (proposal.offer.company_id, proposal.request.business_id)
        )
    ):
        raise NotFound(f"Proposal {proposal_id} does not exist.")
    return proposal


def respond(
    session: Session, *, actor: User, proposal_id: int, decision: str, reason: str = ""
) -> MatchProposal:
    """The company or the business accepts or declines a published proposal, with a reason.

    When both have accepted, the pair becomes a partnership. A decline by either side ends
    it, and the pair is never proposed again.
    """
    if decision not in ("accept", "decline"):
        raise ValidationError("Decide accept or decline.", fields={"decision": ["accept|decline"]})
    if decision == "decline" and not reason.strip():
        raise ValidationError(
            "Say why you decline.",
            fields={"reason": [FieldMessage("required to decline", "required")]},
            reason="decline_reason",
        )
    proposal = get_proposal(session, actor, proposal_id)
    if actor.is_manager:
        raise PermissionDenied(
            "Only the company or the business answers a proposal.", reason="answer_proposal"
        )
    if proposal.status != "published":
        raise InvalidState(
            f"This proposal is {proposal.status}; it can no longer be answered.",
            reason="proposal_answered",
            params={"status": proposal.status},
        )
    side = "company" if actor.organisation_id == proposal.offer.company_id else "business"
    answer = "accepted" if decision == "accept" else "declined"
    setattr(proposal, f"{side}_response", answer)
    setattr(proposal, f"{side}_reason", reason)
    if answer == "declined":
        proposal.status = "declined"
        proposal.decided_at = utcnow()
    elif proposal.company_response == "accepted" and proposal.business_response == "accepted":
        proposal.status = "accepted"
        proposal.decided_at = utcnow()
        session.add(
            Partnership(
                proposal_id=proposal.id,
                offer_id=proposal.offer_id,
                request_id=proposal.request_id,
                company_id=proposal.offer.company_id,
                business_id=proposal.request.business_id,
                kind=proposal.request.kind,
            )
        )
    session.flush()
    return proposal


def partnerships(session: Session, actor: User):
    query = select(Partnership).order_by(Partnership.id)
    if not actor.is_manager:
        query = query.where(
            or_(
                Partnership.company_id == actor.organisation_id,
                Partnership.business_id == actor.organisation_id,
            )
        )
    return session.scalars(query).all()


# --- keyset-paged lists (the API): newest first, a page at a time -----------------------------
# A national fund holds tens of thousands of offers and requests and hundreds of thousands of
# proposals: a list reads one page (``id < after``) from the primary key, never all of them.


def offers_page(session: Session, actor: User, *, limit: int, after: int | None) -> Page:
    """Offers a user may see (a company its own, managers all), newest first."""
    query = select(MatchOffer)
    if not actor.is_manager:
        query = query.where(MatchOffer.company_id == actor.organisation_id)
    return page(session, query, MatchOffer.id, limit=limit, after=after)


def requests_page(session: Session, actor: User, *, limit: int, after: int | None) -> Page:
    """Requests a user may see (a business its own, managers all), newest first."""
    query = select(MatchRequest)
    if not actor.is_manager:
        query = query.where(MatchRequest.business_id == actor.organisation_id)
    return page(session, query, MatchRequest.id, limit=limit, after=after)


def proposals_page(
    session: Session, actor: User, *, run_id: int | None, limit: int, after: int | None
) -> Page:
    """``visible_proposals``, one page: the next ``after`` is the last id when more follow."""
    items = visible_proposals(session, actor, run_id=run_id, limit=limit + 1, after=after)
    more = len(items) > limit
    items = list(items[:limit])
    return Page(items, items[-1].id if more else None)


def partnerships_page(session: Session, actor: User, *, limit: int, after: int | None) -> Page:
    """Partnerships a user may see (each side its own, managers all), newest first."""
    query = select(Partnership)
    if not actor.is_manager:
        query = query.where(
            or_(
                Partnership.company_id == actor.organisation_id,
                Partnership.business_id == actor.organisation_id,
            )
        )
    return page(session, query, Partnership.id, limit=limit, after=after)


def partner_contacts(session: Session, actor: User, partnership: Partnership, org_id: int):
    """The people to contact on the other side of a partnership, seen from ``org_id``.

    Only the two partners (and managers) learn each other's contacts, and only once both
    have accepted: a published proposal alone shares nothing.
    """
    if org_id not in (partnership.company_id, partnership.business_id):
        raise NotFound(f"Partnership {partnership.id} does not exist.")
    _own(actor, org_id, "Partnership", partnership.id)
    other = partnership.business_id if org_id == partnership.company_id else partnership.company_id
    members = [r for r in ROLES if r.endswith("_member")]
    return session.scalars(
        select(User).where(User.organisation_id == other, User.role.in_(members)).order_by(User.id)
    ).all()


def offers_of(session: Session, actor: User, company_id: int) -> list[MatchOffer]:
    """A company's offers, oldest first (its own members and managers only)."""
    _own(actor, company_id, "Company", company_id)
    return session.scalars(
        select(MatchOffer).where(MatchOffer.company_id == company_id).order_by(MatchOffer.id)
    ).all()


def requests_of(session: Session, actor: User, business_id: int) -> list[MatchRequest]:
    """A local business's partner requests, oldest first (its own members and managers)."""
    _own(actor, business_id, "Business", business_id)
    return session.scalars(
        select(MatchRequest)
        .where(MatchRequest.business_id == business_id)
        .order_by(MatchRequest.id)
    ).all()
