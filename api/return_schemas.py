"""Shapes of return agreements, revenue reports and revenue returns (api/returns.py)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from api.schemas import MAX_ID, Amount, Currency, Id, MoneyField, PageArgs, Strict
from ledger.money import MAX_AMOUNT


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
