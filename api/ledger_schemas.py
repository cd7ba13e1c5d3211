"""Shapes of the books and the public figures (api/ledger_views.py)."""

from __future__ import annotations

import datetime as dt
import re

import marshmallow as ma
from marshmallow import fields, validate

from api.donation_schemas import DonationSchema
from api.organisation_schemas import OrganisationSchema
from api.schemas import (
    MAX_ID,
    Currency,
    DateRangeArgs,
    MoneyField,
    MoneySchema,
    PageArgs,
    Strict,
    money,
)
from ledger.money import MAX_AMOUNT


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


class DonorCursor(fields.String):
    """``<received_on>.<id>`` of the last donation of the previous page (its next_cursor)."""

    PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\.[0-9]{1,18}$"

    def __init__(self, **kw):
        kw.setdefault("metadata", {})["pattern"] = self.PATTERN
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(self.PATTERN, text):
            raise ma.ValidationError("Not a cursor this statement gave.")
        day, _, last_id = text.partition(".")
        try:
            return dt.date.fromisoformat(day), int(last_id)
        except ValueError:
            raise ma.ValidationError("Not a cursor this statement gave.") from None


def donor_cursor(after: tuple[dt.date, int] | None) -> str | None:
    return None if after is None else f"{after[0].isoformat()}.{after[1]}"


class DonorStatementArgs(ma.Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(2000, 2200))
    company_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, 200),
        metadata={"description": "Donations per page: 1 to 200"},
    )
    cursor = DonorCursor(
        load_default=None, metadata={"description": "next_cursor of the previous page"}
    )


class DonorStatementSchema(ma.Schema):
    company = fields.Nested(OrganisationSchema)
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    donations = fields.List(
        fields.Nested(DonationSchema),
        metadata={
            "description": "One page of the year's donations in date order (limit, cursor); "
            "the totals are the whole year's"
        },
    )
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "Pass as cursor for the next page; null on the last"},
    )
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
