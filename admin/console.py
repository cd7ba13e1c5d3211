"""The console's plumbing under /console: the blueprint, who is signed in, who may open a page,
where a link may send you back to, and how a domain error lands next to its form field.

Every page module (``*_pages.py``) registers its handlers on ``bp``; templates and URLs name
them ``console.<handler>``."""

from __future__ import annotations

import datetime as dt
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    request,
    url_for,
)
from flask import session as web_session
from flask_babel import get_locale
from flask_babel import gettext as _

from admin import console_sessions, forms, labels, messages
from foundation.errors import LedgerError
from identity.models import User
from identity.roles import is_manager
from web.request import STATELESS_PREFIXES, db_session
from web.request_guard import unstorable_form_fields

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


#: Styles, images and scripts from the app only (no inline script, no CDN); scripts may
#: only call back to the app (the import progress page polls its status)
CONSOLE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


PAGE = 50


@bp.before_app_request
def _load_user():
    """The console user of the request's server-side session (admin/console_sessions.py): a
    session that was signed out, revoked, ended by a password change or expired is gone."""
    g.console_user = None
    g.console_session = None
    secret = web_session.get("sid")
    if secret is None or request.path.startswith(STATELESS_PREFIXES):
        return
    s = db_session()
    row = console_sessions.find_active(s, secret) if isinstance(secret, str) else None
    if row is None:
        web_session.pop("sid", None)
        return
    # Last seen (at most once a minute); not on a post whose text cannot be stored, whose
    # session refuses every commit (web/request_guard.py)
    if s.dirty and not unstorable_form_fields():
        s.commit()
    g.console_session = row
    g.console_user = row.user
    g.user = row.user  # the access log records who asked


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    if not request.path.startswith("/console/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.app_context_processor
def _context():
    return {
        "lang": str(get_locale()),
        "me": g.get("console_user"),
        "fund_name": labels.fund_name(),
        "language_form": forms.LanguageForm(formdata=None),
        "action_form": forms.ActionForm(formdata=None),
        # The card donation pages are another module's; link to them once they exist
        "has_donate": "/donate" in {r.rule.rstrip("/") for r in current_app.url_map.iter_rules()},
    }


def me() -> User:
    return g.console_user


def signed_in(*roles: str):
    """The page needs a signed-in user, with one of ``roles`` when given (else a 403 page)."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            user = g.get("console_user")
            if user is None:
                return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
            if roles and user.role not in roles:
                abort(403)
            return func(*args, **kwargs)

        return wrapper

    return decorator


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: never another host (open redirect).

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so
    ``/\t/evil.example`` or ``/\\evil.example`` would leave the site: anything holding a
    control character or a backslash is refused, as is anything with a scheme or a host.
    """
    if not target or len(target) > 2000:
        return default
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def home_for(user: User) -> str:
    if is_manager(user):
        return url_for("console.dashboard")
    if user.role == "company_member":
        return url_for("console.my_company")
    return url_for("console.my_business")


def ledger_key(form: forms.MoneyForm) -> str:
    """The form's idempotency key, namespaced like the API's by the user's organisation."""
    return f"console:{me().organisation_id}:{form.key.data}"


def form_error(form, error: LedgerError, aliases: dict[str, str] | None = None) -> None:
    """A domain error in the reader's language, said once: about one field, next to that
    field (the fuller of the two messages); about several, on top of the form with each
    field's own message beside it. ``aliases`` maps a service's field name to the form's."""
    placed = []
    for name, texts in messages.field_errors(error).items():
        field = getattr(form, (aliases or {}).get(name, name), None)
        # A hidden field shows no errors: its message goes on top of the form
        if hasattr(field, "errors") and field.type not in ("HiddenField", "CSRFTokenField"):
            placed.append((field, texts))
    if len(placed) == 1 and len(placed[0][1]) == 1:
        field, texts = placed[0]
        text = messages.message(error) if messages.is_particular(error) else texts[0]
        field.errors = [*list(field.errors or []), text]
        return
    for field, texts in placed:
        field.errors = [*list(field.errors or []), *texts]
    flash(messages.message(error), "error")


def _date_arg(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        flash(_("Dates are written like 2026-11-26."), "error")
        return None


def _after_arg() -> int | None:
    raw = request.args.get("after", "")
    return int(raw) if raw.isdigit() and len(raw) < 18 else None
