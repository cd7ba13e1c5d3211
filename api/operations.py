"""The API's own checks that move no money.

Registering and verifying organisations and revoking tokens are identity's
(``identity.organisations``, ``identity.tokens``); profiles are ``identity.organisations``'
and projects ``ledger.projects``' (the console uses them too).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ledger.errors import NotFound, ValidationError
from ledger.models import Disbursement, Project


def check_agreement_links(
    session: Session, *, business_id: int, project_id: int | None, disbursement_id: int | None
) -> None:
    """A return agreement's project and disbursement must exist and belong to its business."""
    if project_id is not None:
        project = session.get(Project, project_id)
        if project is None or project.business_id != business_id:
            raise NotFound(
                f"Project {project_id} of business {business_id} does not exist.",
                fields={"project_id": ["no such project of this business"]},
            )
    if disbursement_id is not None:
        d = session.get(Disbursement, disbursement_id)
        if d is None or d.project.business_id != business_id:
            raise NotFound(
                f"Disbursement {disbursement_id} to business {business_id} does not exist.",
                fields={"disbursement_id": ["no such disbursement to this business"]},
            )
        if project_id is not None and d.project_id != project_id:
            raise ValidationError(
                "The disbursement went to another project.",
                fields={"disbursement_id": ["not for this project"]},
            )
