"""Request and response shapes (marshmallow). Money is ``{amount, currency, display}``.

Request schemas refuse unknown fields; integers are strict (``1.0``, ``"1"`` and ``true``
are refused, not coerced) and bounded, so a huge number is a 422, never an overflow.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from foundation.reference import counties, townships
from foundation.ubn import is_valid_ubn
from identity.roles import ROLES
from ledger.books.chart import PRIORITY_TYPES
from ledger.fund.models import DISBURSEMENT_KINDS, DISBURSEMENT_STATES
from ledger.money import EXPONENTS, MAX_AMOUNT, Money

#: The column types' bounds. Every integer a request carries is checked against the column
#: it ends up compared with or stored in, so a number too large for it is a 4xx naming the
#: field, never a database "integer out of range" (a 500).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: Largest id accepted in a path, filter or body: ids are INTEGER (32-bit) columns, except
#: ledger entries and statement lines (``MAX_BIG_ID``).
MAX_ID = INT32_MAX
MAX_BIG_ID = INT64_MAX


class Strict(ma.Schema):
    """Base of request bodies: unknown fields are an error."""

    class Meta:
        unknown = ma.RAISE


class StrictBoolean(fields.Boolean):
    """A JSON boolean: true or false only (not 0, 1, "yes" or "on")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def Bool(**kw):
    return StrictBoolean(**kw)


def Amount(**kw):
    kw.setdefault("required", True)
    return fields.Integer(
        strict=True,
        validate=validate.Range(1, MAX_AMOUNT),
        metadata={"description": "Integer minor units (NT$1,000 is 100000)"},
        **kw,
    )


def Id(**kw):
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kw)


def Currency(**kw):
    return fields.String(
        load_default="TWD",
        validate=validate.OneOf(sorted(EXPONENTS)),
        metadata={"description": "ISO 4217 code"},
        **kw,
    )


def Restriction(**kw):
    return fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=64),
        metadata={
            "description": "Purpose: county:CODE, township:CODE, "
            f"priority:{'|'.join(PRIORITY_TYPES)} or project:ID; null for unrestricted"
        },
        **kw,
    )


def Text(max_len: int, **kw):
    return fields.String(validate=validate.Length(min=1, max=max_len), **kw)


def validate_ubn(value: str) -> None:
    if not is_valid_ubn(value):
        raise ma.ValidationError("not a valid Unified Business Number (統一編號): check digit")


def validate_town(value: str) -> None:
    if value not in townships():
        raise ma.ValidationError("unknown township code (368-township reference)")


def validate_county(value: str) -> None:
    if value not in counties():
        raise ma.ValidationError("unknown county code")


class MoneySchema(ma.Schema):
    amount = fields.Integer(required=True, metadata={"description": "Minor units"})
    currency = fields.String(required=True)
    display = fields.String(required=True, metadata={"description": "e.g. NT$1,000"})


def money(amount: int | None, currency: str) -> dict | None:
    return None if amount is None else Money(int(amount), currency).to_json()


class MoneyField(fields.Nested):
    """Output-only: dumps ``(amount, currency)`` from two attributes of the object."""

    def __init__(self, amount_attr: str, currency_attr: str = "currency", **kw):
        self.amount_attr = amount_attr
        self.currency_attr = currency_attr
        super().__init__(MoneySchema, dump_only=True, **kw)

    def serialize(self, attr, obj, accessor=None, **kwargs):
        amount = getattr(obj, self.amount_attr, None) if not isinstance(obj, dict) else None
        if isinstance(obj, dict):
            amount = obj.get(self.amount_attr)
            cur = obj.get(self.currency_attr)
        else:
            cur = getattr(obj, self.currency_attr)
        return money(amount, cur)


# --- queries and pages -------------------------------------------------------------------------


class PageArgs(ma.Schema):
    limit = fields.Integer(
        load_default=20, validate=validate.Range(1, 200), metadata={"description": "1 to 200"}
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[0-9]{1,18}$"),
        metadata={"description": "next_cursor of the previous page"},
    )


class DateRangeArgs(PageArgs):
    start = fields.Date(load_default=None, data_key="from", metadata={"description": "On or after"})
    end = fields.Date(load_default=None, data_key="to", metadata={"description": "On or before"})


def page_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(
        name,
        (ma.Schema,),
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(
                allow_none=True,
                required=True,
                metadata={"description": "Pass as cursor for the next page; null on the last"},
            ),
        },
    )


# --- people, organisations, tokens ---------------------------------------------------------


class OrganisationSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    ubn = fields.String(allow_none=True, metadata={"description": "統一編號"})
    institution_code = fields.String(allow_none=True)
    county_code = fields.String(allow_none=True)
    county_name = fields.Method("_county", allow_none=True)
    town_code = fields.String(allow_none=True)
    town_name = fields.Method("_town", allow_none=True)
    verified = fields.Method("_verified")
    verified_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    version = fields.Integer(metadata={"description": "Send as If-Match or version to update"})

    def _county(self, org) -> str | None:
        c = counties().get(org.county_code or "")
        return c[0] if c else None

    def _town(self, org) -> str | None:
        t = townships().get(org.town_code or "")
        return t.name if t else None

    def _verified(self, org) -> bool:
        return org.verified_at is not None


class UserSchema(ma.Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    organisation_id = fields.Integer()


class MeSchema(UserSchema):
    organisation = fields.Nested(OrganisationSchema)
    institution = fields.String(allow_none=True)


class ContactIn(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = Text(200, required=True)


class RegistrationIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(("company", "business")))
    name = Text(200, required=True)
    name_en = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    ubn = fields.String(required=True, validate=validate_ubn, metadata={"description": "統一編號"})
    town_code = fields.String(
        required=True, validate=validate_town, metadata={"description": "8-digit township code"}
    )
    contact = fields.Nested(ContactIn, required=True)


class OrganisationPatch(Strict):
    name = Text(200)
    name_en = fields.String(allow_none=True, validate=validate.Length(max=200))
    town_code = fields.String(validate=validate_town)
    version = fields.Integer(
        strict=True,
        validate=validate.Range(1, INT32_MAX),
        metadata={"description": "The version you read (or send If-Match)"},
    )

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not {"name", "name_en", "town_code"} & set(data):
            raise ma.ValidationError("Send at least one of name, name_en, town_code.")


class OrganisationArgs(PageArgs):
    kind = fields.String(
        load_default=None, validate=validate.OneOf(("company", "business", "institution"))
    )
    verified = fields.Boolean(load_default=None)


class TokenSchema(ma.Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "First characters, to tell tokens apart"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "The secret; shown only in this response"})


class TokenIn(Strict):
    name = Text(100, required=True)
    user_id = Id(load_default=None, metadata={"description": "Admins only: issue for this user"})


class TokenArgs(PageArgs):
    user_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))


class RegistrationOut(ma.Schema):
    organisation = fields.Nested(OrganisationSchema)
    user = fields.Nested(UserSchema)
    token = fields.Nested(NewTokenSchema)


# --- projects ------------------------------------------------------------------------------


class ProjectSchema(ma.Schema):
    id = fields.Integer()
    business_id = fields.Integer()
    name = fields.String()
    county_code = fields.String()
    town_code = fields.String()
    priority_type = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ProjectIn(Strict):
    name = Text(200, required=True)
    town_code = fields.String(required=True, validate=validate_town)
    business_id = Id(load_default=None, metadata={"description": "Managers: for this business"})
    priority_type = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(PRIORITY_TYPES),
        metadata={"description": "Managers only: the township's priority-area type"},
    )


class ProjectArgs(PageArgs):
    business_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))
    county_code = fields.String(load_default=None, validate=validate.Length(max=5))


# --- pledges -------------------------------------------------------------------------------


class PledgeSchema(ma.Schema):
    id = fields.Integer()
    company_id = fields.Integer()
    amount = MoneyField("amount")
    restriction = fields.String(allow_none=True)
    public_name = fields.Boolean()
    pledged_on = fields.Date()
    virtual_account = fields.String(allow_none=True)
    paid = MoneyField("paid")
    outstanding = MoneyField("outstanding")
    status = fields.String(metadata={"description": "open or paid"})
    instalments = fields.Method("_instalments")
    created_at = fields.DateTime()
    version = fields.Integer()

    def _instalments(self, obj):
        return [
            {
                "seq": i.seq,
                "due_date": i.due_date.isoformat(),
                "amount": money(i.amount, obj.currency),
            }
            for i in obj.instalments
        ]


class PledgeIn(Strict):
    amount = Amount()
    currency = Currency()
    instalments = fields.Integer(
        strict=True,
        load_default=1,
        validate=validate.Range(1, 120),
        metadata={"description": "Monthly"},
    )
    restriction = Restriction()
    public_name = Bool(
        load_default=False, metadata={"description": "May the company's name be shown publicly"}
    )
    pledged_on = fields.Date(load_default=None)
    company_id = Id(load_default=None, metadata={"description": "Managers: for this company"})


