"""Per-address limits on self-registration, shared by the console page and the API.

Registration is the one write anybody may make without an account, so each client address
may try only a few times: a script can neither create organisations in bulk nor probe which
統一編號 and emails are registered. The console and the API count together, so switching
from one to the other gains nothing.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from flask import Flask


class Throttle:
    """At most ``limit`` events per ``window`` seconds per key (here: the client address).

    Kept in the process's memory: a restart forgets it, and with several workers each
    counts on its own. Enough to slow a script down; a proxy's rate limit is the real wall.
    Addresses whose events have all expired are forgotten (swept at most ten times per
    window), so memory stays bounded by the addresses seen within 1.1 windows.
    """

    #: Sweep expired addresses once this many are held
    SWEEP_AT = 10_000

    def __init__(self, limit: int, window: float):
        self.limit = limit
        self.window = window
        self.events: dict[str, deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()
        self.swept_at = float("-inf")

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count one event for ``key``; False when it is over the limit (not counted)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            if len(self.events) >= self.SWEEP_AT and now - self.swept_at >= self.window / 10:
                # At most ten times per window: under a flood of new addresses a sweep on
                # every call would cost a pass over all of them each time
                self._sweep(now)
                self.swept_at = now
            events = self.events[key]
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def _sweep(self, now: float) -> None:
        for key in [k for k, ev in self.events.items() if not ev or ev[-1] <= now - self.window]:
            del self.events[key]


#: Attempts (form posts or API calls) and registrations (valid requests that reach the
#: registration service) per address
ATTEMPTS = (20, 600.0)
REGISTRATIONS = (3, 3600.0)


def registration_throttles(app: Flask) -> tuple[Throttle, Throttle]:
    """The app's (attempts, registrations) throttles, created on first use."""
    key = "placefund.registration_throttle"
    throttles = app.extensions.get(key)
    if throttles is None:
        # setdefault: two first requests racing both get the one pair that was stored
        throttles = app.extensions.setdefault(key, (Throttle(*ATTEMPTS), Throttle(*REGISTRATIONS)))
    return throttles
