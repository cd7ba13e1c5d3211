"""The fund managers' web console and the company and business pages (server-rendered).

``register(app)`` adds the console (/console), the public transparency page (/transparency),
translations (Flask-Babel: Traditional Chinese by default, English on request), CSRF
protection for every form outside the token-authenticated API and the Stripe webhook, and
HTML error pages for everything that is not the API.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from admin import console_sessions
from web.request import STATELESS_PREFIXES

LANGUAGES = {"zh_Hant_TW": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_Hant_TW"
#: Paths where a form's CSRF token makes no sense: bearer-token API calls and signed webhooks
CSRF_EXEMPT_PREFIXES = STATELESS_PREFIXES

csrf = CSRFProtect()


def current_locale() -> str:
    lang = session.get("lang")
    return lang if lang in LANGUAGES else DEFAULT_LOCALE


def register(app: Flask) -> None:
    # Set, not setdefault: Flask defines every one of these (SameSite none, 31 days), so a
    # default of ours would never apply.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # Behind HTTPS set SESSION_COOKIE_SECURE=1 so the session cookie never travels in clear
    app.config["SESSION_COOKIE_SECURE"] = app.config["SETTINGS"].session_cookie_secure
    # The cookie's lifetime matches the server-side session's (admin/console_sessions.py)
    app.config["PERMANENT_SESSION_LIFETIME"] = console_sessions.LIFETIME
    # CSRF is checked below for every unsafe request except the exempt prefixes, so a new
    # blueprint is protected without having to opt in.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    Babel(
        app,
        locale_selector=current_locale,
        default_locale=DEFAULT_LOCALE,
        default_timezone="Asia/Taipei",
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )

    from admin.form_messages import use_console_catalog

    app.before_request(use_console_catalog)

    @app.before_request
    def _csrf_protect():
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return
        if request.path.startswith(CSRF_EXEMPT_PREFIXES):
            return
        csrf.protect()

    # The page modules register their handlers on the console's blueprint when imported:
    # here, when the console is installed, so that importing a light module of this package
    # (admin.models for the model registry and Alembic) does not load every page.
    from admin import (  # noqa: F401
        books_pages,
        business_pages,
        company_pages,
        dashboard_pages,
        disbursement_pages,
        error_pages,
        filters,
        job_pages,
        matching_pages,
        money_pages,
        organisation_pages,
        password_reset_pages,
        payment_pages,
        public,
        reconciliation_pages,
        registration,
        self_service,
        sign_in_pages,
    )
    from admin import console as admin_console

    filters.register(app)
    app.register_blueprint(admin_console.bp)
    app.register_blueprint(public.bp)
    # After the API's handlers: people get HTML pages, /api and /webhooks keep JSON problems.
    error_pages.register(app)
