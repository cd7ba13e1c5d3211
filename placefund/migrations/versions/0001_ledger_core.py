"""Ledger core: parties, accounts, entries, postings, seals, money records, and the triggers
that make posted rows immutable and (on PostgreSQL) entries balanced at commit.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 06:15:07.487229
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=160), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("normal_sign", sa.SmallInteger(), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "type IN ('asset', 'liability', 'net_assets', 'income', 'expense')",
            name=op.f("ck_ledger_accounts_type"),
        ),
        sa.CheckConstraint(
            "allow_negative OR balance * normal_sign >= 0",
            name=op.f("ck_ledger_accounts_no_overdraft"),
        ),
        sa.CheckConstraint("normal_sign IN (1, -1)", name=op.f("ck_ledger_accounts_normal_sign")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("ubn", sa.String(length=8), nullable=True),
        sa.Column("institution_code", sa.String(length=16), nullable=True),
        sa.Column("county_code", sa.String(length=5), nullable=True),
        sa.Column("town_code", sa.String(length=8), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('company', 'business', 'institution')", name=op.f("ck_organisations_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("ubn", name=op.f("uq_organisations_ubn")),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("county_code", sa.String(length=5), nullable=False),
        sa.Column("town_code", sa.String(length=8), nullable=False),
        sa.Column("priority_type", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["organisations.id"],
            name=op.f("fk_projects_business_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('company_member', 'business_member', 'fund_manager', 'admin')",
            name=op.f("ck_users_role"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_users_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("reverses_entry_id", BigId, nullable=True),
        sa.Column("related_entry_id", BigId, nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("source_refs", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_ledger_entries_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["related_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_entries_related_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_entries_reverses_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entries_idempotency_key")),
        sa.UniqueConstraint("reverses_entry_id", name=op.f("uq_ledger_entries_reverses_entry_id")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_related_entry_id"), ["related_entry_id"], unique=False
        )

    op.create_table(
        "ledger_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assertions", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_ledger_periods_closed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_periods")),
        sa.UniqueConstraint("end_date", name=op.f("uq_ledger_periods_end_date")),
    )
    op.create_table(
        "disbursements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("funding", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reserve_entry_id", BigId, nullable=False),
        sa.Column("pay_entry_id", BigId, nullable=True),
        sa.Column("paid_by_id", sa.Integer(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_entry_id", BigId, nullable=True),
        sa.Column("voided_by_id", sa.Integer(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('grant', 'investment')", name=op.f("ck_disbursements_kind")),
        sa.CheckConstraint(
            "status IN ('reserved', 'paid', 'voided')", name=op.f("ck_disbursements_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_disbursements_positive")),
        sa.ForeignKeyConstraint(
            ["paid_by_id"], ["users.id"], name=op.f("fk_disbursements_paid_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["pay_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_disbursements_pay_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_disbursements_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"], ["users.id"], name=op.f("fk_disbursements_proposed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reserve_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_disbursements_reserve_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["void_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_disbursements_void_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["voided_by_id"], ["users.id"], name=op.f("fk_disbursements_voided_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disbursements")),
        sa.UniqueConstraint("pay_entry_id", name=op.f("uq_disbursements_pay_entry_id")),
        sa.UniqueConstraint("reserve_entry_id", name=op.f("uq_disbursements_reserve_entry_id")),
        sa.UniqueConstraint("void_entry_id", name=op.f("uq_disbursements_void_entry_id")),
    )
    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disbursements_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "ledger_postings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_postings_nonzero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_postings_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_postings_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
    )
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_postings_account_date",
            ["account_id", "entry_date", "entry_id"],
            unique=False,
            postgresql_include=["amount"],
        )
        batch_op.create_index(batch_op.f("ix_ledger_postings_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "ledger_seals",
        sa.Column("seq", BigId, nullable=False),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_seals_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_seals")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_ledger_seals_entry_id")),
    )
    op.create_table(
        "ledger_unsealed",
        sa.Column("entry_id", BigId, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_unsealed_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger_unsealed")),
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("bank_account_code", sa.String(length=160), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("stripe_payout_id", sa.String(length=64), nullable=True),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_payouts_entry_id_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_payouts_entry_id")),
        sa.UniqueConstraint("stripe_payout_id", name=op.f("uq_payouts_stripe_payout_id")),
    )
    op.create_table(
        "pledges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("restriction", sa.String(length=64), nullable=True),
        sa.Column("public_name", sa.Boolean(), nullable=False),
        sa.Column("pledged_on", sa.Date(), nullable=False),
        sa.Column("virtual_account", sa.String(length=20), nullable=True),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_pledges_positive")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["organisations.id"], name=op.f("fk_pledges_company_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_pledges_entry_id_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledges")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_pledges_entry_id")),
        sa.UniqueConstraint("virtual_account", name=op.f("uq_pledges_virtual_account")),
    )
    with op.batch_alter_table("pledges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pledges_company_id"), ["company_id"], unique=False)

    op.create_table(
        "disbursement_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("disbursement_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["disbursement_id"],
            ["disbursements.id"],
            name=op.f("fk_disbursement_approvals_disbursement_id_disbursements"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_disbursement_approvals_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disbursement_approvals")),
        sa.UniqueConstraint("disbursement_id", "user_id", name="uq_disbursement_approvals_user"),
    )
    op.create_table(
        "donations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("pledge_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("gross_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("settlement_currency", sa.String(length=3), nullable=False),
        sa.Column("settlement_gross", sa.BigInteger(), nullable=False),
        sa.Column("fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("net_amount", sa.BigInteger(), nullable=False),
        sa.Column("restriction", sa.String(length=64), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IN ('stripe', 'bank_transfer', 'other')", name=op.f("ck_donations_channel")
        ),
        sa.CheckConstraint("gross_amount > 0", name=op.f("ck_donations_positive")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["organisations.id"], name=op.f("fk_donations_company_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_donations_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(
            ["pledge_id"], ["pledges.id"], name=op.f("fk_donations_pledge_id_pledges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donations")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_donations_entry_id")),
    )
    with op.batch_alter_table("donations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_donations_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_donations_pledge_id"), ["pledge_id"], unique=False)

    op.create_table(
        "pledge_instalments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pledge_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_pledge_instalments_positive")),
        sa.ForeignKeyConstraint(
            ["pledge_id"], ["pledges.id"], name=op.f("fk_pledge_instalments_pledge_id_pledges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledge_instalments")),
        sa.UniqueConstraint("pledge_id", "seq", name="uq_pledge_instalments_pledge_seq"),
    )
    op.create_table(
        "return_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("disbursement_id", sa.Integer(), nullable=True),
        sa.Column("share_bp", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("cap_amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_return_agreements_period")),
        sa.CheckConstraint(
            "share_bp > 0 AND share_bp <= 10000", name=op.f("ck_return_agreements_share")
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["organisations.id"],
            name=op.f("fk_return_agreements_business_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["disbursement_id"],
            ["disbursements.id"],
            name=op.f("fk_return_agreements_disbursement_id_disbursements"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_return_agreements_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_agreements")),
    )
    with op.batch_alter_table("return_agreements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_return_agreements_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "revenue_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("revenue_amount", sa.BigInteger(), nullable=False),
        sa.Column("due_amount", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["return_agreements.id"],
            name=op.f("fk_revenue_reports_agreement_id_return_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_revenue_reports_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_reports")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_revenue_reports_entry_id")),
    )
    with op.batch_alter_table("revenue_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revenue_reports_agreement_id"), ["agreement_id"], unique=False
        )

    op.create_table(
        "revenue_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["return_agreements.id"],
            name=op.f("fk_revenue_returns_agreement_id_return_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_revenue_returns_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_returns")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_revenue_returns_entry_id")),
    )
    with op.batch_alter_table("revenue_returns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revenue_returns_agreement_id"), ["agreement_id"], unique=False
        )

    _triggers()
    _fixed_accounts()


def downgrade() -> None:
    with op.batch_alter_table("revenue_returns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revenue_returns_agreement_id"))

    op.drop_table("revenue_returns")
    with op.batch_alter_table("revenue_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revenue_reports_agreement_id"))

    op.drop_table("revenue_reports")
    with op.batch_alter_table("return_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_return_agreements_business_id"))

    op.drop_table("return_agreements")
    op.drop_table("pledge_instalments")
    with op.batch_alter_table("donations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_donations_pledge_id"))
        batch_op.drop_index(batch_op.f("ix_donations_company_id"))

    op.drop_table("donations")
    op.drop_table("disbursement_approvals")
    with op.batch_alter_table("pledges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pledges_company_id"))

    op.drop_table("pledges")
    op.drop_table("payouts")
    op.drop_table("ledger_unsealed")
    op.drop_table("ledger_seals")
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_postings_entry_id"))
        batch_op.drop_index("ix_ledger_postings_account_date")

    op.drop_table("ledger_postings")
    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disbursements_project_id"))

    op.drop_table("disbursements")
    op.drop_table("ledger_periods")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_related_entry_id"))

    op.drop_table("ledger_entries")
    op.drop_table("users")
    op.drop_table("projects")
    op.drop_table("organisations")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS ledger_refuse_change, ledger_check_balanced, ledger_queue_seal"
        )
    op.drop_table("ledger_accounts")


IMMUTABLE = ("ledger_entries", "ledger_postings", "ledger_seals")

PG_TRIGGERS = """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger rows are immutable: % on % refused; post a reversing entry',
    TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

