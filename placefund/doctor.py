"""``placefund doctor``: what stands between this machine and a working service.

Each check returns its problems as single lines that say what is wrong and how to fix it;
no problem means the part is ready. ``placefund serve`` runs the same checks at start-up
and prints the problems as warnings (it serves anyway: a missing font should not take the
API down).
"""

from __future__ import annotations

import ctypes
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from foundation.db import make_engine
from foundation.settings import Settings
from placefund.migrate import current_revision, head_revision, known_revision

#: The face receipts and statements are set in (ledger/fund/templates/pdf/_style.html)
RECEIPT_FONT = "Noto Sans CJK TC"
#: What `placefund doctor` suggests for making a key
NEW_KEY = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


@dataclass(frozen=True)
class Check:
    """One part of the service: its name and the function that lists its problems."""

    name: str
    run: Callable[[Settings], list[str]]


def database_problem(url: str, exc: BaseException) -> str:
    """One line for a database that cannot be used: where, what the driver said, the fix."""
    where = _safe_url(url)
    if isinstance(exc, NoSuchModuleError):  # (a kind of ArgumentError)
        return (
            f"DATABASE_URL names a database this service does not speak ({where}): use "
            "postgresql://... (psycopg 3) or sqlite:///path."
        )
    if isinstance(exc, (ArgumentError, ValueError)):  # ValueError: e.g. a port not a number
        return f"DATABASE_URL is not a database URL ({where}): use e.g. postgresql://user@host/db."
    said = " ".join(str(getattr(exc, "orig", None) or exc).split()).rstrip(".")
    return (
        f"Cannot use the database at {where}: {said}{'' if said.endswith('?') else '.'} "
        "Check DATABASE_URL, and that the server runs and the database exists."
    )


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "an unreadable URL"


def check_database(settings: Settings) -> list[str]:
    """Reachable, and migrated to the newest revision this code knows."""

    url = settings.database_url
    try:
        engine = make_engine(url)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        return [database_problem(url, exc)]
    try:
        current = current_revision(engine)
        head = head_revision(engine)
        where = _safe_url(url)
        if current is None:
            return [f"The database at {where} has no schema yet: run `placefund db upgrade`."]
        if current != head:
            if not known_revision(engine, current):
                return [
                    f"The database at {where} is at revision {current}, which this code does "
                    f"not know (a newer release migrated it): install that release."
                ]
            return [
                f"The database at {where} is at revision {current}, this code needs {head}: "
                "run `placefund db upgrade`."
            ]
        return []
    except (SQLAlchemyError, OSError) as exc:
        return [database_problem(url, exc)]
    finally:
        engine.dispose()


def check_receipt_font(_settings: Settings) -> list[str]:
    """The Chinese font receipts are drawn with, found by fontconfig as WeasyPrint finds it;
    and HarfBuzz-Subset, without which every PDF embeds whole CJK fonts."""
    problems = []
    try:
        found = subprocess.run(
            ["fc-list", f":family={RECEIPT_FONT}", "family"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        found = ""
    if RECEIPT_FONT not in found:
        problems.append(
            f"No {RECEIPT_FONT} font: PDF receipts cannot draw Chinese; "
            "apt-get install fonts-noto-cjk (or scripts/prepare-machine run)."
        )
    try:
        ctypes.CDLL("libharfbuzz-subset.so.0")
    except OSError:
        problems.append(
            "No HarfBuzz-Subset library: every PDF receipt embeds whole fonts (megabytes "
            "each); apt-get install libharfbuzz-subset0."
        )
    return problems


def check_stripe(settings: Settings) -> list[str]:
    """Keys that belong together are set together, of the right kind and the same mode.
    (A value that is no number or URL at all never gets here: Settings refuses it.)"""
    stripe = settings.stripe
    secret, publishable, hook = stripe.secret_key, stripe.publishable_key, stripe.webhook_secret
    if not (secret or publishable or hook):
        return []  # card payments off: bank transfers and manual donations still work
    problems = []
    if not secret:
        problems.append(
            "STRIPE_SECRET_KEY is not set while other Stripe settings are: card payments are "
            "off; set it to the account's sk_... key, or unset the others."
        )
    elif not secret.startswith(("sk_", "rk_")):
        problems.append(
            "STRIPE_SECRET_KEY is not a secret key (sk_... or rk_...): copy it from the Stripe "
            "dashboard's API keys."
        )
    if not publishable:
        problems.append(
            "STRIPE_PUBLISHABLE_KEY is not set: the donation page cannot take cards; set it to "
            "the same account's pk_... key."
        )
    elif not publishable.startswith("pk_"):
        problems.append("STRIPE_PUBLISHABLE_KEY is not a publishable key (pk_...): fix it.")
    if not hook:
        problems.append(
            "STRIPE_WEBHOOK_SECRET is not set: Stripe's webhooks are refused and payments "
            "wait for `placefund stripe sync`; set it to the endpoint's whsec_... secret."
        )
    elif not hook.startswith("whsec_"):
        problems.append("STRIPE_WEBHOOK_SECRET is not a webhook secret (whsec_...): fix it.")
    modes = {_mode(key) for key in (secret, publishable) if key} - {None}
    if len(modes) > 1:
        problems.append(
            "STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY are from different modes (test and "
            "live): use the pair from one mode."
        )
    if "live" in modes and stripe.api_base and "api.stripe.com" not in stripe.api_base:
        problems.append(
            f"STRIPE_API_BASE sends the live key to {stripe.api_base}: unset it in production."
        )
    return problems


def _mode(key: str) -> str | None:
    for mode in ("test", "live"):
        if f"_{mode}_" in key:
            return mode
    return None


def check_secret_key(settings: Settings) -> list[str]:
    """A key every server shares, wherever the service is more than one developer's SQLite.

    Without SECRET_KEY a server signs with the key in its instance folder: right for one
    machine (every worker and restart reads the same file), wrong for several servers over
    one PostgreSQL database, which would sign each other's sessions and forms out.
    """
    key = settings.secret_key
    if key is None:
        if settings.database_url.startswith("sqlite"):
            return []  # development: instance/secret_key serves
        return [
            f"SECRET_KEY is not set: sessions are signed with {settings.instance / 'secret_key'}, "
            f"which other servers do not share; set SECRET_KEY on every server ({NEW_KEY})."
        ]
    if len(key) < 32:
        return [f"SECRET_KEY is shorter than 32 characters: set a longer one ({NEW_KEY})."]
    return []


CHECKS = (
    Check("database", check_database),
    Check("receipt font", check_receipt_font),
    Check("stripe", check_stripe),
    Check("secret key", check_secret_key),
)


def diagnose(settings: Settings) -> list[tuple[str, list[str]]]:
    """Every check's name and its problems (an empty list: that part is ready)."""
    return [(check.name, check.run(settings)) for check in CHECKS]