class PledgePatch(Strict):
    public_name = Bool(required=True)
    version = fields.Integer(strict=True, validate=validate.Range(1, INT32_MAX))


class PledgeArgs(DateRangeArgs):
    company_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))
    status = fields.String(load_default=None, validate=validate.OneOf(("open", "paid")))


# --- donations -----------------------------------------------------------------------------


class DonationSchema(ma.Schema):
    id = fields.Integer()
    company_id = fields.Integer(allow_none=True)
    pledge_id = fields.Integer(allow_none=True)
    channel = fields.String()
    amount = MoneyField("gross_amount")
    settlement_gross = MoneyField("settlement_gross", "settlement_currency")
    fee = MoneyField("fee_amount", "settlement_currency")
    net = MoneyField("net_amount", "settlement_currency")
    exchange_rate = fields.String(allow_none=True)
    refunded = MoneyField("refunded_amount")
    restriction = fields.String(allow_none=True)
    received_on = fields.Date()
    entry_id = fields.Integer()
    stripe = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        attribute="stripe_ids",
        allow_none=True,
        metadata={"description": "payment_intent, charge and balance_transaction ids (card)"},
    )
    created_at = fields.DateTime()


class DonationIn(Strict):
    amount = Amount()
    currency = Currency()
    channel = fields.String(
        load_default="bank_transfer", validate=validate.OneOf(("bank_transfer", "other"))
    )
    company_id = Id(load_default=None)
    pledge_id = Id(load_default=None)
    restriction = Restriction()
    received_on = fields.Date(load_default=None)
    bank_reference = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The bank statement line or virtual account reference"},
    )


class DonationArgs(DateRangeArgs):
    company_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))
    pledge_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))
    channel = fields.String(
        load_default=None, validate=validate.OneOf(("stripe", "bank_transfer", "other"))
    )


# --- disbursements -------------------------------------------------------------------------


class ApprovalSchema(ma.Schema):
    user_id = fields.Integer()
    institution = fields.String()
    approved_at = fields.DateTime()


class DisbursementSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    project_id = fields.Integer()
    amount = MoneyField("amount")
    funding = fields.String(allow_none=True)
    purpose = fields.String()
    status = fields.String(validate=validate.OneOf(DISBURSEMENT_STATES))
    approved = fields.Method("_approved")
    proposed_by_id = fields.Integer()
    proposed_at = fields.DateTime()
    approvals = fields.List(fields.Nested(ApprovalSchema))
    paid_by_id = fields.Integer(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    voided_by_id = fields.Integer(allow_none=True)
    voided_at = fields.DateTime(allow_none=True)
    void_reason = fields.String(allow_none=True)
    version = fields.Integer()

    def _approved(self, obj) -> bool:
        return len({a.institution for a in obj.approvals}) >= 2


class DisbursementIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(DISBURSEMENT_KINDS))
    project_id = Id(required=True)
    amount = Amount()
    currency = Currency()
    funding = Restriction()
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    on = fields.Date(load_default=None)


class PayIn(Strict):
    paid_on = fields.Date(load_default=None)


class VoidIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    on = fields.Date(load_default=None)


class DisbursementArgs(DateRangeArgs):
    project_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))
    status = fields.String(load_default=None, validate=validate.OneOf(DISBURSEMENT_STATES))


# --- return agreements ---------------------------------------------------------------------


class AgreementSchema(ma.Schema):
    id = fields.Integer()
    business_id = fields.Integer()
    project_id = fields.Integer(allow_none=True)
    disbursement_id = fields.Integer(allow_none=True)
    share_bp = fields.Integer(metadata={"description": "Basis points of revenue (500 = 5%)"})
    start_date = fields.Date()
    end_date = fields.Date()
    cap = MoneyField("cap_amount", allow_none=True)
    due = MoneyField("due")
    returned = MoneyField("returned")
    outstanding = MoneyField("outstanding")
    created_at = fields.DateTime()


class AgreementIn(Strict):
    business_id = Id(required=True)
    project_id = Id(load_default=None)
    disbursement_id = Id(load_default=None)
    share_bp = fields.Integer(strict=True, required=True, validate=validate.Range(1, 10000))
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    cap_amount = Amount(required=False, load_default=None, allow_none=True)
    currency = Currency()


class AgreementArgs(PageArgs):
    business_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))


