"""Tables the API adds to the ledger's: bearer tokens.

A token is a random 32-byte secret shown once to its owner. Only its SHA-256 is stored: the
secret has 256 bits of entropy, so a fast hash cannot be brute-forced and lookups stay one
index probe per request (passwords, which are guessable, will use argon2 instead).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models import User, UTCDateTime, created, intpk
from placefund.db import Base


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
