"""Shapes of donations (api/donations.py)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from api.schemas import MAX_ID, Amount, Currency, DateRangeArgs, Id, MoneyField, Restriction, Strict


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


class YearlyStatementsIn(Strict):
    year = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(2000, 2200),
        metadata={"description": "The year whose statements to make (money received then)"},
    )
