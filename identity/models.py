"""The identity tables: organisations, users, API tokens and password reset links.

API tokens and reset links are random 32-byte secrets shown once to their owner; only their
SHA-256 is stored. The secret has 256 bits of entropy, so a fast hash cannot be brute-forced
and a lookup stays one index probe per request (passwords, which are guessable, use argon2:
``identity.passwords``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from foundation.db import Base, UTCDateTime, created, intpk
from identity.roles import ROLES, is_manager

ORG_KINDS = ("company", "business", "institution")


class Organisation(Base):
    """A company (donor), a local business (grantee) or a fund institution (NDC, MOEA, county)."""

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(f"kind IN {ORG_KINDS}", name="kind"),)

    id: Mapped[intpk]
    #: company, business or institution
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    #: 統一編號, the 8-digit Unified Business Number (companies and businesses)
    ubn: Mapped[str | None] = mapped_column(String(8), unique=True)
    #: For institutions: a short code such as NDC, MOEA or a county code; approvals compare it
    institution_code: Mapped[str | None] = mapped_column(String(16))
    county_code: Mapped[str | None] = mapped_column(String(5))
    town_code: Mapped[str | None] = mapped_column(String(8))
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[created]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role"),)

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[created]
    #: Console sign-in failures since the last success, told to the user when they next
    #: sign in (guessing is slowed by rate limits, never by locking the account)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: When the password was last set (every console session is ended then)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Two-factor sign-in (TOTP, RFC 6238): the shared secret (base32) once enrolled, and
    #: the last time step accepted, so a code is never accepted twice
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    organisation: Mapped[Organisation] = relationship(lazy="joined")

    @property
    def institution(self) -> str | None:
        """The institution a fund manager answers to; approvals need two different ones."""
        org = self.organisation
        return (org.institution_code or f"org:{org.id}") if org else None

    #: ``identity.roles.is_manager`` read as an attribute (templates and services use both)
    is_manager = property(is_manager)


class ApiToken(Base):
    """A bearer token of one user; revoked tokens stay on record (who revoked, when)."""

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: What the owner calls it ("accounting export", "demo")
    name: Mapped[str] = mapped_column(String(100))
    #: The first characters of the token (``pf_`` and 6 more), so a person can tell tokens apart
    prefix: Mapped[str] = mapped_column(String(16))
    #: SHA-256 (hex) of the whole token; the token itself is never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[created]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Updated at most once a minute, so a busy client does not write on every request
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class PasswordReset(Base):
    """A reset link a manager hands to a user. Only the SHA-256 of its secret is stored."""

    __tablename__ = "password_resets"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 (hex) of the secret in the link; the secret itself is shown once
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The manager who issued it
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Set when the link is used; a link works once
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
