"""Template filters: amounts as NT$1,000, dates as 2026-11-26, purposes and states by name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps

from flask import Flask
from jinja2 import pass_context

from admin import labels
from ledger.money import format_money

TAIPEI = dt.timezone(dt.timedelta(hours=8))

# Names of places, purposes, states and kinds live in admin/labels.py, the one place for them
english = labels.english
county_name = labels.county_name
town_name = labels.town_name
priority_name = labels.priority_name
purpose = labels.purpose
org_name = labels.org_name


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


def state(value: str | None) -> str:
    """Translated names of states, kinds, roles and channels (see admin/labels.py)."""
    return labels.label(value)


def per_request(func: Callable) -> Callable:
    """A filter whose words depend on the request's language.

    Jinja evaluates a filter over a constant when it compiles the template
    (``{{ "reserved"|state }}``), so the language of whoever rendered it first stuck for
    everyone (the English dashboard said 待核准撥款). A filter that takes the context
    cannot be evaluated at compile time.
    """

    @pass_context
    @wraps(func)
    def filter_(_context, *args, **kwargs):
        return func(*args, **kwargs)

    return filter_


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        {"money": money, "date": date, "datetime": datetime, "assertions": labels.assertions}
    )
    words = {
        "county_name": county_name,
        "town_name": town_name,
        "priority_name": priority_name,
        "purpose": purpose,
        "state": state,
        "label": labels.label,
        "job_kind": labels.job_kind,
        "job_phase": labels.job_phase,
        "org_name": org_name,
        "institution_name": labels.institution_name,
        "account_name": labels.account_name,
        "memo": labels.memo,
        "target": labels.target,
        "targets_in": labels.targets_in,
        "match_params": labels.match_params,
        "match_keys": labels.match_keys,
    }
    app.jinja_env.filters.update({name: per_request(f) for name, f in words.items()})
