"""The token cache's own rules, without a database (its listener is not started here)."""

from __future__ import annotations

import time

from api.token_cache import TokenCache


def _listening_cache() -> TokenCache:
    cache = TokenCache(engine=None)
    cache._thread = object()  # as if the listener were running; it never starts here
    cache.listening = True
    cache.confirmed_at = time.monotonic()  # its lease just renewed
    return cache


def test_nothing_is_kept_while_nobody_listens():
    cache = _listening_cache()
    cache.listening = False
    cache.put("digest", ["row"], cache.generation)
    assert cache.get("digest") is None and len(cache) == 0


def test_a_lookup_from_before_an_invalidation_is_not_kept():
    cache = _listening_cache()
    before = cache.generation
    cache.invalidate()  # a revocation was heard while the lookup ran
    cache.put("digest", ["stale row"], before)
    assert cache.get("digest") is None
    cache.put("digest", ["fresh row"], cache.generation)
    assert cache.get("digest") == ["fresh row"]


def test_invalidate_forgets_everything_and_a_full_cache_starts_over(monkeypatch):
    monkeypatch.setattr("api.token_cache.MAX_ENTRIES", 2)
    cache = _listening_cache()
    for n in range(3):
        cache.put(f"d{n}", [n], cache.generation)
    assert len(cache) == 1 and cache.get("d2") == [2]
    cache.invalidate()
    assert len(cache) == 0


def test_a_forked_process_starts_empty(monkeypatch):
    cache = _listening_cache()
    cache.put("digest", ["row"], cache.generation)
    started = []
    monkeypatch.setattr("api.token_cache.os.getpid", lambda: -1)
    monkeypatch.setattr(TokenCache, "_listen", lambda self: started.append(True))
    assert cache.get("digest") is None  # the child's own listener has not connected yet
    assert len(cache) == 0
    cache._thread.join()
    assert started == [True]