class RevenueReportSchema(ma.Schema):
    id = fields.Integer()
    agreement_id = fields.Integer()
    period_start = fields.Date()
    period_end = fields.Date()
    revenue = MoneyField("revenue_amount")
    due = MoneyField("due_amount")
    created_at = fields.DateTime()
    corrects_report_id = fields.Integer(
        allow_none=True, metadata={"description": "The report this one corrected"}
    )
    reason = fields.String(allow_none=True, metadata={"description": "Why it was corrected"})
    reversed_at = fields.DateTime(
        allow_none=True, metadata={"description": "Set once a correction replaced it"}
    )


class RevenueReportIn(Strict):
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    revenue = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(0, MAX_AMOUNT),
        metadata={"description": "Minor units; TWD in whole dollars (a multiple of 100)"},
    )


class RevenueCorrectionIn(RevenueReportIn):
    period_start = fields.Date(load_default=None, metadata={"description": "Default: as before"})
    period_end = fields.Date(load_default=None, metadata={"description": "Default: as before"})
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class RevenueReturnSchema(ma.Schema):
    id = fields.Integer()
    agreement_id = fields.Integer()
    amount = MoneyField("amount")
    received_on = fields.Date()
    entry_id = fields.Integer()
    created_at = fields.DateTime()


class RevenueReturnIn(Strict):
    amount = Amount()
    received_on = fields.Date(load_default=None)
    bank_reference = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=100)
    )


# --- ledger --------------------------------------------------------------------------------


