"""Configuration, read from the environment (secrets never live in logs).

The one file it may write: the instance folder's ``secret_key``, generated once when
SECRET_KEY is not set, so every worker and every restart of a server signs with one key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


def instance_dir() -> Path:
    """Folder for the embedded database and generated files (git-ignored)."""
    return Path(os.environ.get("PLACEFUND_INSTANCE", "instance")).resolve()


def default_database_url() -> str:
    """The embedded SQLite file used when DATABASE_URL is not set."""
    return f"sqlite:///{instance_dir() / 'placefund.db'}"


#: The key file in the instance folder, used when SECRET_KEY is not set
SECRET_KEY_FILE = "secret_key"


def instance_secret_key(folder: Path | None = None) -> str:
    """The console's signing key kept in the instance folder, generated on first use.

    Every gunicorn worker builds its own app: a key drawn at random in each would make a
    form rendered by one worker "expired" when posted to another, and sign everybody out at
    each restart. The file is created with mode 600 under a temporary name and linked into
    place, which fails if another process won the race: all then read the same key.
    """
    folder = folder or instance_dir()
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        draft = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            draft.unlink()
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ValueError(
            f"{path} holds no usable key (fewer than 32 characters): delete it to have a new "
            "one made, or set SECRET_KEY."
        )
    return key


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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        url = env.get("DATABASE_URL") or default_database_url()
        return cls(
            database_url=normalise_database_url(url),
            secret_key=env.get("SECRET_KEY"),
            fund_name=env.get("PLACEFUND_FUND_NAME", "地方創生基金專戶"),
            proxy_hops=_hops(env.get("PLACEFUND_PROXY_HOPS", "0")),
        )


def _hops(value: str) -> int:
    if not value.strip().isdigit() or int(value) > 10:
        raise ValueError(
            f"PLACEFUND_PROXY_HOPS must be a whole number from 0 to 10 (the reverse proxies in "
            f"front of the server), not {value!r}."
        )
    return int(value)
