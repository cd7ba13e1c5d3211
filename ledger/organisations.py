"""Profiles and projects of companies and local businesses: the verbs that move no money.

The API (``PATCH /api/v1/organisations/{id}``, ``POST /api/v1/projects``) and the console's
self-service pages call these same functions, so a business gets the same rules on either
face. Who may do what is decided here, not by the caller: a member acts only for its own
organisation (another's looks as if it did not exist), and only fund managers set a
project's priority-area type, because it decides which restricted money may fund it.
Like the other services they only flush; the caller commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from identity.models import Organisation, User
from ledger.chart import PRIORITY_TYPES
from ledger.errors import NotFound, ValidationError
from ledger.models import Project
from placefund.reference import townships


def _town(code: str | None, field: str = "town_code"):
    town = townships().get(code or "")
    if town is None:
        raise ValidationError(
            f"Unknown township code {code!r}.", fields={field: ["unknown township"]}
        )
    return town


def _name(value: str | None, field: str = "name") -> str:
    name = (value or "").strip()
    if not name:
        raise ValidationError("A name is required.", fields={field: ["required"]})
    if len(name) > 200:
        raise ValidationError("The name is too long.", fields={field: ["too long"]})
    return name


def _own(actor: User, org: Organisation | None, what: str, ident: int | None) -> Organisation:
    """Managers reach every organisation; a member only its own (others are not found)."""
    if org is None or (not actor.is_manager and actor.organisation_id != org.id):
        raise NotFound(f"{what} {ident} does not exist.")
    return org


def update_profile(
    session: Session,
    *,
    actor: User,
    org: Organisation,
    changes: dict,
    expected_version: int | None = None,
) -> Organisation:
    """Edit an organisation's profile: name, English name, township.

    ``expected_version`` is the version the editor read; a profile changed since then is
    refused rather than overwritten (the ORM's version counter also refuses a racing update).
    """
    _own(actor, org, "Organisation", org.id if org else None)
    unknown = set(changes) - {"name", "name_en", "town_code"}
    if unknown:
        raise ValidationError(
            f"Unknown fields: {', '.join(sorted(unknown))}.",
            fields={name: ["unknown field"] for name in sorted(unknown)},
        )
    if expected_version is not None and expected_version != org.version:
        raise ValidationError(
            "The profile changed since you opened it; reload and edit again.",
            fields={"version": [f"current version is {org.version}"]},
            case="stale_profile",
        )
    if "town_code" in changes and org.kind == "institution":
        raise ValidationError("Institutions have no township.")
    if "name" in changes:
        org.name = _name(changes["name"])
    if "name_en" in changes:
        org.name_en = (changes["name_en"] or "").strip() or None
    if "town_code" in changes:
        town = _town(changes["town_code"])
        org.town_code, org.county_code = town.code, town.county_code
    session.flush()
    return org


def create_project(
    session: Session,
    *,
    actor: User,
    business_id: int | None,
    name: str,
    town_code: str,
    priority_type: str | None = None,
) -> Project:
    """A local business's place-creation project, in a township of the 368 reference.

    A business member creates projects for its own business (``business_id`` None or its
    own); a manager names the business. Only managers set the priority-area type.
    """
    if actor.is_manager:
        if business_id is None:
            raise ValidationError(
                "Say which business the project is for.", fields={"business_id": ["required"]}
            )
        business = session.get(Organisation, business_id)
        if business is None:
            raise NotFound(f"Business {business_id} does not exist.")
    else:
        if business_id not in (None, actor.organisation_id):
            raise ValidationError(
                "A business creates projects only for itself.",
                fields={"business_id": ["must be your own organisation"]},
            )
        if priority_type is not None:
            raise ValidationError(
                "The priority-area type is set by fund managers.",
                fields={"priority_type": ["set by fund managers"]},
            )
        business = actor.organisation
    if business.kind != "business":
        raise ValidationError(
            "Projects belong to local businesses.", fields={"business_id": ["not a business"]}
        )
    if priority_type is not None and priority_type not in PRIORITY_TYPES:
        raise ValidationError(
            f"Unknown priority-area type {priority_type!r}.",
            fields={"priority_type": list(PRIORITY_TYPES)},
        )
    town = _town(town_code)
    project = Project(
        business_id=business.id,
        name=_name(name),
        county_code=town.county_code,
        town_code=town.code,
        priority_type=priority_type,
    )
    session.add(project)
    session.flush()
    return project
