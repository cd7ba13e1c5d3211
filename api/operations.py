"""The API's own verbs that move no money: registration, verification, tokens.

Profiles and projects are ``ledger.organisations``' (the console uses them too).

Like ledger services they only flush; the view's transaction commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import issue_token
from identity.models import ApiToken, Organisation, User
from ledger.errors import InvalidState, NotFound, ValidationError
from ledger.models import Project
from placefund.db import utcnow
from placefund.reference import townships


def _ubn_taken(session: Session, ubn: str, exclude: int | None = None) -> bool:
    stmt = select(Organisation.id).where(Organisation.ubn == ubn)
    if exclude is not None:
        stmt = stmt.where(Organisation.id != exclude)
    return session.scalar(stmt) is not None


def register_organisation(
    session: Session,
    *,
    kind: str,
    name: str,
    name_en: str | None,
    ubn: str,
    town_code: str,
    contact_email: str,
    contact_name: str,
    with_token: bool = True,
) -> tuple[Organisation, User, ApiToken | None, str | None]:
    """A company or local business registers itself (unverified) with its first member.

    Returns the organisation, the member and the member's first token (the plain token is
    shown once), or None for both without ``with_token``. A fund manager verifies the
    organisation before it can take part in money.
    """
    if kind not in ("company", "business"):
        raise ValidationError("Only companies and local businesses register themselves.")
    if _ubn_taken(session, ubn):
        raise ValidationError(
            "An organisation with this Unified Business Number is already registered.",
            fields={"ubn": ["already registered"]},
        )
    email = contact_email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError(
            "This email address already belongs to a user.", fields={"contact.email": ["in use"]}
        )
    town = townships()[town_code]
    org = Organisation(
        kind=kind,
        name=name.strip(),
        name_en=name_en,
        ubn=ubn,
        county_code=town.county_code,
        town_code=town_code,
    )
    session.add(org)
    session.flush()
    user = User(
        email=email,
        name=contact_name.strip(),
        role="company_member" if kind == "company" else "business_member",
        organisation_id=org.id,
    )
    session.add(user)
    session.flush()
    if not with_token:  # the console signs its users in with a password instead
        return org, user, None, None
    token, plain = issue_token(session, user, name="registration")
    return org, user, token, plain


def verify_organisation(session: Session, org: Organisation, actor: User) -> Organisation:
    """A fund manager confirms a registered company or business is who it says it is."""
    if org.kind == "institution":
        raise InvalidState("Institutions are verified when they are set up.")
    if org.verified_at is None:
        org.verified_at = utcnow()
        session.flush()
    return org


def revoke_token(session: Session, token: ApiToken, actor: User) -> ApiToken:
    """Revoke a token (idempotent: revoking twice keeps the first time and revoker)."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.revoked_by_id = actor.id
        session.flush()
    return token


def check_agreement_links(
    session: Session, *, business_id: int, project_id: int | None, disbursement_id: int | None
) -> None:
    """A return agreement's project and disbursement must exist and belong to its business."""
    from ledger.models import Disbursement

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