-- At commit, each entry must have two or more postings summing to zero per currency.
-- Fired per posting and per entry, so neither a lone entry nor a posting added to an
-- entry later (in another transaction) escapes the check.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  eid bigint;
  n int;
  bad text;
BEGIN
  IF TG_TABLE_NAME = 'ledger_entries' THEN
    eid := NEW.id;
  ELSE
    eid := NEW.entry_id;
  END IF;
  SELECT count(*) INTO n FROM ledger_postings WHERE entry_id = eid;
  IF n < 2 THEN
    RAISE EXCEPTION 'entry % has % postings; at least two are required', eid, n
      USING ERRCODE = 'check_violation';
  END IF;
  SELECT currency INTO bad FROM ledger_postings WHERE entry_id = eid
    GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'entry % does not balance in %', eid, bad USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

CREATE FUNCTION ledger_queue_seal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_unsealed (entry_id) VALUES (NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_queue_seal AFTER INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_queue_seal();
"""


def _triggers() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(PG_TRIGGERS)
        for table in IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
            )
        return
    for table in IMMUTABLE:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                "BEGIN SELECT RAISE(ABORT, "
                f"'ledger rows are immutable: {verb} on {table} refused'); END"
            )
    op.execute(
        "CREATE TRIGGER ledger_entries_queue_seal AFTER INSERT ON ledger_entries "
        "BEGIN INSERT INTO ledger_unsealed (entry_id) VALUES (NEW.id); END"
    )


def _fixed_accounts() -> None:
    from ledger.books.chart import FIXED_ACCOUNTS, spec_for

    accounts = sa.table(
        "ledger_accounts",
        sa.column("code"),
        sa.column("name"),
        sa.column("type"),
        sa.column("currency"),
        sa.column("normal_sign"),
        sa.column("allow_negative"),
        sa.column("balance"),
        sa.column("created_at", sa.DateTime()),
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = []
    for code in FIXED_ACCOUNTS:
        spec = spec_for(code)
        rows.append(
            {
                "code": spec.code,
                "name": spec.name,
                "type": spec.type,
                "currency": spec.currency,
                "normal_sign": spec.normal_sign,
                "allow_negative": spec.allow_negative,
                "balance": 0,
                "created_at": now,
            }
        )
    op.bulk_insert(accounts, rows)
