"""Template filters: amounts as NT$1,000, dates as 2026-11-26, purposes and states by name."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _

from ledger.money import format_money
from ledger.queries import PRIORITY_NAMES
from placefund.reference import counties, townships

TAIPEI = dt.timezone(dt.timedelta(hours=8))
PRIORITY_NAMES_EN = {
    "agricultural": "Agricultural, mountain and fishing villages",
    "intermediate": "Intermediate towns",
    "indigenous": "Indigenous townships",
}


def english() -> bool:
    return str(get_locale() or "").startswith("en")


def money(amount: int | None, currency: str = "TWD") -> str:
    return "—" if amount is None else format_money(int(amount), currency)


def date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        value = value.astimezone(TAIPEI).date()
    return value.isoformat()


def datetime(value: dt.datetime | None) -> str:
    """A moment in Taiwan time: 2026-11-26 14:03."""
    if value is None:
        return "—"
    return value.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M")


def county_name(code: str | None) -> str:
    if not code:
        return "—"
    names = counties().get(code)
    if names is None:
        return code
    return names[1] if english() else names[0]


def town_name(code: str | None) -> str:
    if not code:
        return "—"
    town = townships().get(code)
    if town is None:
        return code
    county = town.county_name_en if english() else town.county_name
    return f"{county} {town.name}"


def priority_name(code: str | None) -> str:
    if not code:
        return "—"
    names = PRIORITY_NAMES_EN if english() else PRIORITY_NAMES
    return names.get(code, code)


def purpose(restriction: str | None) -> str:
    """``county:10002`` as 宜蘭縣, ``priority:agricultural`` as 農山漁村; None as unrestricted."""
    if not restriction:
        return _("Unrestricted")
    kind, _sep, ident = restriction.partition(":")
    if kind == "county":
        return county_name(ident)
    if kind == "township":
        return town_name(ident)
    if kind == "priority":
        return priority_name(ident)
    if kind == "project":
        return _("Project %(id)s", id=ident)
    return restriction


def state(value: str | None) -> str:
    """Translated names of states, kinds, roles and channels."""
    names = {
        "reserved": _("Awaiting approval and payment"),
        "paid": _("Paid"),
        "voided": _("Voided"),
        "open": _("Open"),
        "grant": _("Grant"),
        "investment": _("Investment"),
        "company": _("Company"),
        "business": _("Local business"),
        "institution": _("Fund institution"),
        "company_member": _("Company member"),
        "business_member": _("Business member"),
        "fund_manager": _("Fund manager"),
        "admin": _("Administrator"),
        "stripe": _("Card (Stripe)"),
        "bank_transfer": _("Bank transfer"),
        "other": _("Other"),
        "proposed": _("Under review"),
        "published": _("Awaiting answers"),
        "accepted": _("Accepted"),
        "declined": _("Declined"),
        "superseded": _("Superseded"),
        "reviewing": _("Under review"),
        "sponsorship": _("Sponsorship"),
        "product_development": _("Product development"),
        "kind": _("Kind"),
        "industry": _("Industry"),
        "region": _("Region"),
        "amount": _("Amount"),
        "overlap": _("Shared goals"),
        "priority": _("Priority area"),
        "unmatched": _("Unmatched"),
        "matched": _("Matched, to confirm"),
        "confirmed": _("Confirmed"),
        "ignored": _("Ignored"),
        "suggested": _("Suggested"),
        "bank": _("Bank"),
        "unmatched_line": _("No ledger item"),
        "unmatched_item": _("Not on the statement"),
        "queued": _("Waiting"),
        "running": _("Running"),
        "succeeded": _("Finished"),
        "failed": _("Failed"),
    }
    return names.get(value or "", value or "—")


def org_name(org) -> str:
    if org is None:
        return "—"
    return (org.name_en or org.name) if english() else org.name


def register(app: Flask) -> None:
    for f in (money, date, datetime, county_name, town_name, priority_name, purpose, state):
        app.jinja_env.filters[f.__name__] = f
    app.jinja_env.filters["org_name"] = org_name
