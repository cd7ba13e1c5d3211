"""Two-factor sign-in (TOTP, RFC 6238) for the people who move public money.

Fund managers and admins sign in with their password and then a six-digit code from an
authenticator app; one who has not enrolled yet enrols right after the password (there is no
way around it). Ten one-time recovery codes, shown once and stored hashed, stand in for a
lost phone; an admin's password reset also clears the enrolment, so the user enrols again.

A code is accepted once: the time step it belongs to must be later than the last accepted
one, so a code seen over a shoulder or replayed from a log is refused. Like ledger services
these only flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from admin.models import RecoveryCode
from foundation.db import utcnow
from foundation.errors import FieldMessage, ValidationError
from identity.models import User

#: Roles that must use a second factor
REQUIRED_FOR = ("fund_manager", "admin")
ISSUER = "placefund"
RECOVERY_CODES = 10
#: Codes of one step earlier or later are accepted too (clocks drift; people type slowly)
VALID_WINDOW = 1


def clock() -> float:
    """Seconds since the epoch; tests replace it to step through time."""
    return time.time()


def required(user: User) -> bool:
    return user.role in REQUIRED_FOR


def enrolled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, user: User, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG data URI (no network, no script)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-").lower()


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step ``code`` belongs to (within the window, later than ``after``)."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(clock()) // totp.interval
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if after is not None and step <= after:
            continue
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def enrol(session: Session, user: User, secret: str, code: str) -> list[str]:
    """Turn two-factor sign-in on with ``secret`` once ``code`` proves the app has it;
    returns the new recovery codes (shown once)."""
    step = _matching_step(secret, _normalise(code), None)
    if step is None:
        raise ValidationError(
            "The code does not match. Check the clock of your phone and type the code shown now.",
            fields={"code": [FieldMessage("the code does not match", "code_mismatch")]},
            case="two_factor_code",
        )
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    return new_recovery_codes(session, user)


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones (the old ones stop working)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(_normalise(c))) for c in codes)
    session.flush()
    return codes


def verify(session: Session, user: User, code: str) -> str | None:
    """Check a code at sign-in: ``"totp"`` or ``"recovery"`` when accepted, else None."""
    code = _normalise(code)
    if not enrolled(user) or not code:
        return None
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        session.flush()
        return "totp"
    row = session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _digest(code),
            RecoveryCode.used_at.is_(None),
        )
    ).one_or_none()
    if row is not None:
        row.used_at = utcnow()
        session.flush()
        return "recovery"
    return None


def recovery_codes_left(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def clear(session: Session, user: User) -> None:
    """Forget the enrolment (an admin's reset): the user enrols again at next sign-in."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
