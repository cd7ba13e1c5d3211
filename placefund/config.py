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
    #: The fund's name on English pages
    fund_name_en: str = "Place-Creation Fund"
    #: Reverse proxies in front of the server that set X-Forwarded-For and -Proto. Only that
    #: many hops are believed, so a client cannot forge its address (the registration limits
    #: and the access log key on it); 0 (the default) believes none.
    proxy_hops: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        url = env.get("DATABASE_URL") or default_database_url()
        return cls(
            database_url=normalise_database_url(url),
            secret_key=env.get("SECRET_KEY"),
            fund_name=env.get("PLACEFUND_FUND_NAME", "地方創生基金專戶"),
            fund_name_en=env.get("PLACEFUND_FUND_NAME_EN", "Place-Creation Fund"),
            proxy_hops=_hops(env.get("PLACEFUND_PROXY_HOPS", "0")),
        )


def _hops(value: str) -> int:
    if not value.strip().isdigit() or int(value) > 10:
        raise ValueError(
            f"PLACEFUND_PROXY_HOPS must be a whole number from 0 to 10 (the reverse proxies in "
            f"front of the server), not {value!r}."
        )
    return int(value)
