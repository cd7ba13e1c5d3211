"""Rate limits on the entry points anybody may call without an account: sign-in,
registration and password-reset links.

Built on `limits` (the library under Flask-Limiter), not on counters of our own: it keeps
moving windows in a storage every server process shares. ``PLACEFUND_RATE_LIMIT_STORAGE``
names it: ``memory://`` (the default, for the embedded single-machine set-up: each process
counts on its own) or ``redis://host:6379/N`` (every worker and every server count together,
so a client gains nothing by reaching another one).

A rule is a string of several windows, such as ``"5/minute;20/hour;100/day"``: a client that
keeps failing waits a minute, then an hour, then a day, so the wait grows with persistence
while an honest typo costs nothing. Limits are checked before any password hash is computed,
so a flood of guesses costs the server almost nothing.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse_many, storage, strategies


@dataclass(frozen=True)
class Rule:
    """A named limit: ``spec`` is one or more windows, ``"5/minute;20/hour"``. The name keeps
    two rules with the same windows from counting into each other."""

    name: str
    spec: str

    def items(self) -> list[RateLimitItem]:
        return parse_many(self.spec)


#: Registration (console page and API, counted together) per client address: attempts
#: (form posts and API calls) and organisations actually registered
REGISTRATION_ATTEMPTS = Rule("registration_attempts", "20/10 minutes")
REGISTRATIONS = Rule("registrations", "3/hour")
#: Sign-in posts per client address, whatever their outcome (checked before hashing)
SIGN_IN_ATTEMPTS = Rule("sign_in", "60/minute;600/hour")
#: Failed sign-ins per client address: the guesser waits longer and longer
SIGN_IN_FAILURES_PER_ADDRESS = Rule("sign_in_failures_address", "5/minute;20/hour;100/day")
#: Failed sign-ins per account from devices that have never signed in to it. A device that
#: has (it holds that account's signed device cookie) is not held back by this rule, so a
#: stranger's guesses slow down other strangers but cannot lock the owner out.
SIGN_IN_FAILURES_PER_ACCOUNT = Rule("sign_in_failures_account", "10/15 minutes;50/day")
#: Wrong second-factor codes per account (only reachable with the right password)
TWO_FACTOR_ATTEMPTS = Rule("two_factor", "5/5 minutes;30/day")
#: Password-reset link submissions per client address
RESET_ATTEMPTS = Rule("reset_attempts", "10/10 minutes;30/day")


@dataclass(frozen=True)
class Refused:
    """Over a limit: wait ``retry_after`` seconds (whole, at least 1)."""

    retry_after: int


class RateLimits:
    """Named limits on one shared storage."""

    def __init__(self, uri: str = "memory://"):
        self.uri = uri
        self.storage = storage.storage_from_string(uri)
        self.limiter = strategies.MovingWindowRateLimiter(self.storage)

    def _wait(self, items: list[RateLimitItem], keys: tuple[str, ...]) -> int:
        now = time.time()
        waits = [
            self.limiter.get_window_stats(item, *keys).reset_time - now
            for item in items
            if not self.limiter.test(item, *keys)
        ]
        return max(1, math.ceil(max(waits))) if waits else 0

    def check(self, rule: Rule, *keys: str) -> Refused | None:
        """Whether one more event would be over ``rule`` for ``keys``, without counting it."""
        wait = self._wait(rule.items(), (rule.name, *keys))
        return Refused(wait) if wait else None

    def hit(self, rule: Rule, *keys: str) -> Refused | None:
        """Count one event; ``Refused`` (and not counted) when it is over the limit."""
        items, keys = rule.items(), (rule.name, *keys)
        wait = self._wait(items, keys)
        if wait:
            return Refused(wait)
        for item in items:
            self.limiter.hit(item, *keys)
        return None

    def clear(self, rule: Rule, *keys: str) -> None:
        for item in rule.items():
            self.limiter.clear(item, rule.name, *keys)


def account_key(email: str) -> str:
    """The per-account key: a digest, so the limit store holds no email (and an unknown
    email is limited like a known one, revealing nothing)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def rate_limits(app: Flask | None = None) -> RateLimits:
    """The app's limits, on the storage its settings name (created once per process)."""
    app = app or current_app
    limits = app.extensions.get("web.rate_limits")
    if limits is None:
        uri = app.config["SETTINGS"].rate_limit_storage
        # setdefault: two first requests racing both get the one object that was stored
        limits = app.extensions.setdefault("web.rate_limits", RateLimits(uri))
    return limits
