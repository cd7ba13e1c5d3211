"""Database records of the matching workflow (SQLAlchemy). The pure core is in models.py.

Offers and requests are what companies and businesses publish; a run stores its parameters,
its input and every proposal with its breakdown, so a run can be audited later exactly as
the managers reviewed it. An accepted proposal becomes a partnership.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from foundation.db import Base, UTCDateTime, created, intpk
from identity.models import Organisation

KINDS = ("product_development", "investment", "sponsorship")
PROPOSAL_STATES = ("proposed", "published", "accepted", "declined", "superseded")
RUN_STATES = ("reviewing", "published")


class JsonList:
    """Helpers for list columns stored as JSON text (portable across SQLite and PostgreSQL)."""

    @staticmethod
    def dump(values) -> str:
        return json.dumps(
            sorted(values) if isinstance(values, set | frozenset) else list(values),
            ensure_ascii=False,
        )

    @staticmethod
    def load(text: str | None) -> list:
        return json.loads(text) if text else []


class MatchOffer(Base):
    """What a company offers: kinds, budget, interests, capacity, exclusions."""

    __tablename__ = "match_offers"
    __table_args__ = (CheckConstraint("capacity >= 1", name="capacity"),)

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    #: JSON list of partnership kinds
    kinds: Mapped[str] = mapped_column(Text)
    #: Minor units; None means no budget limit (e.g. product development in kind)
    budget: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="TWD")
    #: JSON lists: DGBAS codes at any level; regions (region, county or town codes)
    industries: Mapped[str] = mapped_column(Text, default="[]")
    regions: Mapped[str] = mapped_column(Text, default="[]")
    home_county: Mapped[str | None] = mapped_column(String(5))
    motives: Mapped[str] = mapped_column(Text, default="[]")
    goals: Mapped[str] = mapped_column(Text, default="[]")
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    #: JSON lists of excluded industries and areas
    exclude_industries: Mapped[str] = mapped_column(Text, default="[]")
    exclude_areas: Mapped[str] = mapped_column(Text, default="[]")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created]
    version: Mapped[int] = mapped_column(Integer, default=1)

    company: Mapped[Organisation] = relationship()

    __mapper_args__ = {"version_id_col": version}


class MatchRequest(Base):
    """What a local business asks for: one kind, an amount, its industry and township."""

    __tablename__ = "match_requests"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("amount >= 0", name="amount"),
    )

    id: Mapped[intpk]
    business_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="TWD")
    industry: Mapped[str] = mapped_column(String(8))
    town_code: Mapped[str] = mapped_column(String(8))
    tags: Mapped[str] = mapped_column(Text, default="[]")
    description: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created]
    version: Mapped[int] = mapped_column(Integer, default=1)

    business: Mapped[Organisation] = relationship()

    __mapper_args__ = {"version_id_col": version}


class RelatedParty(Base):
    """Two organisations declared related: a conflict of interest, never matched."""

    __tablename__ = "related_parties"
    __table_args__ = (
        UniqueConstraint("org_a_id", "org_b_id", name="uq_related_parties_pair"),
        CheckConstraint("org_a_id < org_b_id", name="ordered"),
    )

    id: Mapped[intpk]
    org_a_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    org_b_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    declared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created]


class PriorityDesignation(Base):
    """A township designated a priority area (地方創生優先推動地區), imported by managers."""

    __tablename__ = "priority_designations"

    town_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    priority_type: Mapped[str] = mapped_column(String(32))
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[created]


class MatchRun(Base):
    """One solve: its parameters, its input as solved, and its outcome."""

    __tablename__ = "match_runs"
    __table_args__ = (CheckConstraint(f"status IN {RUN_STATES}", name="status"),)

    id: Mapped[intpk]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The parameters as given (JSON)
    params: Mapped[str] = mapped_column(Text)
    #: The whole instance as solved (JSON, the `match solve` input format) for audit
    instance: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="reviewing")
    #: optimal or feasible (the integer solver stopped at its gap or time limit)
    solver_status: Mapped[str] = mapped_column(String(16))
    total_score: Mapped[int] = mapped_column(BigInteger)
    bound: Mapped[int] = mapped_column(BigInteger)
    candidates: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[created]
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    #: Loaded when read, never with the run: a national run has 100,000 proposals, and the
    #: console's pages of runs and of one run read them a count or a page at a time
    proposals: Mapped[list[MatchProposal]] = relationship(
        order_by="MatchProposal.id", lazy="select", back_populates="run"
    )


class MatchProposal(Base):
    """A proposed pair with its score breakdown and the best alternative that lost."""

    __tablename__ = "match_proposals"
    __table_args__ = (
        CheckConstraint(f"status IN {PROPOSAL_STATES}", name="status"),
        UniqueConstraint("run_id", "offer_id", "request_id", name="uq_match_proposals_pair"),
    )

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(ForeignKey("match_runs.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("match_offers.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("match_requests.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    #: Kept from an earlier accepted partnership (the run could not change it)
    fixed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: JSON: components with points and reasons (zh, en), and the alternatives that lost
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    company_response: Mapped[str | None] = mapped_column(String(16))
    company_reason: Mapped[str | None] = mapped_column(Text)
    business_response: Mapped[str | None] = mapped_column(String(16))
    business_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    run: Mapped[MatchRun] = relationship(back_populates="proposals")
    offer: Mapped[MatchOffer] = relationship(lazy="joined")
    request: Mapped[MatchRequest] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


class Partnership(Base):
    """An accepted pair: a product development, investment or sponsorship agreement.

    It can later link to the disbursement that funds it and the return agreement that
    brings revenue back to the fund.
    """

    __tablename__ = "partnerships"

    id: Mapped[intpk]
    proposal_id: Mapped[int] = mapped_column(ForeignKey("match_proposals.id"), unique=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("match_offers.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("match_requests.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    disbursement_id: Mapped[int | None] = mapped_column(ForeignKey("disbursements.id"))
    return_agreement_id: Mapped[int | None] = mapped_column(ForeignKey("return_agreements.id"))
    created_at: Mapped[created]