class AccountSchema(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    type = fields.String()
    currency = fields.String()
    balance = MoneyField("natural_balance", metadata={"description": "Natural sign"})
    closed_at = fields.DateTime(allow_none=True)


class AccountArgs(PageArgs):
    prefix = fields.String(load_default=None, validate=validate.Length(max=160))
    type = fields.String(
        load_default=None,
        validate=validate.OneOf(("asset", "liability", "net_assets", "income", "expense")),
    )


class BalanceArgs(ma.Schema):
    as_of = fields.Date(load_default=None)


class BalanceSchema(ma.Schema):
    code = fields.String()
    as_of = fields.Date(allow_none=True)
    balance = fields.Nested(MoneySchema)


class PostingSchema(ma.Schema):
    account = fields.String()
    amount = fields.Nested(MoneySchema, metadata={"description": "Debit positive, credit negative"})


class EntrySchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    entry_date = fields.Date()
    memo = fields.String()
    reverses_entry_id = fields.Integer(allow_none=True)
    related_entry_id = fields.Integer(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    refs = fields.Dict(keys=fields.String(), values=fields.String())
    postings = fields.Method("_postings")

    def _postings(self, entry):
        return [
            {"account": p.account.code, "amount": money(p.amount, p.currency)}
            for p in entry.postings
        ]


class EntryArgs(DateRangeArgs):
    kind = fields.String(load_default=None, validate=validate.Length(max=40))
    account = fields.String(load_default=None, validate=validate.Length(max=160))


class StatementArgs(ma.Schema):
    start = fields.Date(load_default=None, data_key="from")
    end = fields.Date(load_default=None, data_key="to")


class StatementLineSchema(ma.Schema):
    entry_id = fields.Integer()
    entry_date = fields.Date()
    kind = fields.String()
    memo = fields.String()
    amount = fields.Nested(MoneySchema)
    running = fields.Nested(MoneySchema)


class StatementSchema(ma.Schema):
    account = fields.Nested(AccountSchema)
    start = fields.Date(allow_none=True, data_key="from")
    end = fields.Date(allow_none=True, data_key="to")
    opening = fields.Nested(MoneySchema)
    closing = fields.Nested(MoneySchema)
    lines = fields.List(fields.Nested(StatementLineSchema))


class TrialBalanceRowSchema(ma.Schema):
    code = fields.String()
    name = fields.String()
    type = fields.String()
    debit = fields.Nested(MoneySchema)
    credit = fields.Nested(MoneySchema)


class TotalsSchema(ma.Schema):
    currency = fields.String()
    debit = fields.Nested(MoneySchema)
    credit = fields.Nested(MoneySchema)


class TrialBalanceSchema(ma.Schema):
    as_of = fields.Date(allow_none=True)
    balanced = fields.Boolean()
    rows = fields.List(fields.Nested(TrialBalanceRowSchema))
    totals = fields.List(fields.Nested(TotalsSchema))


class PeriodSchema(ma.Schema):
    id = fields.Integer()
    start_date = fields.Date()
    end_date = fields.Date()
    closed_by_id = fields.Integer(allow_none=True)
    closed_at = fields.DateTime()
    assertions = fields.Method("_assertions")

    def _assertions(self, period):
        return {
            k: int(v)
            for k, _, v in (line.partition("=") for line in period.assertions.splitlines())
            if k
        }


class AdjustmentLineIn(Strict):
    account = fields.String(
        required=True,
        validate=validate.Length(min=1, max=160),
        metadata={"description": "Account code from the chart, e.g. expense:operations"},
    )
    amount = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(-MAX_AMOUNT, MAX_AMOUNT),
        metadata={"description": "Minor units: debit positive, credit negative"},
    )
    currency = Currency()


class ReasonedIn(Strict):
    """A manager's correction: why, and the entry date."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    on = fields.Date(load_default=None, metadata={"description": "Entry date (default today)"})


class AdjustmentIn(ReasonedIn):
    lines = fields.List(
        fields.Nested(AdjustmentLineIn),
        required=True,
        validate=validate.Length(min=2, max=50),
        metadata={"description": "Balanced per currency: the amounts sum to zero"},
    )


class ReversalIn(ReasonedIn):
    pass


class PeriodIn(Strict):
    end_date = fields.Date(required=True)
    assertions = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=160)),
        values=fields.Integer(strict=True, validate=validate.Range(-MAX_AMOUNT, MAX_AMOUNT)),
        load_default=dict,
        validate=validate.Length(max=200),
        metadata={"description": "Account code to expected natural balance (minor units)"},
    )


class PositionSchema(ma.Schema):
    currency = fields.String()
    total = fields.Nested(MoneySchema)
    unrestricted = fields.Nested(MoneySchema)
    restricted = fields.Dict(keys=fields.String(), values=fields.Nested(MoneySchema))
    held = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(MoneySchema),
        metadata={"description": "Per funding source: held for proposals awaiting approval"},
    )


# --- statements and the public summary -------------------------------------------------------


class DonorStatementArgs(ma.Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(2000, 2200))
    company_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))


class DonorStatementSchema(ma.Schema):
    company = fields.Nested(OrganisationSchema)
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    donations = fields.List(fields.Nested(DonationSchema))
    received = fields.List(fields.Nested(MoneySchema))
    refunded = fields.List(fields.Nested(MoneySchema))
    net = fields.List(fields.Nested(MoneySchema))
    pledged = fields.List(fields.Nested(MoneySchema))


class StagesSchema(ma.Schema):
    pending = fields.Nested(
        MoneySchema, metadata={"description": "Proposed, awaiting the second institution"}
    )
    approved = fields.Nested(MoneySchema, metadata={"description": "Approved, not yet paid"})
    paid = fields.Nested(MoneySchema)


class AreaSchema(ma.Schema):
    code = fields.String()
    name = fields.String()
    received = fields.Nested(
        MoneySchema, metadata={"description": "Donations received restricted to the area"}
    )
    available = fields.Nested(
        MoneySchema, metadata={"description": "What that restricted money can still commit"}
    )
    committed = fields.Nested(StagesSchema, metadata={"description": "To projects in the area"})


class PublicDonorSchema(ma.Schema):
    name = fields.String()
    name_en = fields.String(allow_none=True)
    pledged = fields.Nested(MoneySchema)


class PublicSummarySchema(ma.Schema):
    fund = fields.String()
    currency = fields.String()
    as_of = fields.DateTime(metadata={"description": "When the figures were read"})
    received = fields.Nested(
        MoneySchema, metadata={"description": "Donations (net of refunds) and revenue returned"}
    )
    total_in = fields.Nested(MoneySchema, metadata={"description": "The same as received"})
    donations_in = fields.Nested(MoneySchema)
    revenue_returned = fields.Nested(MoneySchema)
    available = fields.Nested(
        MoneySchema,
        metadata={"description": "Received, less fees and every commitment, per funding source"},
    )
    committed = fields.Nested(StagesSchema)
    total_out = fields.Nested(MoneySchema, metadata={"description": "Disbursements paid"})
    pledged = fields.Nested(MoneySchema, metadata={"description": "Pledged in all"})
    pledged_not_received = fields.Nested(
        MoneySchema, metadata={"description": "Pledged and not yet paid: not available"}
    )
    donors = fields.Integer(metadata={"description": "Number of donating companies"})
    by_county = fields.List(fields.Nested(AreaSchema))
    by_priority_type = fields.List(fields.Nested(AreaSchema))
    public_donors = fields.List(fields.Nested(PublicDonorSchema))
    note = fields.String()
