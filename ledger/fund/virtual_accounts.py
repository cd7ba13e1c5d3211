"""Virtual account numbers (虛擬帳號): one per pledge, so bank transfers match themselves.

A reference is ``prefix + pledge id zero-padded + check digit``, 14 or 16 digits in all:

* ``prefix``: the 4-5 digit code the fund's bank assigns to the fund (企業代號). It is
  configuration, never derived from data.
* the pledge id, zero-padded to fill the remaining width, so the same pledge always gets the
  same reference and the pledge can be read back from the number without a lookup.
* one check digit over all the digits before it.

Check digit: Luhn (ISO/IEC 7812-1) by default. Taiwanese banks each publish their own
weighted mod-10 rule for 虛擬帳號 (weights such as 3,7,1 repeated, or 1,2,3,...), and the
bank's rule is the one its tellers and ATMs enforce, so ``weights=`` lets the fund plug in
the bank's weights when it gets them. Without them we use Luhn because, of the weighted
mod-10 schemes, it detects the most typing errors: every single-digit error and every
adjacent transposition except 09 <-> 90. Plain weights 3,7,1 miss transpositions of digits
five apart (e.g. 16 <-> 61), and weights 1,2,3,... miss single-digit errors at positions
whose weight shares a factor with 10.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from foundation.errors import FieldMessage, ValidationError

#: Lengths banks issue virtual accounts in (the payer types them at an ATM, so short is kind).
ALLOWED_LENGTHS = (14, 16)


class InvalidVirtualAccount(ValidationError):
    """A virtual account reference is malformed or its check digit is wrong."""

    code = "invalid_virtual_account"


def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit to append to ``digits`` (ASCII digits)."""
    total = 0
    # Double every second digit counting from the right of the payload (the digit next to
    # the check digit is doubled).
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def weighted_check_digit(digits: str, weights: tuple[int, ...]) -> int:
    """A bank-style weighted mod-10 check digit: weights repeat from the left, keep the units.

    ``check = (10 - sum(d_i * w_i) mod 10) mod 10``.
    """
    total = sum((ord(ch) - 48) * weights[i % len(weights)] for i, ch in enumerate(digits))
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class VirtualAccountScheme:
    """How the fund's virtual accounts are built: the bank's prefix, total length and rule.

    ``weights`` empty means Luhn; otherwise the bank's weighted mod-10 rule.
    """

    prefix: str
    length: int = 14
    weights: tuple[int, ...] = ()

    def __post_init__(self):
        if not (self.prefix.isascii() and self.prefix.isdigit() and 3 <= len(self.prefix) <= 6):
            raise ValidationError(
                f"Virtual account prefix must be 3-6 digits, got {self.prefix!r}.",
                fields={"prefix": ["must be 3-6 digits"]},
            )
        if self.length not in ALLOWED_LENGTHS:
            raise ValidationError(
                f"Virtual account length must be one of {ALLOWED_LENGTHS}, got {self.length}.",
                fields={"length": ["must be 14 or 16"]},
            )
        if any(not isinstance(w, int) or w < 0 for w in self.weights):
            raise ValidationError("Check-digit weights must be non-negative integers.")

    @property
    def id_width(self) -> int:
        """Digits available for the pledge id."""
        return self.length - len(self.prefix) - 1

    @property
    def max_pledge_id(self) -> int:
        return 10**self.id_width - 1

    def check_digit(self, payload: str) -> int:
        """The check digit for ``payload`` (prefix + padded id) under this scheme."""
        if self.weights:
            return weighted_check_digit(payload, self.weights)
        return luhn_check_digit(payload)


