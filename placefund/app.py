"""Flask application factory."""

from __future__ import annotations

from flask import Flask, g, jsonify
from sqlalchemy import text
from sqlalchemy.orm import Session

from placefund.config import Settings
from placefund.db import make_engine, make_session_factory


class Database:
    """Engine and session factory held by the app (no other state: servers can share one DB)."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)

    def session(self) -> Session:
        return self.sessions()


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask("placefund", instance_relative_config=False)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    db = database or Database(settings.database_url)
    app.extensions["placefund.db"] = db

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

    from api.views import register as register_api

    register_api(app)
    return app


def db_session() -> Session:
    """The request's session (one transaction per request, closed at teardown)."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["placefund.db"].session()
    return g.db_session
