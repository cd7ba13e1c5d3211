"""Every operation in the OpenAPI document, fed what no schema allows: no answer is a 5xx.

schemathesis generates each request from the document; hooks then swap some of its values
for hostile ones: NUL characters and unpaired surrogates in strings (surrogates only in the
JSON body: a URL cannot carry one), and integers at and beyond the 32- and 64-bit column
bounds in paths, queries and bodies. Every answer must be below 500 and, when an error, a
problem document. It runs on SQLite, and on PostgreSQL (where an INTEGER column refuses
2^31 and text refuses NUL) with the ``postgres`` marker.
"""

from __future__ import annotations

import shutil

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st

from foundation.settings import Settings
from placefund.app import Database, create_app
from placefund.migrate import upgrade
from tests.api.conftest import build_world
from tests.conftest import pg_database
from tests.localstripe_server import offline_gateway

INTEGERS = st.sampled_from(
    [0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**100]
)
URL_TEXT = st.sampled_from(["\x00", "a\x00", "\x00 b", "台\x00北"])
BODY_TEXT = st.one_of(URL_TEXT, st.sampled_from(["\ud800", "x\udfff", "\udc00\x00", "稻\ud83d"]))

SETTINGS = hypothesis.settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def hostile(value, text: st.SearchStrategy) -> st.SearchStrategy:
    """``value`` with any of its strings and integers possibly swapped for a hostile one."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return st.just(value)
    if isinstance(value, int):
        return st.one_of(st.just(value), INTEGERS)
    if isinstance(value, str):
        return st.one_of(st.just(value), text, text.map(lambda bad: value + bad))
    if isinstance(value, list):
        return st.tuples(*(hostile(item, text) for item in value)).map(list)
    if isinstance(value, dict):
        return st.fixed_dictionaries({key: hostile(item, text) for key, item in value.items()})
    return st.just(value)


def fuzzed_schema(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

    @schema.hook("flatmap_body")
    def _body(_ctx, body):
        return hostile(body, BODY_TEXT)

    @schema.hook("flatmap_query")
    def _query(_ctx, query):
        return hostile(query, URL_TEXT)

    @schema.hook("flatmap_path_parameters")
    def _path(_ctx, parameters):
        return hostile(parameters, URL_TEXT)

    return schema


def _app():
    # The spec does not depend on data: read at collection time, the database swapped later
    app = create_app(Settings(database_url="sqlite://", secret_key="t"))
    app.config["TESTING"] = True
    return app


sqlite_app = _app()
sqlite_schema = fuzzed_schema(sqlite_app)
pg_app = _app()
pg_schema = fuzzed_schema(pg_app)


def _serve(app, database: Database):
    with database.session() as s, s.begin():
        tokens, _ids = build_world(s)
    previous = app.extensions["placefund.db"]
    app.extensions["placefund.db"] = database
    app.extensions["placefund.stripe"] = offline_gateway()
    return tokens, previous


@pytest.fixture(scope="module")
def sqlite_token(tmp_path_factory, sqlite_template):
    path = tmp_path_factory.mktemp("hostile") / "hostile.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    tokens, previous = _serve(sqlite_app, database)
    yield tokens["ndc"]
    sqlite_app.extensions["placefund.db"] = previous
    database.engine.dispose()


@pytest.fixture(scope="module")
def pg_token(pg_schema_url):
    from sqlalchemy import text

    url, base = pg_schema_url
    schema = f"{base}_hostile"
    database = pg_database(url, schema)
    with database.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database.engine.dispose()
    database = pg_database(url, schema)
    upgrade(database.engine)
    tokens, previous = _serve(pg_app, database)
    yield tokens["ndc"]
    cache = pg_app.extensions.get("placefund.token_cache")
    if cache is not None:
        cache.close()
    pg_app.extensions["placefund.db"] = previous
    database.engine.dispose()


def check(case, token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    if response.status_code >= 400:
        content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"][0]
        assert content_type.startswith("application/problem+json"), (
            case.method,
            case.formatted_path,
            response.status_code,
        )


@sqlite_schema.parametrize()
@SETTINGS
def test_hostile_input_gets_no_5xx_on_sqlite(case, sqlite_token):
    check(case, sqlite_token)


@pytest.mark.postgres
@pg_schema.parametrize()
@SETTINGS
def test_hostile_input_gets_no_5xx_on_postgres(case, pg_token):
    check(case, pg_token)