def generate(pledge_id: int, scheme: VirtualAccountScheme) -> str:
    """The virtual account reference for ``pledge_id``: deterministic, digits only.

    >>> generate(42, VirtualAccountScheme("95123"))
    '95123000000428'
    """
    if isinstance(pledge_id, bool) or not isinstance(pledge_id, int) or pledge_id <= 0:
        raise ValidationError(
            "Pledge id must be a positive integer.",
            fields={"pledge_id": [FieldMessage("must be positive", "not_positive")]},
        )
    if pledge_id > scheme.max_pledge_id:
        # Never truncate: two pledges would share a number and money would go astray.
        raise ValidationError(
            f"Pledge id {pledge_id} does not fit in {scheme.id_width} digits; "
            "ask the bank for a longer virtual account format.",
            fields={"pledge_id": ["too large for the virtual account format"]},
        )
    payload = f"{scheme.prefix}{pledge_id:0{scheme.id_width}d}"
    return payload + str(scheme.check_digit(payload))


def normalise(text: str) -> str:
    """Digits only: full-width digits folded, spaces and dashes dropped (as people type them)."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\-‐‑‒–—]", "", folded)


def is_valid(reference: str, scheme: VirtualAccountScheme) -> bool:
    """True if ``reference`` (spaces and dashes allowed) is a well-formed fund reference."""
    digits = normalise(reference) if isinstance(reference, str) else ""
    return (
        len(digits) == scheme.length
        and digits.isascii()
        and digits.isdigit()
        and digits.startswith(scheme.prefix)
        and int(digits[-1]) == scheme.check_digit(digits[:-1])
        and int(digits[len(scheme.prefix) : -1]) > 0
    )


def validate(reference: str, scheme: VirtualAccountScheme) -> str:
    """Return the reference as bare digits, or raise ``InvalidVirtualAccount`` saying why."""
    digits = normalise(reference) if isinstance(reference, str) else ""
    problem = None
    if not (digits.isascii() and digits.isdigit()):
        problem = "must contain digits only / 只能包含數字"
    elif len(digits) != scheme.length:
        problem = f"must be {scheme.length} digits / 應為 {scheme.length} 位數字"
    elif not digits.startswith(scheme.prefix):
        problem = f"must start with {scheme.prefix} / 應以 {scheme.prefix} 開頭"
    elif int(digits[-1]) != scheme.check_digit(digits[:-1]):
        problem = "check digit is wrong / 檢查碼錯誤"
    elif int(digits[len(scheme.prefix) : -1]) == 0:
        problem = "pledge number is zero / 認捐編號為零"
    if problem:
        raise InvalidVirtualAccount(
            f"Virtual account {reference!r}: {problem}.",
            fields={"virtual_account": [problem]},
        )
    return digits


def pledge_id_of(reference: str, scheme: VirtualAccountScheme) -> int:
    """The pledge id a valid reference was generated from (raises if it is not valid)."""
    digits = validate(reference, scheme)
    return int(digits[len(scheme.prefix) : -1])


# A run of digits that may be broken up by single spaces or dashes ("9512-3000 0004-20").
_DIGIT_RUN = re.compile(r"\d(?:[ \-‐‑‒–—]?\d)*")


def extract(text: str | None, scheme: VirtualAccountScheme) -> list[str]:
    """Every valid fund reference found in free text (bank memo fields), in order, no repeats.

    Bank memos carry the number amid other characters: ``跨行轉入 9512-3000-0004-20 某公司``,
    full-width digits, or glued to a date. A digit run of exactly the right length is taken
    if valid; in longer runs every window starting with the prefix is tried, and only
    windows that pass the check digit count, which keeps false positives near 1 in 10^6.
    """
    if not text:
        return []
    folded = unicodedata.normalize("NFKC", text) if not text.isascii() else text
    if scheme.prefix[0] not in folded:
        return []  # cheap exit: most memos carry no reference at all
    found: list[str] = []
    for match in _DIGIT_RUN.finditer(folded):
        run = normalise(match.group())
        if len(run) < scheme.length or scheme.prefix not in run:
            continue
        if len(run) == scheme.length:
            windows = [run]
        else:
            windows = []
            start = run.find(scheme.prefix)
            while start != -1 and start + scheme.length <= len(run):
                windows.append(run[start : start + scheme.length])
                start = run.find(scheme.prefix, start + 1)
        for window in windows:
            if window not in found and is_valid(window, scheme):
                found.append(window)
    return found
