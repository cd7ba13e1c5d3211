"""Projects of local businesses: the place-creation work the fund grants or invests in.

The API (``POST /api/v1/projects``) and the console's self-service pages call the same
``create_project``, so a business gets the same rules on either face. Only fund managers set
a project's priority-area type, because it decides which restricted money may fund it.
Like the other services it only flushes; the caller commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from foundation.errors import FieldMessage, NotFound, ValidationError
from identity.models import Organisation, User
from identity.organisations import checked_name, township
from ledger.books.chart import PRIORITY_TYPES
from ledger.fund.models import Project


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
                "Say which business the project is for.",
                fields={"business_id": [FieldMessage("required", "required")]},
            )
        business = session.get(Organisation, business_id)
        if business is None:
            raise NotFound(f"Business {business_id} does not exist.")
    else:
        if business_id not in (None, actor.organisation_id):
            raise ValidationError(
                "A business creates projects only for itself.",
                fields={
                    "business_id": [
                        FieldMessage("must be your own organisation", "own_organisation")
                    ]
                },
            )
        if priority_type is not None:
            raise ValidationError(
                "The priority-area type is set by fund managers.",
                fields={"priority_type": ["set by fund managers"]},
            )
        business = actor.organisation
    if business.kind != "business":
        raise ValidationError(
            "Projects belong to local businesses.",
            fields={"business_id": [FieldMessage("not a business", "not_a_business")]},
        )
    if priority_type is not None and priority_type not in PRIORITY_TYPES:
        raise ValidationError(
            f"Unknown priority-area type {priority_type!r}.",
            fields={"priority_type": list(PRIORITY_TYPES)},
        )
    town = township(town_code)
    project = Project(
        business_id=business.id,
        name=checked_name(name),
        county_code=town.county_code,
        town_code=town.code,
        priority_type=priority_type,
    )
    session.add(project)
    session.flush()
    return project
