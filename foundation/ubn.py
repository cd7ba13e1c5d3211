"""統一編號 (Unified Business Number): 8 digits with a published check-digit rule.

Weights 1,2,1,2,1,2,4,1; add the digits of each product. Valid when the sum is divisible by
the divisor: 5 since 2023 (the Ministry of Finance widened the number space), 10 before;
both are accepted because older numbers satisfy the new rule too. When the seventh digit
is 7 its product 28 may count as 10 or as 1 (2+8), so sum+1 is also tried.
"""

from __future__ import annotations

WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)


def _digit_sum(n: int) -> int:
    return n // 10 + n % 10


def is_valid_ubn(ubn: str, divisor: int = 5) -> bool:
    """True if ``ubn`` is 8 ASCII digits passing the check rule (divisor 5, or legacy 10)."""
    if not isinstance(ubn, str) or len(ubn) != 8 or not ubn.isascii() or not ubn.isdigit():
        return False
    total = sum(_digit_sum(int(d) * w) for d, w in zip(ubn, WEIGHTS, strict=True))
    if total % divisor == 0:
        return True
    return ubn[6] == "7" and (total + 1) % divisor == 0


def complete_ubn(first7: str) -> str:
    """Append a valid check digit (legacy divisor 10 where one exists): used for demo data."""
    for divisor in (10, 5):
        for last in "0123456789":
            if is_valid_ubn(first7 + last, divisor):
                return first7 + last
    raise ValueError(f"no check digit completes {first7}")  # pragma: no cover
