"""Flask application factory: the database, both faces, and the HTTP rules of every answer."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import text
from sqlalchemy.orm import Session

import placefund.models  # noqa: F401
from admin import donate
from admin import register as register_console
from api import payments, reconciliation, webhooks
from api.views import register as register_api
from foundation.db import make_engine, make_session_factory
from foundation.settings import Settings, instance_secret_key
from jobs.queue import Queue
from jobs.records import workers_up
from ledger.books.chain import unsealed_backlog
from ledger.fund.common import va_scheme
from ledger.payments.stripe_gateway import StripeGateway
from placefund.migrate import current_revision, head_revision
from web import metrics, request_guard
from web.last_resort import REQUEST_ID_KEY, LastResort
from web.request import STATELESS_PREFIXES, db_session

access_log = logging.getLogger("placefund.access")


#: Request bodies above this are refused with 413 before they are read
MAX_CONTENT_LENGTH = 64 * 1024


#: Bank statements are the one large upload (100,000 lines is a few MB); only the two
#: statement-import endpoints accept bodies up to this size.
STATEMENT_UPLOAD_LIMIT = 32 * 1024 * 1024


STATEMENT_ENDPOINTS = {"console.reconciliation_upload", "reconciliation.import_bank_statement"}


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


API_CSP = "default-src 'none'; frame-ancestors 'none'"


#: Swagger UI: its files come from the app itself; flask-smorest's page has an inline script
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


class _SessionInterface(SecureCookieSessionInterface):
    """The console's signed-cookie session, not opened for API and webhook requests: they
    never use it, and reading and verifying the cookie cost a share of every API call."""

    def open_session(self, app, request):
        if request.path.startswith(STATELESS_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)


class Database:
    """Engine and session factory held by the app (no other state: servers can share one DB)."""

    #: Options for every new connection (a test's search_path); huey's own connections to
    #: PostgreSQL take them too (jobs/queue.py)
    connect_args: dict = {}

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)

    def session(self) -> Session:
        return self.sessions()


def job_services(settings: Settings, stripe: StripeGateway | None = None) -> dict[str, object]:
    """What a job may use besides the database (jobs/runner.py's ``JobContext.services``):
    the same Stripe gateway and virtual-account scheme the faces use."""
    return {
        "settings": settings,
        "stripe": stripe or StripeGateway(settings.stripe),
        "va_scheme": va_scheme(settings),
    }


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Flask:
    # Every table's mapper, before the first query resolves a relationship by name. Not at
    # the top: admin/__init__.py imports STATELESS_PREFIXES from this module (a circle that
    # ends when that moves to web/).

    # Read once: the views take what they need from here, never from the environment
    settings = settings or Settings.from_env()
    app = Flask("placefund", instance_relative_config=False)
    app.config["SETTINGS"] = settings
    # Without SECRET_KEY, the instance folder's key: the same in every worker and restart
    app.config["SECRET_KEY"] = settings.secret_key or instance_secret_key(settings.instance)
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.json.ensure_ascii = False  # Traditional Chinese stays readable in responses
    app.json.sort_keys = False
    app.session_interface = _SessionInterface()
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # remote_addr and the scheme as the trusted proxies saw them; nothing further out
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )

    # Outermost: whatever escapes the app (and ProxyFix) still gets an answer of ours
    app.wsgi_app = LastResort(app.wsgi_app)
    db = database or Database(settings.database_url)
    app.extensions["placefund.db"] = db
    # The door to Stripe (tests put a fake in its place) and the pledges' virtual accounts
    app.extensions["placefund.stripe"] = StripeGateway(settings.stripe)
    app.extensions["placefund.va_scheme"] = va_scheme(settings)
    # Where the faces hand background work to the workers (jobs/queue.py): enqueue only
    app.extensions["placefund.queue"] = Queue(db)

    @app.before_request
    def _start():
        # First of all hooks, before anything (CSRF, JSON parsing) reads the body.
        if request.endpoint in STATEMENT_ENDPOINTS:
            request.max_content_length = STATEMENT_UPLOAD_LIMIT
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # For web/last_resort.py, which logs an error after the app's context has gone
        request.environ[REQUEST_ID_KEY] = g.request_id

    # Second, once the body limit is set: text no column can hold is refused before any view.

    request_guard.register(app)
    # The latency of every request, and /metrics (Prometheus)
    metrics.register(app)

    @app.after_request
    def _finish(response):
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for name, value in SECURITY_HEADERS.items():
            if name.lower() not in present:
                headers.add(name, value)
        if "content-security-policy" not in present:
            docs = request.path.startswith("/api/docs")
            headers.add("Content-Security-Policy", DOCS_CSP if docs else API_CSP)
        if "cache-control" not in present and "Authorization" in request.headers:
            headers.add("Cache-Control", "no-store")
        headers["X-Request-ID"] = g.get("request_id", "")
        if access_log.isEnabledFor(logging.INFO):
            user = g.get("user")
            # Never the query string, headers or body: tokens and personal data stay out of
            # logs.
            access_log.info(
                "request",
                extra={
                    "request_id": g.get("request_id"),
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - g.get("started", 0)) * 1000, 2),
                    "user_id": user.id if user is not None else None,
                    "remote": request.remote_addr,
                },
            )
        return response

    @app.teardown_appcontext
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    @app.get("/healthz")
    def healthz():
        """Database reachability, for load balancers and monitors."""
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any driver failure means "not ready"
            return jsonify(status="unavailable", database="unreachable"), 503
        return jsonify(status="ok", database="reachable")

    migration_head: dict[str, str] = {}

    @app.get("/readyz")
    def readyz():
        """Ready to serve: the database answers, its schema is at this code's migration, the
        hash chain keeps up (the oldest unsealed entry is younger than
        ``PLACEFUND_SEAL_MAX_LAG``) and at least one ``placefund worker`` beat within the
        last 30 s (jobs.records.WORKER_UP_WITHIN): without one, imports, Stripe syncs and
        sealing wait. 503 with the failing checks otherwise."""

        if "head" not in migration_head:  # the files do not change while we run
            migration_head["head"] = head_revision(db.engine)
        try:
            # The request's own session: on SQLite a second connection would wait for the
            # lock this request may already hold (the console's session check takes it)
            session = db_session()
            revision = current_revision(session.connection())
            backlog = unsealed_backlog(session)
            workers = len(workers_up(session))
        except Exception:  # any driver failure means "not ready"
            logging.getLogger("placefund.readiness").warning(
                "readiness check failed", exc_info=True
            )
            return jsonify(status="unavailable", database="unreachable"), 503
        lag = backlog.age_seconds()
        checks = {
            "database": "reachable",
            "migrations": "current" if revision == migration_head["head"] else "behind",
            "sealing": "ok" if lag <= settings.seal_max_lag else "behind",
            "workers": "up" if workers else "none",
        }
        ready = all((checks["migrations"] == "current", checks["sealing"] == "ok", workers > 0))
        body = {
            "status": "ok" if ready else "unavailable",
            **checks,
            "unsealed_entries": backlog.entries,
            "oldest_unsealed_seconds": round(lag, 1),
            "seal_max_lag_seconds": settings.seal_max_lag,
            "workers_up": workers,
        }
        return jsonify(body), 200 if ready else 503

    api = register_api(app)
    # Payments and reconciliation (issue 4): API blueprints, the raw-body Stripe webhook
    # (outside /api/v1, so no JSON parsing touches it) and the donation page.

    api.register_blueprint(payments.blp)
    api.register_blueprint(reconciliation.blp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(donate.bp)

    # The web console (issue 6): sign-in, pages, translations and CSRF for every form.

    register_console(app)
    return app
