"""Tables the console adds: one-time password reset links issued by a fund manager."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models import User, UTCDateTime, created, intpk
from placefund.db import Base


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
