"""Roles, and the one rule both faces apply to them: managers see everything, members only
their own organisation (anything else looks as if it did not exist)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation.errors import NotFound, PermissionDenied

if TYPE_CHECKING:
    from identity.models import User

ROLES = ("company_member", "business_member", "fund_manager", "admin")
#: The fund's managers: they see every organisation and move the fund's money
MANAGERS = ("fund_manager", "admin")
#: Members of a company or a local business: they act for their own organisation only
MEMBERS = ("company_member", "business_member")


def is_manager(user: User) -> bool:
    return user.role in MANAGERS


def own_scope(user: User, requested: int | None) -> tuple[bool, int | None]:
    """The organisation filter for a listing: (visible, organisation id or None for all).

    Managers see everything and may filter; members see only their own organisation, and a
    filter naming another organisation gives an empty list (not an error that confirms it).
    """
    if is_manager(user):
        return True, requested
    if requested is not None and requested != user.organisation_id:
        return False, None
    return True, user.organisation_id


def visible(user: User, owner_id: int | None, what: str, ident: object) -> None:
    """NotFound unless the user may see an object owned by ``owner_id`` (missing looks the
    same)."""
    if is_manager(user):
        return
    if owner_id is None or owner_id != user.organisation_id:
        raise NotFound(f"{what} {ident} does not exist.")


def require_manager(actor: User | None) -> User:
    """Only fund managers (and admins) move the fund's money or change its books."""
    if actor is None or not actor.is_manager:
        raise PermissionDenied("Only a fund manager may do this.", reason="fund_manager_only")
    return actor
