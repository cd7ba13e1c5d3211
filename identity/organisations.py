"""Organisations: registering, verifying and editing their profiles.

A company or local business registers itself (unverified) with its first member, from the
API (``POST /api/v1/organisations``, which also hands out the member's first API token) or
the console's registration page (which gives the member a password instead); a fund manager
verifies it before money moves. Both faces edit a profile through ``update_profile``, so a
business gets the same rules on either. Who may do what is decided here, not by the caller:
a member acts only for its own organisation (another's looks as if it did not exist).
Projects are the ledger's (``ledger.fund.projects``). Like the other services these only flush;
the caller commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.errors import FieldMessage, InvalidState, NotFound, ValidationError
from foundation.reference import townships
from identity import passwords
from identity.models import ApiToken, Organisation, User
from identity.tokens import issue_token


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
    password: str | None = None,
) -> tuple[Organisation, User, ApiToken | None, str | None]:
    """A company or local business registers itself (unverified) with its first member.

    Returns the organisation, the member and the member's first token (the plain token is
    shown once): what ``POST /api/v1/organisations`` hands out. The console's registration
    gives a ``password`` instead (checked for strength before anything else): the member
    signs in with it and gets no token (None for both). A fund manager verifies the
    organisation before it can take part in money.
    """
    # Names first: a name that is no name is said next to its field before anything else
    name = checked_name(name)
    name_en = checked_english_name(name_en)
    if password is not None:
        passwords.check_password_strength(
            password, avoid=(contact_email, contact_name, name, name_en or "", ubn)
        )
    if kind not in ("company", "business"):
        raise ValidationError(
            "Only companies and local businesses register themselves.", reason="self_registration"
        )
    if _ubn_taken(session, ubn):
        raise ValidationError(
            "An organisation with this Unified Business Number is already registered.",
            fields={"ubn": [FieldMessage("already registered", "already_registered")]},
            reason="ubn_registered",
        )
    email = contact_email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError(
            "This email address already belongs to a user.",
            fields={"contact.email": [FieldMessage("in use", "in_use")]},
            reason="email_taken",
        )
    town = townships()[town_code]
    org = Organisation(
        kind=kind,
        name=name,
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
    if password is not None:  # the console signs its users in with a password instead
        passwords.set_password(session, user, password)
        return org, user, None, None
    token, plain = issue_token(session, user, name="registration")
    return org, user, token, plain


def verify_organisation(session: Session, org: Organisation, actor: User) -> Organisation:
    """A fund manager confirms a registered company or business is who it says it is."""
    if org.kind == "institution":
        raise InvalidState(
            "Institutions are verified when they are set up.", reason="institution_verified"
        )
    if org.verified_at is None:
        org.verified_at = utcnow()
        session.flush()
    return org


def township(code: str | None, field: str = "town_code"):
    """The township of the 368 reference with this code, or a ValidationError on ``field``."""
    town = townships().get(code or "")
    if town is None:
        raise ValidationError(
            f"Unknown township code {code!r}.",
            fields={field: [FieldMessage("unknown township", "unknown_township")]},
        )
    return town


def checked_name(value: str | None, field: str = "name") -> str:
    """A trimmed name of 1 to 200 characters holding at least one letter (a CJK character
    is one), or a ValidationError on ``field``.

    A name of emoji, symbols, digits or invisible characters alone (「🌾🌾」, 「---」, a
    zero-width space) names nobody: lists, receipts and the matcher's proposals would show
    a blank or a row of pictures for an organisation that is to be verified and paid."""
    name = (value or "").strip()
    if not name:
        raise ValidationError(
            "A name is required.", fields={field: [FieldMessage("required", "required")]}
        )
    if len(name) > 200:
        raise ValidationError(
            "The name is too long.", fields={field: [FieldMessage("too long", "too_long")]}
        )
    if not any(ch.isalpha() for ch in name):
        raise ValidationError(
            "A name must contain at least one letter or Chinese character.",
            fields={field: [FieldMessage("must contain a letter", "no_letter")]},
            reason="name_without_letters",
        )
    return name


def checked_english_name(value: str | None, field: str = "name_en") -> str | None:
    """An optional name: None when empty, else checked like any name."""
    return checked_name(value, field) if (value or "").strip() else None


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
            fields={
                name: [FieldMessage("unknown field", "unknown_field")] for name in sorted(unknown)
            },
        )
    if expected_version is not None and expected_version != org.version:
        raise ValidationError(
            "The profile changed since you opened it; reload and edit again.",
            fields={
                "version": [
                    FieldMessage(
                        f"current version is {org.version}", "current_version", version=org.version
                    )
                ]
            },
            case="stale_profile",
        )
    if "town_code" in changes and org.kind == "institution":
        raise ValidationError("Institutions have no township.")
    if "name" in changes:
        org.name = checked_name(changes["name"])
    if "name_en" in changes:
        org.name_en = checked_english_name(changes["name_en"])
    if "town_code" in changes:
        town = township(changes["town_code"])
        org.town_code, org.county_code = town.code, town.county_code
    session.flush()
    return org
