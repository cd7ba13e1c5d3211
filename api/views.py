"""HTTP views. The full resource API arrives with issue #3; this is the read-only core."""

from __future__ import annotations

from flask import Flask, jsonify

from ledger.books import fund_position


def register(app: Flask) -> None:
    @app.get("/")
    def index():
        """What this service is and where its parts live."""
        from placefund.app import db_session

        position = fund_position(db_session())
        from ledger.money import Money

        return jsonify(
            service="placefund",
            fund=app.config["SETTINGS"].fund_name,
            unrestricted=Money(position.unrestricted, position.currency).to_json(),
            restricted={
                k: Money(v, position.currency).to_json() for k, v in position.restricted.items()
            },
            health="/healthz",
        )
