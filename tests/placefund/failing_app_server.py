"""``placefund serve`` with two routes that fail outside Flask's error handlers, for
tests/placefund/test_server.py: ``python -m tests.placefund.failing_app_server PORT``.

- ``/api/v1/test/teardown-fails``: a teardown raises after the response was made (as
  closing a session on a dropped database connection can), so the exception leaves the app.
- ``/api/v1/test/body-fails``: the body raises when gunicorn starts sending it, so gunicorn
  itself answers the 500.
- ``/api/v1/test/view-fails``: the view raises; the API's handler answers 500 and logs the
  error (tests/placefund/test_logs.py reads that line).
"""

from __future__ import annotations

import sys

from flask import Response, request

from placefund import server
from placefund.app import create_app


def _load(_self):
    app = create_app()

    @app.get("/api/v1/test/teardown-fails")
    def teardown_fails():
        return {"ok": True}

    @app.get("/api/v1/test/view-fails")
    def view_fails():
        raise RuntimeError("the view failed")

    @app.get("/api/v1/test/body-fails")
    def body_fails():
        def chunks():
            raise RuntimeError("the body failed")
            yield b""  # pragma: no cover - a generator that fails on its first chunk

        return Response(chunks(), mimetype="application/json")

    @app.teardown_request
    def _fail(_exc):
        if request.path == "/api/v1/test/teardown-fails":
            raise RuntimeError("the teardown failed")

    return app


if __name__ == "__main__":
    server._Server.load = _load
    server.run(host="127.0.0.1", port=int(sys.argv[1]), workers=1, threads=1, access_log=False)
