"""schemathesis against the app's own OpenAPI document: no 5xx, every response as documented.

A bounded number of examples per operation keeps the suite quick; the callers are a fund
manager (who reaches every endpoint) and a company member (scoped answers and 403/404s).
"""

from __future__ import annotations

import shutil

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.specs.openapi.checks import positive_data_acceptance

from foundation.settings import Settings
from placefund.app import Database, create_app
from tests.api.conftest import build_world
from tests.localstripe_server import offline_gateway

# The spec does not depend on data, so it is read at collection time from an app whose
# database is swapped for a migrated, populated one before any example runs.
app = create_app(Settings(database_url="sqlite://", secret_key="t"))
app.config["TESTING"] = True
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
# A body over the 64 KB limit is refused with 413 before it is read (every operation with a
# body documents it); schemathesis's default list of rejections does not name it.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]

# Schema-valid requests may still be refused for reasons a schema cannot express (a UBN
# check digit, someone else's object, an amount above what is due), so that one check is
# off; every response must still be a documented status, content type and shape, never 5xx.
EXCLUDED = [positive_data_acceptance]

SETTINGS = hypothesis.settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory, sqlite_template):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    with database.session() as s, s.begin():
        tokens, _ids = build_world(s)
    previous = app.extensions["placefund.db"]
    app.extensions["placefund.db"] = database
    # Card payments and Stripe imports answer from an offline fake, not a 503 (no keys here).
    app.extensions["placefund.stripe"] = offline_gateway()
    yield tokens
    app.extensions["placefund.db"] = previous
    database.engine.dispose()


@schema.parametrize()
@SETTINGS
def test_api_conforms_as_fund_manager(case, tokens):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {tokens['ndc']}"}, excluded_checks=EXCLUDED
    )


@schema.parametrize()
@SETTINGS
def test_api_conforms_as_company_member(case, tokens):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {tokens['company_a']}"}, excluded_checks=EXCLUDED
    )
