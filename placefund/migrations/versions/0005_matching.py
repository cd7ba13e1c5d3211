"""Matching: offers, requests, related parties, designations, runs, proposals, partnerships.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
KINDS = "('product_development', 'investment', 'sponsorship')"


def upgrade() -> None:
    op.create_table(
        "match_offers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "company_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", name="fk_match_offers_company_id_organisations"),
            nullable=False,
        ),
        sa.Column("kinds", sa.Text(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("industries", sa.Text(), nullable=False),
        sa.Column("regions", sa.Text(), nullable=False),
        sa.Column("home_county", sa.String(5), nullable=True),
        sa.Column("motives", sa.Text(), nullable=False),
        sa.Column("goals", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("exclude_industries", sa.Text(), nullable=False),
        sa.Column("exclude_areas", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("capacity >= 1", name="ck_match_offers_capacity"),
    )
    op.create_index("ix_match_offers_company_id", "match_offers", ["company_id"])
    op.create_table(
        "match_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "business_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", name="fk_match_requests_business_id_organisations"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("industry", sa.String(8), nullable=False),
        sa.Column("town_code", sa.String(8), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_match_requests_kind"),
        sa.CheckConstraint("capacity >= 1", name="ck_match_requests_capacity"),
        sa.CheckConstraint("amount >= 0", name="ck_match_requests_amount"),
    )
    op.create_index("ix_match_requests_business_id", "match_requests", ["business_id"])
    op.create_table(
        "related_parties",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "org_a_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", name="fk_related_parties_org_a_id_organisations"),
            nullable=False,
        ),
        sa.Column(
            "org_b_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", name="fk_related_parties_org_b_id_organisations"),
            nullable=False,
        ),
        sa.Column(
            "declared_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_related_parties_declared_by_id_users"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("org_a_id", "org_b_id", name="uq_related_parties_pair"),
        sa.CheckConstraint("org_a_id < org_b_id", name="ck_related_parties_ordered"),
    )
    op.create_table(
        "priority_designations",
        sa.Column("town_code", sa.String(8), primary_key=True),
        sa.Column("priority_type", sa.String(32), nullable=False),
        sa.Column(
            "imported_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_priority_designations_imported_by_id_users"),
            nullable=True,
        ),
        sa.Column("imported_at", TS, nullable=False),
    )
    op.create_table(
        "match_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "started_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_match_runs_started_by_id_users"),
            nullable=True,
        ),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("solver_status", sa.String(16), nullable=False),
        sa.Column("total_score", sa.BigInteger(), nullable=False),
        sa.Column("bound", sa.BigInteger(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("published_at", TS, nullable=True),
        sa.Column(
            "published_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_match_runs_published_by_id_users"),
            nullable=True,
        ),
        sa.CheckConstraint("status IN ('reviewing', 'published')", name="ck_match_runs_status"),
    )
    op.create_table(
        "match_proposals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("match_runs.id", name="fk_match_proposals_run_id_match_runs"),
            nullable=False,
        ),
        sa.Column(
            "offer_id",
            sa.Integer(),
            sa.ForeignKey("match_offers.id", name="fk_match_proposals_offer_id_match_offers"),
            nullable=False,
        ),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("match_requests.id", name="fk_match_proposals_request_id_match_requests"),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Boolean(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("company_response", sa.String(16), nullable=True),
        sa.Column("company_reason", sa.Text(), nullable=True),
        sa.Column("business_response", sa.String(16), nullable=True),
        sa.Column("business_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("run_id", "offer_id", "request_id", name="uq_match_proposals_pair"),
        sa.CheckConstraint(
            "status IN ('proposed', 'published', 'accepted', 'declined', 'superseded')",
            name="ck_match_proposals_status",
        ),
    )
    for column in ("run_id", "offer_id", "request_id"):
        op.create_index(f"ix_match_proposals_{column}", "match_proposals", [column])
    op.create_table(
        "partnerships",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "proposal_id",
            sa.Integer(),
            sa.ForeignKey("match_proposals.id", name="fk_partnerships_proposal_id_match_proposals"),
            nullable=False,
        ),
        sa.Column(
            "offer_id",
            sa.Integer(),
            sa.ForeignKey("match_offers.id", name="fk_partnerships_offer_id_match_offers"),
            nullable=False,
        ),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("match_requests.id", name="fk_partnerships_request_id_match_requests"),
            nullable=False,
        ),
        sa.Column(
            "company_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", name="fk_partnerships_company_id_organisations"),
            nullable=False,
        ),
        sa.Column(
            "business_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", name="fk_partnerships_business_id_organisations"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column(
            "disbursement_id",
            sa.Integer(),
            sa.ForeignKey("disbursements.id", name="fk_partnerships_disbursement_id_disbursements"),
            nullable=True,
        ),
        sa.Column(
            "return_agreement_id",
            sa.Integer(),
            sa.ForeignKey(
                "return_agreements.id", name="fk_partnerships_return_agreement_id_return_agreements"
            ),
            nullable=True,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("proposal_id", name="uq_partnerships_proposal_id"),
    )
    op.create_index("ix_partnerships_company_id", "partnerships", ["company_id"])
    op.create_index("ix_partnerships_business_id", "partnerships", ["business_id"])


def downgrade() -> None:
    for table in (
        "partnerships", "match_proposals", "match_runs", "priority_designations",
        "related_parties", "match_requests", "match_offers",
    ):  # fmt: skip
        op.drop_table(table)
