"""Shapes of disbursements and their approvals (api/disbursements.py)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from api.schemas import MAX_ID, Amount, Currency, DateRangeArgs, Id, MoneyField, Restriction, Strict
from ledger.fund.models import DISBURSEMENT_KINDS, DISBURSEMENT_STATES


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
