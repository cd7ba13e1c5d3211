"""Input no column can hold: integers beyond the column types, NUL characters and unpaired
surrogates. Each is a 4xx problem document that names the field, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from foundation.settings import Settings
from identity.models import Organisation
from ledger.books.models import Entry
from placefund.app import create_app
from tests.api.conftest import World, build_world, new_key

V1 = "/api/v1"
PROBLEM = "application/problem+json"
HUGE = (2**31, 2**63, 10**30)


def _entries(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Entry))


def _adjustment(reason: str) -> dict:
    return {
        "reason": reason,
        "lines": [
            {"account": "expense:fees:processor:TWD", "amount": 1000},
            {"account": "assets:bank:main", "amount": -1000},
        ],
    }


def _raw_json(world: World, actor: str, method: str, path: str, text: str, key=None):
    """Send ``text`` as the body byte for byte (json.dumps escapes NUL and surrogates)."""
    return world.client.open(
        path,
        method=method,
        data=text.encode(),
        content_type="application/json",
        headers=world.headers(actor, key),
    )


# --- integers beyond the column types --------------------------------------------------------


def _integer_schemas(spec: dict, node, where: str):
    """Every integer schema under ``node`` (request parameters and bodies), with its place."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            yield from _integer_schemas(spec, spec["components"]["schemas"][name], where)
            return
        if node.get("type") == "integer":
            yield where, node
        for key in ("properties", "items", "additionalProperties", "schema"):
            child = node.get(key)
            if key == "properties" and isinstance(child, dict):
                for name, sub in child.items():
                    if not sub.get("readOnly"):
                        yield from _integer_schemas(spec, sub, f"{where}.{name}")
            elif isinstance(child, dict):
                yield from _integer_schemas(spec, child, where)


def test_every_integer_a_request_carries_is_bounded_in_the_openapi_document(client):
    spec = client.get(f"{V1}/openapi.json").json
    seen = 0
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if method == "parameters":
                continue
            places = []
            for param in op.get("parameters", []) + operations.get("parameters", []):
                places.append((f"{method} {path} {param['name']}", param.get("schema", {})))
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                places.append((f"{method} {path} body", body["schema"]))
            for where, node in places:
                for name, schema in _integer_schemas(spec, node, where):
                    seen += 1
                    assert "minimum" in schema and "maximum" in schema, name
                    assert -(2**63) <= schema["minimum"] <= schema["maximum"] < 2**63, name
                    if name.endswith("_id") and not any(
                        big in name for big in ("entry", "line", "job")
                    ):
                        # ids of INTEGER columns
                        assert schema["maximum"] == 2**31 - 1, name
    assert seen > 50


@pytest.mark.parametrize("digits", [20, 5000])
def test_an_id_too_long_for_any_column_is_404_not_500(world, digits):
    r = world.call("ndc", "GET", f"{V1}/donations/{'9' * digits}")
    assert r.status_code == 404 and r.mimetype == PROBLEM


def test_a_cursor_beyond_the_column_starts_at_the_newest(world):
    first = world.call("ndc", "GET", f"{V1}/donations", query_string={"cursor": "9" * 18})
    assert first.status_code == 200
    assert len(first.json["items"]) == 2


@pytest.fixture
def pg_world(pg):
    app = create_app(Settings(database_url=str(pg.engine.url), secret_key="t"), database=pg)
    app.config["TESTING"] = True
    with pg.session() as s, s.begin():
        tokens, ids = build_world(s)
    yield World(app.test_client(), tokens, ids)
    cache = app.extensions.get("placefund.token_cache")
    if cache is not None:
        cache.close()


@pytest.mark.postgres
@pytest.mark.parametrize("huge", HUGE)
def test_integers_beyond_the_columns_are_refused_on_postgres(pg_world, pg, huge):
    world = pg_world
    for path in (
        f"{V1}/donations/{huge}",
        f"{V1}/organisations/{huge}",
        f"{V1}/ledger/entries/{huge}",
        f"{V1}/match/runs/{huge}",
    ):
        r = world.call("ndc", "GET", path)
        assert r.status_code == 404 and r.mimetype == PROBLEM, (path, r.status_code)
    for path, name in (
        (f"{V1}/donations", "company_id"),
        (f"{V1}/donations", "pledge_id"),
        (f"{V1}/pledges", "company_id"),
        (f"{V1}/projects", "business_id"),
        (f"{V1}/tokens", "user_id"),
        (f"{V1}/reconciliation/lines", "import_id"),
        (f"{V1}/statements/donor", "company_id"),
    ):
        r = world.call("ndc", "GET", path, query_string={name: str(huge)})
        assert r.status_code == 422 and r.mimetype == PROBLEM, (path, name, r.status_code)
        assert f"query.{name}" in r.json["errors"]
    before = _entries(pg)
    for body, field in (
        ({"amount": 100_000, "company_id": huge}, "company_id"),
        ({"amount": 100_000, "pledge_id": huge}, "pledge_id"),
        ({"amount": huge, "company_id": world.ids["company_a"]}, "amount"),
    ):
        r = world.call("ndc", "POST", f"{V1}/donations", json=body, key=new_key())
        assert r.status_code == 422 and r.mimetype == PROBLEM, (body, r.status_code)
        assert field in r.json["errors"]
    assert _entries(pg) == before
    # A cursor is a position, not an id: beyond the column it is simply before every row
    r = world.call("ndc", "GET", f"{V1}/pledges", query_string={"cursor": str(2**40)})
    assert r.status_code == 200 and len(r.json["items"]) == 2
    # likewise the donor statement's (date, id) position: after every donation of that day
    r = world.call(
        "company_a",
        "GET",
        f"{V1}/statements/donor",
        query_string={"cursor": "2000-01-01." + "9" * 18},
    )
    assert r.status_code == 200 and len(r.json["donations"]) == 1


