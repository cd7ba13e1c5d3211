"""Configuration, read from the environment (secrets never live in logs).

``Settings.from_env()`` is the one reader of the environment: it parses and checks every
variable the README lists, once, when a command or the server starts, and a bad value is a
``ValueError`` whose one line names the variable and what it may hold. The rest of the code
is handed the ``Settings`` (the app keeps it in ``app.config["SETTINGS"]``) or the part it
needs; nothing else reads ``os.environ`` (tests/placefund/test_cli_settings.py checks).

The one file it may write: the instance folder's ``secret_key``, generated once when
SECRET_KEY is not set, so every worker and every restart of a server signs with one key.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from foundation.ubn import is_valid_ubn  # a pure module: no database, no Flask

DEFAULT_FUND_NAME = "地方創生基金專戶"


def instance_dir(env: Mapping[str, str] | None = None) -> Path:
    """Folder for the embedded database and generated files (git-ignored): PLACEFUND_INSTANCE.

    Read here for ``Settings.from_env`` and as the default of a ``Settings`` built by hand
    (tests, benchmarks), which then keeps its generated files where the environment says.
    """
    env = os.environ if env is None else env
    return Path(env.get("PLACEFUND_INSTANCE", "instance")).resolve()


def default_database_url(instance: Path | None = None) -> str:
    """The embedded SQLite file used when DATABASE_URL is not set."""
    return f"sqlite:///{(instance or instance_dir()) / 'placefund.db'}"


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
class BankAccount:
    """The fund's account that companies transfer to, shown beside each pledge's virtual
    account (虛擬帳號). The demo defaults are illustrative: set the real ones in production."""

    #: The bank's name as payers find it in their bank's app (臺灣銀行)
    name: str = "臺灣銀行"
    #: The bank's 3-digit code (銀行代碼), which transfers need besides the account number
    code: str = "004"
    #: The branch that holds the account (分行)
    branch: str = "營業部"
    #: The account's name (戶名), which the payer's bank shows for a check before sending
    account_name: str = DEFAULT_FUND_NAME


@dataclass(frozen=True)
class ReceiptIssuer:
    """Who issues the donation receipts, as a Taiwanese company files them for its taxes.
    The demo defaults are illustrative: set the real ones in production."""

    name: str = DEFAULT_FUND_NAME
    #: The issuer's 統一編號 (8 digits with a valid check digit)
    ubn: str = "12345675"
    address: str = "臺北市中正區寶慶路3號"
    #: The law under which the donation is deductible, printed on every receipt
    legal_basis: str = "本捐款依所得稅法第三十六條規定，得列為捐贈年度之費用或損失。"
    #: The issuer's seal (PNG or JPEG), printed on receipts when set
    seal_path: Path | None = None


#: Where the donation page loads Stripe.js from unless STRIPE_JS_URL says otherwise
DEFAULT_JS_URL = "https://js.stripe.com/v3/"
#: The bank's virtual-account prefix (企業代號) of the demo
DEFAULT_VA_PREFIX = "95123"


@dataclass(frozen=True)
class StripeSettings:
    """What the service needs to talk to Stripe (ledger/payments/stripe_gateway.py uses it).

    No key (the default) means card payments are off: they answer 503
    ``stripe_not_configured`` and bank transfers still work."""

    secret_key: str | None = None
    publishable_key: str | None = None
    webhook_secret: str | None = None
    #: Point the SDK elsewhere (localstripe, a proxy); None: Stripe's own API
    api_base: str | None = None
    js_url: str = DEFAULT_JS_URL
    #: Retries after a failed call (each logged), with exponential backoff and jitter
    max_retries: int = 3
    #: Seconds each call to Stripe may take
    timeout: float = 20.0
    #: Seconds before the first retry (doubled each time, with jitter)
    backoff: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StripeSettings:
        """From STRIPE_*; a bad value names its variable. The keys themselves are checked
        by ``placefund doctor`` (a wrong key is a warning, not a reason to stop serving)."""
        return cls(
            secret_key=env.get("STRIPE_SECRET_KEY") or None,
            publishable_key=env.get("STRIPE_PUBLISHABLE_KEY") or None,
            webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            api_base=_stripe_api_base(env.get("STRIPE_API_BASE") or None),
            js_url=_stripe_js_url(env.get("STRIPE_JS_URL") or DEFAULT_JS_URL),
            max_retries=_whole(
                "STRIPE_MAX_RETRIES",
                env.get("STRIPE_MAX_RETRIES", "3"),
                0,
                10,
                "retries after a failed call to Stripe",
            ),
            timeout=_stripe_timeout(env.get("STRIPE_TIMEOUT", "20")),
        )


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: str
    secret_key: str | None
    fund_name: str = DEFAULT_FUND_NAME
    #: The fund's name on English pages
    fund_name_en: str = "Place-Creation Fund"
    #: Reverse proxies in front of the server that set X-Forwarded-For and -Proto. Only that
    #: many hops are believed, so a client cannot forge its address (the registration limits
    #: and the access log key on it); 0 (the default) believes none.
    proxy_hops: int = 0
    bank: BankAccount = field(default_factory=BankAccount)
    receipt_issuer: ReceiptIssuer = field(default_factory=ReceiptIssuer)
    #: Where the rate limits on sign-in, registration and reset links count (see
    #: web/rate_limits.py): ``memory://`` per process, or ``redis://...`` shared by
    #: every worker and server
    rate_limit_storage: str = "memory://"
    #: The console's session cookie only over HTTPS (set behind TLS)
    session_cookie_secure: bool = False
    #: /readyz turns unavailable when the oldest entry waiting to be sealed into the hash
    #: chain has waited longer than this many seconds (the sealer has stopped or fallen behind)
    seal_max_lag: int = 300
    #: Folder for the embedded database, demo tokens and the generated secret_key
    instance: Path = field(default_factory=instance_dir)
    stripe: StripeSettings = field(default_factory=StripeSettings)
    #: The bank's prefix (企業代號) of every pledge's virtual account
    #: (ledger/fund/virtual_accounts.py)
    va_prefix: str = DEFAULT_VA_PREFIX
    #: The bank's weights for the virtual account's check digit; empty: Luhn
    va_weights: tuple[int, ...] = ()
    #: The bearer token a Prometheus scraper shows to read /metrics (web/metrics.py); None:
    #: only a scraper on this machine may read them
    metrics_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every variable, parsed and checked once; a bad one raises ``ValueError`` with one
        line naming it. ``env`` defaults to the process's environment."""
        env = os.environ if env is None else env
        instance = instance_dir(env)
        url = env.get("DATABASE_URL") or default_database_url(instance)
        return cls(
            database_url=normalise_database_url(url),
            secret_key=env.get("SECRET_KEY"),
            fund_name=_fund_name(env),
            fund_name_en=_text(
                env, "PLACEFUND_FUND_NAME_EN", "Place-Creation Fund", "the fund's English name"
            ),
            proxy_hops=_hops(env.get("PLACEFUND_PROXY_HOPS", "0")),
            bank=bank_from_env(env),
            receipt_issuer=receipt_issuer_from_env(env),
            rate_limit_storage=_rate_limit_storage(
                env.get("PLACEFUND_RATE_LIMIT_STORAGE", "memory://")
            ),
            session_cookie_secure=_flag("SESSION_COOKIE_SECURE", env.get("SESSION_COOKIE_SECURE")),
            seal_max_lag=_seconds(
                "PLACEFUND_SEAL_MAX_LAG", env.get("PLACEFUND_SEAL_MAX_LAG", "300")
            ),
            instance=instance,
            stripe=StripeSettings.from_env(env),
            va_prefix=_va_prefix(env.get("PLACEFUND_VA_PREFIX", DEFAULT_VA_PREFIX)),
            va_weights=_va_weights(env.get("PLACEFUND_VA_WEIGHTS", "")),
            metrics_token=_metrics_token(env.get("PLACEFUND_METRICS_TOKEN")),
        )


