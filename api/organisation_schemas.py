"""Shapes of organisations, users, registration and tokens (api/organisations.py)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from api.schemas import INT32_MAX, MAX_ID, Id, PageArgs, Strict, Text, validate_town, validate_ubn
from foundation.reference import counties, townships
from identity.roles import ROLES


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
