"""What every fund operation shares: looking rows up, who may act, today, the amount rules."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from foundation.errors import (
    NotFound,
)
from foundation.settings import DEFAULT_VA_PREFIX, Settings
from ledger.fund import virtual_accounts
from ledger.money import (
    check_minor,
    check_whole_units,
)

BANK = "assets:bank:main"


#: The scheme of the default settings (prefix 95123, Luhn), for callers without settings
DEFAULT_VA_SCHEME = virtual_accounts.VirtualAccountScheme(DEFAULT_VA_PREFIX)


def va_scheme(settings: Settings | None = None) -> virtual_accounts.VirtualAccountScheme:
    """The fund's virtual-account scheme: the bank's prefix and check-digit weights from the
    settings (PLACEFUND_VA_PREFIX, PLACEFUND_VA_WEIGHTS); without settings, their defaults.

    The faces and commands pass it to ``record_pledge`` and the statement imports: a pledge's
    reference and the references read back from statements follow the same scheme."""
    if settings is None:
        return DEFAULT_VA_SCHEME
    return virtual_accounts.VirtualAccountScheme(settings.va_prefix, weights=settings.va_weights)


def today() -> dt.date:
    """Today in Taiwan (UTC+8): the date a Taiwanese manager would write on the voucher."""
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def _get(session: Session, model, ident: int, what: str):
    obj = (
        session.get(model, ident)
        if isinstance(ident, int) and not isinstance(ident, bool)
        else None
    )
    if obj is None:
        raise NotFound(f"{what} {ident} does not exist.")
    return obj


def _iso(value: dt.date | None) -> str | None:
    """A date as it enters an idempotency fingerprint: as given, None when defaulted."""
    return value.isoformat() if value is not None else None


def _charge_amount(amount: object, currency: str, field: str = "amount") -> int:
    amount = check_minor(amount, field=field)
    if currency == "TWD":
        check_whole_units(amount, currency, field=field)
    return amount
