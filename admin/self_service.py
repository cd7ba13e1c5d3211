"""Self-service pages of companies and local businesses: the profile, projects, partner
requests (a business) and offers (a company).

The same domain verbs as the API's (``identity.organisations``, ``ledger.fund.projects``,
``matching.services``): these handlers parse the form, call one service and render. A
member works only on its own organisation's records; another's request or offer is a 404,
like one that does not exist.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin import self_service_forms as sf
from admin.console import bp, form_error, home_for, me, signed_in
from admin.filters import english
from admin.registration import township_choices
from foundation.db import Base
from foundation.errors import LedgerError
from foundation.reference import counties, industries
from foundation.transactions import atomic
from identity import organisations
from identity.models import Organisation
from identity.roles import MEMBERS
from ledger.fund import projects
from matching import services as matching
from matching.models import JsonList, MatchOffer, MatchRequest
from matching.services import STAGES
from web.request import db_session

#: Proposal stages as the two sides read them (``matching.services.proposal_stage``)
STAGE_NAMES = {
    "under_review": _l("Under review"),
    "awaiting_both": _l("Awaiting answers"),
    "awaiting_business": _l("The company accepted; waiting for the local business"),
    "awaiting_company": _l("The local business accepted; waiting for the company"),
    "accepted": _l("Accepted: a partnership"),
    "declined": _l("Declined"),
    "superseded": _l("Superseded"),
}
assert set(STAGE_NAMES) == set(STAGES)


@bp.app_template_filter("stage")
def stage_name(stage: str) -> str:
    return str(STAGE_NAMES.get(stage, stage))


@bp.app_template_filter("industry_name")
def industry_name(code: str | None) -> str:
    return sf.industry_name(code)


@bp.app_template_filter("json_list")
def json_list(text: str | None) -> list:
    return JsonList.load(text)


@bp.app_template_filter("nt_input")
def nt_input(amount: int | None) -> str:
    """Minor units back into what a person types: 12000000 as ``120,000``."""
    return "" if amount is None else f"{amount // 100:,}"


def offers_of(org: Organisation) -> list[MatchOffer]:
    """The company's offers for its page (members their own, managers any)."""
    return matching.offers_of(db_session(), me(), org.id)


def requests_of(org: Organisation) -> list[MatchRequest]:
    return matching.requests_of(db_session(), me(), org.id)


def _towns(form_field) -> dict:
    towns = township_choices()
    form_field.choices = [(code, name) for group in towns.values() for code, name in group]
    return towns


def _submitted_status(form) -> int:
    return 422 if form.is_submitted() else 200


# --- the profile -------------------------------------------------------------------------------


@bp.route("/profile", methods=["GET", "POST"])
@signed_in(*MEMBERS)
def edit_profile():
    org = me().organisation
    form = sf.ProfileForm(
        data={
            "name": org.name,
            "name_en": org.name_en or "",
            "town_code": org.town_code,
            "version": str(org.version),
        }
    )
    towns = _towns(form.town_code)
    if form.validate_on_submit():
        version = form.version.data or ""
        try:
            with atomic(db_session()) as s:
                organisations.update_profile(
                    s,
                    actor=me(),
                    org=s.get(Organisation, org.id),
                    changes={
                        "name": form.name.data,
                        "name_en": form.name_en.data,
                        "town_code": form.town_code.data,
                    },
                    expected_version=int(version) if version.isdigit() else None,
                )
        except LedgerError as error:
            if error.extra.get("case") == "stale_profile":
                error.fields.pop("version", None)
                flash(_("The profile changed since you opened it; check it and save again."),
                      "error")  # fmt: skip
                return redirect(url_for("console.edit_profile"))
            form_error(form, error)
        else:
            flash(_("Your profile is saved."), "info")
            return redirect(home_for(me()))
    return render_template(
        "console/profile.html", form=form, org=org, towns=towns
    ), _submitted_status(form)


# --- projects (a local business) ---------------------------------------------------------------


@bp.route("/projects/new", methods=["GET", "POST"])
@signed_in("business_member")
def new_project():
    form = sf.ProjectForm()
    if not form.is_submitted():
        form.town_code.data = me().organisation.town_code
    towns = _towns(form.town_code)
    if form.validate_on_submit():
        try:
            with atomic(db_session()) as s:
                projects.create_project(
                    s,
                    actor=me(),
                    business_id=me().organisation_id,
                    name=form.name.data,
                    town_code=form.town_code.data,
                )
        except LedgerError as error:
            form_error(form, error)
        else:
            flash(_("The project is created."), "info")
            return redirect(url_for("console.my_business") + "#projects")
    return render_template("console/project_form.html", form=form, towns=towns), _submitted_status(
        form
    )


# --- partner requests (a local business) -------------------------------------------------------


def _own_listing(model: type[Base], ident: int, owner_field: str):
    listing = db_session().get(model, ident)
    if listing is None or getattr(listing, owner_field) != me().organisation_id:
        abort(404)
    return listing


