"""Shapes of pledges (api/pledges.py)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from api.schemas import (
    INT32_MAX,
    MAX_ID,
    Amount,
    Bool,
    Currency,
    DateRangeArgs,
    Id,
    MoneyField,
    Restriction,
    Strict,
    money,
)


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
