"""The request and response fields every resource shares (marshmallow): strict schemas, ids
within the columns' bounds, amounts in whole dollars for TWD, money as ``{amount, currency,
display}``, pages and date ranges. Each resource's own schemas sit beside it
(``api/pledge_schemas.py`` beside ``api/pledges.py``...)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from foundation.reference import counties, townships
from foundation.ubn import is_valid_ubn
from ledger.books.chart import PRIORITY_TYPES
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