def _request_form(listing: MatchRequest | None) -> sf.RequestForm:
    if listing is None:
        form = sf.RequestForm()
        if not form.is_submitted():
            form.town_code.data = me().organisation.town_code
        return form
    return sf.RequestForm(
        data={
            "kind": listing.kind,
            "amount": nt_input(listing.amount),
            "industry": listing.industry,
            "town_code": listing.town_code,
            "tags": ", ".join(JsonList.load(listing.tags)),
            "description": listing.description,
            "capacity": listing.capacity,
            "active": listing.active,
        }
    )


def _request_page(listing: MatchRequest | None):
    form = _request_form(listing)
    towns = _towns(form.town_code)
    if form.validate_on_submit():
        try:
            with atomic(db_session()) as s:
                matching.save_request(
                    s,
                    actor=me(),
                    business_id=me().organisation_id,
                    request_id=listing.id if listing else None,
                    kind=form.kind.data,
                    amount=sf.nt_dollars(form.amount),
                    industry=form.industry.data,
                    town_code=form.town_code.data,
                    tags=sf.words(form.tags),
                    description=(form.description.data or "").strip(),
                    capacity=form.capacity.data,
                    active=bool(form.active.data),
                )
        except LedgerError as error:
            form_error(form, error)
        else:
            flash(_("Your request is saved."), "info")
            return redirect(url_for("console.my_business") + "#requests")
    return render_template(
        "console/request_form.html",
        form=form,
        listing=listing,
        towns=towns,
        industry_groups=sf.industry_groups(),
    ), _submitted_status(form)


@bp.route("/requests/new", methods=["GET", "POST"])
@signed_in("business_member")
def new_request():
    return _request_page(None)


@bp.route("/requests/<int:request_id>/edit", methods=["GET", "POST"])
@signed_in("business_member")
def edit_request(request_id: int):
    return _request_page(_own_listing(MatchRequest, request_id, "business_id"))


# --- offers (a company) ------------------------------------------------------------------------


def _split_areas(values: list[str]) -> tuple[list[str], list[str], list[str]]:
    """An offer's stored areas as the form shows them: regions, counties, and the rest
    (township codes set through the API), which the form keeps as they are."""
    regions = [v for v in values if v in sf.REGIONS]
    county_codes = [v for v in values if v in counties()]
    rest = [v for v in values if v not in regions and v not in county_codes]
    return regions, county_codes, rest


def _offer_form(listing: MatchOffer | None) -> sf.OfferForm:
    if listing is None:
        form = sf.OfferForm()
        if not form.is_submitted():
            form.home_county.data = me().organisation.county_code
        return form
    regions, county_codes, _rest = _split_areas(JsonList.load(listing.regions))
    return sf.OfferForm(
        data={
            "kinds": JsonList.load(listing.kinds),
            "budget": nt_input(listing.budget),
            "industries": JsonList.load(listing.industries),
            "regions": regions,
            "counties": county_codes,
            "home_county": listing.home_county or "",
            "motives": JsonList.load(listing.motives),
            "goals": ", ".join(JsonList.load(listing.goals)),
            "capacity": listing.capacity,
            "active": listing.active,
        }
    )


def _industry_options(chosen: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Sections and divisions by name, plus any finer code the offer already has."""
    groups = sf.industry_groups(max_level=2)
    shown = {code for group in groups.values() for code, _name in group}
    extra = [(c, industries()[c].name) for c in chosen if c in industries() and c not in shown]
    if extra:
        groups[_("Other chosen industries")] = extra
    return groups


def _offer_page(listing: MatchOffer | None):
    form = _offer_form(listing)
    county_list = sf.county_choices(english())
    form.counties.choices = county_list
    form.home_county.choices = [("", _("None")), *county_list]
    if form.validate_on_submit():
        kept = _split_areas(JsonList.load(listing.regions))[2] if listing else []
        try:
            with atomic(db_session()) as s:
                matching.save_offer(
                    s,
                    actor=me(),
                    company_id=me().organisation_id,
                    offer_id=listing.id if listing else None,
                    kinds=form.kinds.data,
                    budget=sf.nt_dollars(form.budget),
                    industries=form.industries.data or [],
                    regions=[*(form.regions.data or []), *(form.counties.data or []), *kept],
                    home_county=form.home_county.data or None,
                    motives=form.motives.data or [],
                    goals=sf.words(form.goals),
                    capacity=form.capacity.data,
                    active=bool(form.active.data),
                )
        except LedgerError as error:
            form_error(form, error)
        else:
            flash(_("Your offer is saved."), "info")
            return redirect(url_for("console.my_company") + "#offers")
    return render_template(
        "console/offer_form.html",
        form=form,
        listing=listing,
        industry_groups=_industry_options(form.industries.data or []),
    ), _submitted_status(form)


@bp.route("/offers/new", methods=["GET", "POST"])
@signed_in("company_member")
def new_offer():
    return _offer_page(None)


@bp.route("/offers/<int:offer_id>/edit", methods=["GET", "POST"])
@signed_in("company_member")
def edit_offer(offer_id: int):
    return _offer_page(_own_listing(MatchOffer, offer_id, "company_id"))
