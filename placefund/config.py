"""Configuration, read from the environment only (secrets never live in files or logs)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def instance_dir() -> Path:
    """Folder for the embedded database and generated files (git-ignored)."""
    return Path(os.environ.get("PLACEFUND_INSTANCE", "instance")).resolve()


def default_database_url() -> str:
    """The embedded SQLite file used when DATABASE_URL is not set."""
    return f"sqlite:///{instance_dir() / 'placefund.db'}"


def normalise_database_url(url: str) -> str:
    """Make ``postgres://`` and ``postgresql://`` URLs use psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: str
    secret_key: str | None
    fund_name: str = "地方創生基金專戶"
    #: Reverse proxies in front of the server that set X-Forwarded-For and -Proto. Only that
    #: many hops are believed, so a client cannot forge its address (the registration limits
    #: and the access log key on it); 0 (the default) believes none.
    proxy_hops: int = 0
    #: Where the rate limits on sign-in, registration and reset links count (see
    #: placefund/rate_limits.py): ``memory://`` per process, or ``redis://...`` shared by
    #: every worker and server
    rate_limit_storage: str = "memory://"
    #: The console's session cookie only over HTTPS (set behind TLS)
    session_cookie_secure: bool = False
    #: /readyz turns unavailable when the oldest entry waiting to be sealed into the hash
    #: chain has waited longer than this many seconds (the sealer has stopped or fallen behind)
    seal_max_lag: int = 300

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        url = env.get("DATABASE_URL") or default_database_url()
        return cls(
            database_url=normalise_database_url(url),
            secret_key=env.get("SECRET_KEY"),
            fund_name=env.get("PLACEFUND_FUND_NAME", "地方創生基金專戶"),
            proxy_hops=_hops(env.get("PLACEFUND_PROXY_HOPS", "0")),
            rate_limit_storage=_rate_limit_storage(
                env.get("PLACEFUND_RATE_LIMIT_STORAGE", "memory://")
            ),
            session_cookie_secure=_flag("SESSION_COOKIE_SECURE", env.get("SESSION_COOKIE_SECURE")),
            seal_max_lag=_seconds(
                "PLACEFUND_SEAL_MAX_LAG", env.get("PLACEFUND_SEAL_MAX_LAG", "300")
            ),
        )


def _hops(value: str) -> int:
    if not value.strip().isdigit() or int(value) > 10:
        raise ValueError(
            f"PLACEFUND_PROXY_HOPS must be a whole number from 0 to 10 (the reverse proxies in "
            f"front of the server), not {value!r}."
        )
    return int(value)


def _rate_limit_storage(value: str) -> str:
    if not value.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
        raise ValueError(
            "PLACEFUND_RATE_LIMIT_STORAGE must be memory:// or a redis:// URL "
            f"(e.g. redis://127.0.0.1:6379/0), not {value!r}."
        )
    return value


def _flag(name: str, value: str | None) -> bool:
    if value is None or value.strip() == "":
        return False
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0, not {value!r}.")


def _seconds(name: str, value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= 86_400:
        raise ValueError(
            f"{name} must be a whole number of seconds from 1 to 86400, not {value!r}."
        )
    return int(value)
