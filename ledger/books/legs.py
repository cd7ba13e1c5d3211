"""The pure core of the ledger: legs of an entry, their validation, and canonical hashing.

Nothing here touches the database, so every rule can be unit- and property-tested alone.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from foundation.errors import InvalidAmount, UnbalancedEntry, ValidationError
from ledger.money import check_currency, check_minor

GENESIS_HASH = "0" * 64


class Leg(NamedTuple):
    """One side of an entry before it is stored: debit positive, credit negative."""

    account: str
    amount: int
    currency: str


def debit(account: str, amount: int, currency: str) -> Leg:
    return Leg(account, amount, currency)


def credit(account: str, amount: int, currency: str) -> Leg:
    return Leg(account, -amount, currency)


def normalise_legs(legs: Iterable[Leg]) -> list[Leg]:
    """Merge legs on the same account, drop zero legs, and check the entry balances.

    Returns legs sorted by account code: the order in which balance rows are locked, so
    concurrent writers always lock in the same order and never deadlock each other.
    """
    merged: dict[tuple[str, str], int] = defaultdict(int)
    for leg in legs:
        if isinstance(leg.amount, bool) or not isinstance(leg.amount, int):
            raise InvalidAmount(
                f"Posting to {leg.account} is not an integer amount of minor units.",
                fields={"postings": ["amounts must be integers in minor units"]},
            )
        check_minor(leg.amount, positive=False)
        merged[(leg.account, check_currency(leg.currency))] += leg.amount
    accounts = [a for a, _ in merged]
    if len(set(accounts)) != len(accounts):
        raise ValidationError("One account cannot take postings in two currencies.")
    result = sorted(
        (Leg(acc, amt, cur) for (acc, cur), amt in merged.items() if amt != 0),
        key=lambda leg: leg.account,
    )
    check_balanced(result)
    return result


def check_balanced(legs: list[Leg]) -> None:
    """Two or more legs, summing to zero in every currency on its own."""
    if len(legs) < 2:
        raise UnbalancedEntry(
            "An entry needs at least two non-zero postings.",
            fields={"postings": ["at least two non-zero postings"]},
        )
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.currency] += leg.amount
    off = {cur: total for cur, total in totals.items() if total}
    if off:
        detail = ", ".join(f"{cur} {total:+d}" for cur, total in sorted(off.items()))
        raise UnbalancedEntry(
            f"Entry does not balance: {detail} (minor units).",
            fields={"postings": [f"{cur} sums to {t}" for cur, t in sorted(off.items())]},
        )


def request_hash(operation: str, params: Mapping[str, object]) -> str:
    """Fingerprint of an operation's request, compared when an idempotency key is replayed."""
    body = json.dumps([operation, params], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def entry_hash(
    prev_hash: str,
    seq: int,
    entry: Mapping[str, object],
    postings: Iterable[tuple[str, int, str]],
) -> str:
    """SHA-256 link of the chain: previous hash, position, the entry and its postings.

    ``entry`` holds id, kind, entry_date (ISO text), memo, idempotency_key, reverses and
    related ids and source_refs; ``postings`` are (account code, amount, currency) in id
    order. Any change to a stored amount, account or date changes this hash.
    """
    body = json.dumps(
        [prev_hash, seq, entry, [list(p) for p in postings]],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()
