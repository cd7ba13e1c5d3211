"""Shapes of projects (api/projects.py)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from api.schemas import MAX_ID, Id, PageArgs, Strict, Text, validate_town
from ledger.books.chart import PRIORITY_TYPES


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
