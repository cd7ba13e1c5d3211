"""Passwords: argon2 hashes, checking them at sign-in, strength rules, manager resets.

Guessing is slowed by rate limits checked before any hash (web/rate_limits.py, applied
in the console's sign-in view), never by locking the account: a lock would let anyone lock
every fund manager out and stall the two-institution approvals at will.

What a password change means for the console (its signed-in sessions end; an admin's reset
also clears two-factor) is the console's: ``admin.console_passwords`` wraps these functions with it.
Like the other services these only flush; the caller commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.errors import FieldMessage, NotFound, PermissionDenied, ValidationError
from identity.models import PasswordReset, User

RESET_VALID_FOR = dt.timedelta(hours=24)
MIN_PASSWORD_LENGTH = 10

#: argon2id with the library's defaults (RFC 9106 low-memory profile). Tests swap in a
#: cheaper hasher; the parameters travel inside each hash, so verification needs no setting.
hasher = PasswordHasher()
#: Verified against for unknown emails, so a wrong email takes as long as a wrong password
_DUMMY_HASH = None


def hash_password(password: str) -> str:
    return hasher.hash(password)


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


class SignInRefused(Exception):
    """Wrong email or password."""

    def __init__(self):
        super().__init__("sign-in refused")


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).one_or_none()


def authenticate(session: Session, email: str, password: str) -> User:
    """The user with this email and password, or ``SignInRefused``.

    Each failure is counted, so the user is told at their next sign-in how many attempts
    failed meanwhile. Success clears the count and upgrades an outdated hash.
    """
    user = find_user(session, email)
    if user is None or not user.password_hash:
        # Same work as a wrong password, so response times do not reveal which emails exist
        with contextlib.suppress(VerificationError):
            hasher.verify(_dummy_hash(), password)
        raise SignInRefused()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        # Counted in SQL (UPDATE ... SET n = n + 1): parallel guesses cannot lose a count
        user.failed_logins = User.failed_logins + 1
        session.flush()
        raise SignInRefused() from None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    session.flush()
    return user


def _refuse_short(password: str) -> None:
    """The one length rule, whether a password is set or checked for strength first."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password needs at least {MIN_PASSWORD_LENGTH} characters.",
            fields={
                "password": [
                    FieldMessage(
                        f"at least {MIN_PASSWORD_LENGTH} characters",
                        "min_length",
                        n=MIN_PASSWORD_LENGTH,
                    )
                ]
            },
            reason="password_too_short",
            params={"n": MIN_PASSWORD_LENGTH},
        )


def set_password(session: Session, user: User, password: str) -> User:
    """Store a new password (hashed) and note when it changed.

    The console ends the user's signed-in sessions too: call
    ``admin.console_passwords.set_password`` from there (identity knows nothing of console
    sessions)."""
    _refuse_short(password)
    user.password_hash = hasher.hash(password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    session.flush()
    return user


#: Passwords people pick first; refused whatever their length
COMMON_PASSWORDS = frozenset(
    {
        "1234567890", "12345678910", "0123456789", "1111111111", "0000000000", "qwertyuiop",
        "1q2w3e4r5t", "1qaz2wsx3edc", "password123", "password1234", "passw0rd123",
        "iloveyou123", "qwerty12345", "abcdefghij", "abcd123456", "a123456789", "aa12345678",
        "taiwan1234", "taipei1234", "placefund1", "placefund123", "changeme123", "welcome123",
        "admin12345", "administrator", "letmein123", "asdfghjkl1", "zxcvbnm123",
    }
)  # fmt: skip


def check_password_strength(password: str, *, avoid: tuple[str, ...] = ()) -> None:
    """Refuse a password that is short, common, one repeated pattern, or built from the
    user's own email or names (``avoid``). Raises ``ValidationError`` on the password field."""
    _refuse_short(password)
    folded = password.casefold()
    words = {w.casefold() for a in avoid for w in re.split(r"[\s@._-]+", a or "") if len(w) >= 4}
    if (
        folded in COMMON_PASSWORDS
        or len(set(folded)) < 4
        or (folded.isdigit() and _is_sequence(folded))
        or any(w in folded for w in words)
    ):
        raise ValidationError(
            "The password is too easy to guess.",
            fields={"password": [FieldMessage("too easy to guess", "too_easy")]},
            case="weak_password",
        )


def _is_sequence(digits: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(digits)}
    return len(steps) == 1


def may_reset(actor: User, target: User) -> bool:
    """An admin resets anyone; a fund manager resets company and business members only.

    A manager who could reset another manager's password could sign in as them and give
    the second approval of a disbursement alone, defeating joint management.
    """
    if actor.role == "admin":
        return True
    return actor.role == "fund_manager" and target.role in ("company_member", "business_member")


def issue_reset(session: Session, *, actor: User, target: User) -> tuple[PasswordReset, str]:
    """A manager issues a one-time reset link for ``target``; returns the row and the secret.

    Earlier unused links of the user stop working. (An admin's reset also clears the user's
    two-factor enrolment: ``admin.console_passwords.issue_reset`` does both.)
    """
    if not may_reset(actor, target):
        raise PermissionDenied("You may not reset this user's password.", reason="reset_password")
    now = utcnow()
    for old in session.scalars(
        select(PasswordReset).where(
            PasswordReset.user_id == target.id, PasswordReset.used_at.is_(None)
        )
    ):
        old.used_at = now
    secret = secrets.token_urlsafe(32)
    row = PasswordReset(
        user_id=target.id,
        token_hash=hashlib.sha256(secret.encode()).hexdigest(),
        created_by_id=actor.id,
        expires_at=now + RESET_VALID_FOR,
    )
    session.add(row)
    session.flush()
    return row, secret


def find_reset(session: Session, secret: str) -> PasswordReset:
    """The unused, unexpired reset link for ``secret``, or ``NotFound``."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    row = session.scalars(
        select(PasswordReset).where(PasswordReset.token_hash == digest)
    ).one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise NotFound("This reset link is not valid or has expired.", reason="reset_link")
    return row


def use_reset(session: Session, secret: str, password: str) -> User:
    """Set a new password through a reset link; the link stops working.

    (The console ends the user's sessions too: ``admin.console_passwords.use_reset``.)"""
    row = find_reset(session, secret)
    user = set_password(session, row.user, password)
    row.used_at = utcnow()
    session.flush()
    return user