# --- NUL characters and unpaired surrogates ---------------------------------------------------


@pytest.mark.parametrize("bad", ["keep\u0000 the rest", "\ud800", "tail \udfff"])
def test_text_no_column_can_hold_is_refused_and_nothing_stored(world, database, bad):
    before = _entries(database)
    r = _raw_json(
        world, "ndc", "POST", f"{V1}/ledger/adjustments", json.dumps(_adjustment(bad)), new_key()
    )
    assert r.status_code == 422 and r.mimetype == PROBLEM
    assert r.json["code"] == "unstorable_text"
    assert list(r.json["errors"]) == ["reason"]
    assert _entries(database) == before
    # The same request without the character is fine: only the character was refused
    ok = world.call(
        "ndc", "POST", f"{V1}/ledger/adjustments", json=_adjustment("keep the rest"), key=new_key()
    )
    assert ok.status_code == 201, ok.json
    assert ok.json["memo"].endswith("keep the rest")


def test_nested_fields_and_keys_are_named_in_the_problem(world):
    body = _adjustment("fine")
    body["lines"][1]["account"] = "assets:bank\u0000:main"
    body["\ud83d"] = 1
    r = _raw_json(world, "ndc", "POST", f"{V1}/ledger/adjustments", json.dumps(body), new_key())
    assert r.status_code == 422 and r.mimetype == PROBLEM
    assert set(r.json["errors"]) == {"lines.1.account", "\\ud83d"}


def test_a_pair_of_surrogates_is_one_character_and_welcome(world, database):
    before = _entries(database)
    # "\ud83c\udf3e" is 🌾 written as JSON writes it
    text = json.dumps(_adjustment("稻穗 \U0001f33e"))
    assert "\\ud83c\\udf3e" in text
    r = _raw_json(world, "ndc", "POST", f"{V1}/ledger/adjustments", text, new_key())
    assert r.status_code == 201, r.json
    assert r.json["memo"].endswith("稻穗 \U0001f33e")
    assert _entries(database) == before + 1


def test_registration_with_nul_in_a_name_stores_no_organisation(client, database):
    with database.session() as s:
        before = s.scalar(select(func.count()).select_from(Organisation))
    body = {
        "kind": "business",
        "name": "新竹\u0000米粉工坊",
        "ubn": "04595257",
        "town_code": "10008040",
        "contact": {"email": "owner@rice.example.tw", "name": "王小明\ud800"},
    }
    r = client.post(f"{V1}/organisations", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 422 and set(r.json["errors"]) == {"name", "contact.name"}
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Organisation)) == before


@pytest.mark.parametrize(
    "path",
    [
        f"{V1}/ledger/entries?kind=a%00b",
        f"{V1}/ledger/entries?account=%00",
        f"{V1}/organisations?kind=x&%00=1",
        f"{V1}/donations?channel=%ED%A0%80%00",
    ],
)
def test_nul_in_the_query_is_refused(world, path):
    r = world.call("ndc", "GET", path)
    assert r.status_code == 422 and r.mimetype == PROBLEM
    assert all(name.startswith("query.") for name in r.json["errors"])


def test_nul_in_the_path_is_refused(world):
    r = world.call("ndc", "GET", f"{V1}/ledger/accounts/assets:bank%00/balance")
    assert r.status_code == 400 and r.mimetype == PROBLEM


def test_console_pages_with_nul_get_the_console_400_page(client):
    r = client.get("/console/sign-in?next=/console/%00")
    assert r.status_code == 400
    assert r.mimetype == "text/html"
    # A page's form post goes to its form, which names the field (tests/admin/
    # test_unstorable_text.py); without its CSRF token it is refused like any other
    r = client.post("/console/sign-in", data={"email": "a\u0000@b.tw", "password": "x"})
    assert r.status_code == 400 and r.mimetype == "text/html"
    # Under /api a form post is still the 422 problem naming the field
    r = client.post(f"{V1}/organisations", data={"name": "a\u0000b"})
    assert r.status_code == 422 and r.json["code"] == "unstorable_text"
    assert list(r.json["errors"]) == ["name"]


@pytest.mark.postgres
@pytest.mark.parametrize("bad", ["keep\u0000 the rest", "\ud800"])
def test_text_no_column_can_hold_is_refused_on_postgres(pg_world, pg, bad):
    world = pg_world
    before = _entries(pg)
    r = _raw_json(
        world, "ndc", "POST", f"{V1}/ledger/adjustments", json.dumps(_adjustment(bad)), new_key()
    )
    assert r.status_code == 422 and list(r.json["errors"]) == ["reason"]
    for path in (
        f"{V1}/ledger/entries?kind=a%00b",
        f"{V1}/ledger/accounts/assets:bank%00/balance",
        f"{V1}/ledger/accounts/assets:bank:main/statement?from=2026-01-01%00",
    ):
        r = world.call("ndc", "GET", path)
        assert 400 <= r.status_code < 500 and r.mimetype == PROBLEM, (path, r.status_code)
    assert _entries(pg) == before