#: Shortest metrics token accepted: guessing it must be out of reach
_TOKEN_MIN = 24


def _metrics_token(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if len(value) < _TOKEN_MIN or not all("!" <= ch <= "~" for ch in value):
        raise ValueError(
            f"PLACEFUND_METRICS_TOKEN must be at least {_TOKEN_MIN} visible ASCII characters "
            f"without spaces (e.g. from `openssl rand -hex 32`), not {len(value)} characters."
        )
    return value


def export_metrics_directory(path: Path) -> None:
    """Tell prometheus_client, in this process and every process it starts afterwards
    (gunicorn's workers, the sealer), to keep metric values in files of ``path``
    (multiprocess mode). The one variable the service writes rather than reads: it is
    prometheus_client's, set by ``placefund serve`` (through foundation.metrics.use_directory)
    to a directory of its own, never by the operator."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def worker_environment() -> dict[str, str]:
    """The environment of a ``placefund worker`` that ``placefund serve --with-worker``
    starts: the server's own (the same settings), the metric files' directory included, so
    the worker child writes its counts beside the web processes' and the server's /metrics
    sums them (foundation/metrics.py)."""
    return dict(os.environ)


def _hops(value: str) -> int:
    if not value.strip().isdigit() or int(value) > 10:
        raise ValueError(
            f"PLACEFUND_PROXY_HOPS must be a whole number from 0 to 10 (the reverse proxies in "
            f"front of the server), not {value!r}."
        )
    return int(value)


#: Longest name, branch or address we accept: they must fit one line of a phone screen or
#: of a receipt's table cell
_TEXT_LIMIT = 80
#: A seal image is printed at about 3 cm; anything larger is surely the wrong file
SEAL_LIMIT = 1024 * 1024


def _text(env: Mapping[str, str], name: str, default: str, what: str) -> str:
    value = env.get(name)
    if value is None:
        return default
    value = value.strip()
    if not value or len(value) > _TEXT_LIMIT or any(ch in value for ch in "\r\n\t"):
        raise ValueError(
            f"{name} must be {what} on one line of 1 to {_TEXT_LIMIT} characters, not {value!r}."
        )
    return value


def _fund_name(env: Mapping[str, str]) -> str:
    """PLACEFUND_FUND_NAME, also the default of the bank account's and the issuer's names."""
    return _text(env, "PLACEFUND_FUND_NAME", DEFAULT_FUND_NAME, "the fund's name")


def bank_from_env(env: Mapping[str, str]) -> BankAccount:
    """The fund's bank account from PLACEFUND_BANK_*; a bad value names its variable."""
    default = BankAccount()
    code = env.get("PLACEFUND_BANK_CODE", default.code).strip()
    if not re.fullmatch(r"[0-9]{3}", code):
        raise ValueError(
            f"PLACEFUND_BANK_CODE must be the bank's 3-digit code (e.g. 004), not {code!r}."
        )
    fund_name = _fund_name(env)
    return BankAccount(
        name=_text(env, "PLACEFUND_BANK_NAME", default.name, "the bank's name"),
        code=code,
        branch=_text(env, "PLACEFUND_BANK_BRANCH", default.branch, "the branch's name"),
        account_name=_text(env, "PLACEFUND_BANK_ACCOUNT_NAME", fund_name, "the account's name"),
    )


def receipt_issuer_from_env(env: Mapping[str, str]) -> ReceiptIssuer:
    """The receipts' issuer from PLACEFUND_ISSUER_* and PLACEFUND_RECEIPT_*."""

    default = ReceiptIssuer()
    ubn = env.get("PLACEFUND_ISSUER_UBN", default.ubn).strip()
    if not is_valid_ubn(ubn):
        raise ValueError(
            f"PLACEFUND_ISSUER_UBN must be the issuer's 8-digit 統一編號 with a valid check "
            f"digit, not {ubn!r}."
        )
    legal_basis = env.get("PLACEFUND_RECEIPT_LEGAL_BASIS", default.legal_basis).strip()
    if not legal_basis or len(legal_basis) > 300 or "\n" in legal_basis:
        raise ValueError(
            "PLACEFUND_RECEIPT_LEGAL_BASIS must be one line of 1 to 300 characters (the law "
            "under which the donation is deductible)."
        )
    return ReceiptIssuer(
        name=_text(
            env,
            "PLACEFUND_ISSUER_NAME",
            _fund_name(env),
            "the issuer's name",
        ),
        ubn=ubn,
        address=_text(env, "PLACEFUND_ISSUER_ADDRESS", default.address, "the issuer's address"),
        legal_basis=legal_basis,
        seal_path=_seal(env.get("PLACEFUND_RECEIPT_SEAL", "").strip()),
    )


def _seal(value: str) -> Path | None:
    if not value:
        return None
    path = Path(value)
    try:
        head = path.read_bytes()[:8] if path.stat().st_size <= SEAL_LIMIT else b""
    except OSError:
        raise ValueError(
            f"PLACEFUND_RECEIPT_SEAL must be a readable PNG or JPEG file, not {value!r}."
        ) from None
    if not (head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff")):
        raise ValueError(
            f"PLACEFUND_RECEIPT_SEAL must be a PNG or JPEG image of at most 1 MB, not {value!r}."
        )
    return path.resolve()


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


def _whole(name: str, value: str, low: int, high: int, what: str) -> int:
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise ValueError(
            f"{name} must be a whole number from {low} to {high} ({what}), not {value!r}."
        )
    return int(value)


#: Longest wait for one call to Stripe we accept: beyond it gunicorn's 60 s worker timeout
#: would end the request first anyway
_STRIPE_TIMEOUT_LIMIT = 600


def _stripe_timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= _STRIPE_TIMEOUT_LIMIT):
        raise ValueError(
            "STRIPE_TIMEOUT must be a number of seconds above 0 and at most "
            f"{_STRIPE_TIMEOUT_LIMIT} (each call to Stripe), not {value!r}."
        )
    return seconds


def _web_address(value: str) -> bool:
    """An http(s) URL with a host, nothing that could break out of a header."""
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not any(ch.isspace() or ch in "'\";,<>" for ch in value)
    )


