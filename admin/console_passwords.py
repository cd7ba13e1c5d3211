"""What a password change means for the console: its signed-in sessions end, and an admin's
reset also clears two-factor sign-in.

Hashing, checking and resetting passwords are identity's (``identity.passwords``); the
console calls these wrappers so that the sessions and two-factor enrolment it keeps
(``admin.console_sessions``, ``admin.two_factor``) follow. Like the other services these
only flush; the view's transaction commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from admin import console_sessions, two_factor
from identity import passwords
from identity.models import PasswordReset, User


def set_password(session: Session, user: User, password: str) -> User:
    """Store a new password (hashed) and end every console session of the user."""
    passwords.set_password(session, user, password)
    console_sessions.end_all(session, user.id, "password_changed")
    return user


def issue_reset(session: Session, *, actor: User, target: User) -> tuple[PasswordReset, str]:
    """A manager issues a one-time reset link for ``target``; returns the row and the secret.

    An admin's reset also clears the user's two-factor enrolment (the reset link is then the
    way back in after a lost phone and lost recovery codes), and the user enrols again at
    the next sign-in.
    """
    row, secret = passwords.issue_reset(session, actor=actor, target=target)
    if actor.role == "admin":
        two_factor.clear(session, target)
    return row, secret


def use_reset(session: Session, secret: str, password: str) -> User:
    """Set a new password through a reset link (the link stops working) and end every
    console session of the user."""
    user = passwords.use_reset(session, secret, password)
    console_sessions.end_all(session, user.id, "password_changed")
    return user
