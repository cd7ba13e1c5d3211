"""Money: integer minor units plus an ISO 4217 currency. The one place that parses and formats.

No floats anywhere: amounts are ``int`` minor units inside, ``Decimal`` only while parsing
text at the edges, and exchange rates are kept as the two integer amounts they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from foundation.errors import FieldMessage, InvalidAmount, ValidationError

#: ISO 4217 minor-unit exponents for the currencies the fund meets. Stripe uses the same
#: exponents for these (TWD is two-decimal in Stripe's API, like ISO).
EXPONENTS: dict[str, int] = {
    "TWD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "JPY": 0,
    "HKD": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "CNY": 2,
    "KRW": 0,
    "CHF": 2,
}

SYMBOLS: dict[str, str] = {
    "TWD": "NT$",
    "USD": "US$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "HKD": "HK$",
    "SGD": "S$",
    "AUD": "A$",
    "CAD": "C$",
    "CNY": "CN¥",
    "KRW": "₩",
    "CHF": "CHF ",
}

DEFAULT_CURRENCY = "TWD"

#: Largest absolute amount accepted anywhere: fits a signed 64-bit column with room for sums.
MAX_AMOUNT = 10**15


def check_currency(currency: str) -> str:
    """Return the upper-case ISO code or raise if the fund does not handle it."""
    if not isinstance(currency, str):
        raise ValidationError("Currency must be a three-letter ISO 4217 code.")
    code = currency.upper()
    if code not in EXPONENTS:
        raise ValidationError(
            f"Unsupported currency {currency!r}.",
            fields={"currency": [FieldMessage("unsupported currency", "unsupported_currency")]},
        )
    return code


def exponent(currency: str) -> int:
    return EXPONENTS[check_currency(currency)]


def check_minor(amount: object, *, positive: bool = True, field: str = "amount") -> int:
    """Validate an amount in minor units: a real ``int`` (not bool, not float), within range."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(
            f"{field} must be an integer number of minor units.",
            fields={field: ["must be an integer in minor units"]},
        )
    if positive and amount <= 0:
        raise InvalidAmount(
            f"{field} must be positive.",
            fields={field: [FieldMessage("must be positive", "not_positive")]},
            reason="not_positive",
        )
    if abs(amount) > MAX_AMOUNT:
        raise InvalidAmount(
            f"{field} is too large.",
            fields={field: [FieldMessage("too large", "too_large")]},
            reason="too_large",
        )
    return amount


def check_whole_units(amount: int, currency: str, *, field: str = "amount") -> int:
    """TWD is taken in whole dollars only (NT$1,000 is 100000; 100050 is refused)."""
    step = 10 ** exponent(currency)
    if amount % step:
        raise InvalidAmount(
            f"{field} must be a whole number of {currency} (a multiple of {step} minor units).",
            fields={
                field: [
                    FieldMessage(f"must be a multiple of {step}", "whole_dollars")
                    if currency == "TWD"
                    else FieldMessage(
                        f"must be a multiple of {step}", "multiple_of", n=step, currency=currency
                    )
                ]
            },
            reason="whole_dollars",
        )
    return amount


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units of one currency."""

    amount: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self):
        check_minor(self.amount, positive=False)
        object.__setattr__(self, "currency", check_currency(self.currency))

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValidationError(f"Cannot combine {self.currency} and {other.currency}.")

    def format(self) -> str:
        return format_money(self.amount, self.currency)

    def to_json(self) -> dict[str, object]:
        """Stripe's convention plus a display string: ``{"amount", "currency", "display"}``."""
        return {"amount": self.amount, "currency": self.currency, "display": self.format()}


_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def parse_amount(text: str, currency: str = DEFAULT_CURRENCY) -> int:
    """Parse a major-unit amount as people write it ("1,000", "NT$1,000.00") into minor units.

    Fractions finer than the currency's minor unit are refused, never rounded.
    """
    cur = check_currency(currency)
    cleaned = str(text).strip()
    for symbol in (SYMBOLS[cur].strip(), "NT$", "$", cur):
        cleaned = cleaned.replace(symbol, "")
    cleaned = cleaned.strip()
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    if not _NUMBER.match(cleaned):
        raise InvalidAmount(
            f"Not an amount: {text!r}.",
            fields={"amount": [FieldMessage("not a number", "not_a_number")]},
            reason="not_an_amount",
            params={"text": str(text)},
        )
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already excludes these
        raise InvalidAmount(
            f"Not an amount: {text!r}.", reason="not_an_amount", params={"text": str(text)}
        ) from exc
    minor = value.scaleb(EXPONENTS[cur])
    if minor != minor.to_integral_value():
        raise InvalidAmount(
            f"{text!r} has more decimals than {cur} allows.",
            fields={"amount": [FieldMessage("fractional minor units", "too_many_decimals")]},
            reason="too_many_decimals",
            params={"text": str(text)},
        )
    result = int(minor)
    return check_minor(-result if negative else result, positive=False)


def format_money(
    amount: int, currency: str = DEFAULT_CURRENCY, *, decimals: bool | None = None
) -> str:
    """Format minor units the way Taiwanese readers expect: ``NT$1,000``, ``US$31.50``.

    TWD is shown without decimals when the amount is whole (it almost always is).
    """
    cur = check_currency(currency)
    exp = EXPONENTS[cur]
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    show_decimals = decimals if decimals is not None else (exp > 0 and (cur != "TWD" or minor))
    text = f"{major:,}"
    if show_decimals and exp:
        text += f".{minor:0{exp}d}"
    return f"{sign}{SYMBOLS[cur]}{text}"


def format_rate(numerator: int, num_currency: str, denominator: int, den_currency: str) -> str:
    """An exchange rate shown from the two integer amounts it came from (no float drift).

    ``format_rate(3150, "USD", 100000, "TWD")`` is ``"1 TWD = 0.0315 USD"``.
    """
    if denominator == 0:
        raise InvalidAmount("Exchange rate with a zero amount.")
    num = Decimal(numerator).scaleb(-exponent(num_currency))
    den = Decimal(denominator).scaleb(-exponent(den_currency))
    rate = (num / den).quantize(Decimal("0.000001")).normalize()
    return f"1 {den_currency} = {rate:f} {num_currency}"