def _stripe_api_base(value: str | None) -> str | None:
    if value is not None and not _web_address(value):
        raise ValueError(
            "STRIPE_API_BASE must be an http:// or https:// URL (e.g. http://127.0.0.1:8420 "
            f"for localstripe), not {value!r}."
        )
    return value


def _stripe_js_url(value: str) -> str:
    # A path on this server ("/static/...") is allowed: the page's CSP then says 'self'
    own = value.startswith("/") and not value.startswith("//")
    if not (_web_address(value) or (own and _web_address("http://host" + value))):
        raise ValueError(
            "STRIPE_JS_URL must be an http:// or https:// URL (or a path on this server) of "
            f"Stripe.js, e.g. {DEFAULT_JS_URL}, not {value!r}."
        )
    return value


def _va_prefix(value: str) -> str:
    value = value.strip()
    if not (value.isascii() and value.isdigit() and 3 <= len(value) <= 6):
        raise ValueError(
            "PLACEFUND_VA_PREFIX must be the bank's virtual-account prefix (企業代號) of 3 to "
            f"6 digits, e.g. {DEFAULT_VA_PREFIX}, not {value!r}."
        )
    return value


def _va_weights(value: str) -> tuple[int, ...]:
    if not value.strip():
        return ()  # Luhn
    parts = [part.strip() for part in value.split(",")]
    if not all(len(part) == 1 and part.isascii() and part.isdigit() for part in parts) or not any(
        int(part) for part in parts
    ):
        raise ValueError(
            "PLACEFUND_VA_WEIGHTS must be the bank's check-digit weights, digits 0 to 9 "
            f"separated by commas (e.g. 3,7,1), or unset for Luhn, not {value!r}."
        )
    return tuple(int(part) for part in parts)
