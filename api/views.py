"""The REST API under /api/v1: the flask-smorest ``Api``, its blueprints and HTTP rules.

OpenAPI 3 at /api/v1/openapi.json, Swagger UI at /api/docs. Errors are problem documents
(api/errors.py); bearer authentication is api/auth.py (the roles are identity/roles.py).
"""

from __future__ import annotations

import http

from flask import Blueprint as FlaskBlueprint
from flask import Flask, g, jsonify, request
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from swagger_ui_bundle import swagger_ui_path
from werkzeug.routing import IntegerConverter

from api import (
    disbursements,
    donations,
    jobs,
    ledger_views,
    matching,
    organisations,
    pledges,
    projects,
    returns,
)
from api.errors import ProblemSchema, register_error_handlers
from api.operation_ids import name_operations
from api.schemas import MAX_BIG_ID, MAX_ID
from web.problems import PROBLEM_MEDIA_TYPE, ApiError

API_PREFIX = "/api/v1"


class IdConverter(IntegerConverter):
    """``<int:id>``: an id of an INTEGER (32-bit) column. A larger number is a 404 (no such
    object can exist), never an "integer out of range" from the database.

    At most 20 digits match at all: werkzeug would otherwise hand ``int()`` a number of any
    length (beyond 4,300 digits Python refuses to convert it, an unhandled ValueError).
    """

    regex = r"\d{1,20}"
    max_id = MAX_ID

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", self.max_id)
        super().__init__(map, *args, **kwargs)


class BigIdConverter(IdConverter):
    """``<bigid:id>``: an id of a BIGINT column (ledger entries, statement lines)."""

    max_id = MAX_BIG_ID


class Api(SmorestApi):
    """flask-smorest with problem documents as its error responses, documented as such."""

    ERROR_SCHEMA = ProblemSchema

    def register_blueprint(self, blp, **options):
        """As flask-smorest's, with every operation named (api/operation_ids.py)."""
        name_operations(blp, options.get("name", blp.name))
        return super().register_blueprint(blp, **options)

    def _register_error_handlers(self):
        register_error_handlers(self._app)

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error: a problem document", "schema": ProblemSchema}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


DESCRIPTION = """\
The place-creation (地方創生) fund: pledges, donations, disbursements, revenue returns
and the books.

* Authenticate with `Authorization: Bearer <token>`; tokens are created with
  `POST /api/v1/tokens` (or `placefund token create`) and shown once.
* Amounts are integer minor units with a currency (Stripe's convention): NT$1,000 is
  `{"amount": 100000, "currency": "TWD"}`; responses add a `display` string.
* Every money-moving POST needs an `Idempotency-Key` header. A retry with the same key and
  body returns the original result with the header `Idempotent-Replayed: true`; the same
  key with a different body is a 409.
* Updates need the version you read (`If-Match: <ETag>` or a `version` field): a stale
  update is refused with 412 or 409.
* Lists are newest first with cursor pagination: pass `next_cursor` back as `cursor`.
* Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.
* Company and business members see only their own organisation's data; anything else
  answers 404, exactly like something that does not exist.
"""


#: Where the app serves Swagger UI's own files (from the swagger-ui-bundle package)
SWAGGER_UI_STATIC = "/api/docs/static"


def register(app: Flask) -> Api:
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigid"] = BigIdConverter
    app.config.update(
        API_TITLE="placefund API",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="v1/openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_STATIC + "/",
        API_SPEC_OPTIONS={
            "info": {"description": DESCRIPTION},
            "servers": [{"url": "/"}],
        },
    )
    api = Api(app)
    app.register_blueprint(
        FlaskBlueprint(
            "swagger_ui_files",
            __name__,
            static_folder=str(swagger_ui_path),
            static_url_path=SWAGGER_UI_STATIC,
        )
    )
    for converter in (IdConverter, BigIdConverter):
        api.register_converter(
            converter,
            lambda _c, top=converter.max_id: {"type": "integer", "minimum": 1, "maximum": top},
        )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "pf_... API token"}
    )
    for module in (organisations, projects, pledges, donations, disbursements, returns):
        api.register_blueprint(module.blp)
    api.register_blueprint(ledger_views.blp)
    api.register_blueprint(matching.blp)
    api.register_blueprint(jobs.blp)

    @app.after_request
    def _replayed(response):
        """Tell a client that retried a money-moving POST that nothing new happened."""
        if g.get("idempotent_replayed"):  # set by api.common's unit_of_work and write
            response.headers["Idempotent-Replayed"] = "true"
        return response

    @app.before_request
    def _json_only():
        """A body that is not JSON is refused (415) before any view reads it."""
        if not request.path.startswith(API_PREFIX):
            return
        if request.method in ("POST", "PUT", "PATCH") and (
            request.content_length or request.headers.get("Transfer-Encoding")
        ):
            mimetype = request.mimetype or ""
            if not (mimetype == "application/json" or mimetype.endswith("+json")):
                raise ApiError(
                    415,
                    "Send the request body as JSON (Content-Type: application/json).",
                    code="unsupported_media_type",
                )

    @app.get("/")
    def index():
        """What this service is and where its parts live."""
        return jsonify(
            service="placefund",
            fund=app.config["SETTINGS"].fund_name,
            api=f"{API_PREFIX}/",
            openapi=f"{API_PREFIX}/openapi.json",
            docs="/api/docs",
            public_summary=f"{API_PREFIX}/public/summary",
            health="/healthz",
        )

    return api
