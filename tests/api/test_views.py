"""api/views.py: the API's HTTP rules (JSON bodies only, ids a column can hold) and its docs,
which work offline: Swagger UI's files come from the app itself."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.api.conftest import V1, new_key

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_bad_bodies_are_4xx_problems_and_write_nothing(world):
    path = f"{V1}/donations"
    cases = [
        dict(data="{not json", content_type="application/json"),
        dict(data='{"amount": ' + "9" * 5000 + "}", content_type="application/json"),
        dict(data="[" * 5000 + "]" * 5000, content_type="application/json"),
        dict(data="amount=100000", content_type="application/x-www-form-urlencoded"),
        dict(data="<a/>", content_type="application/xml"),
        dict(json={"amount": 10**30}),
        dict(json={"amount": 1e3}),
        dict(json={"amount": "100000"}),
        dict(json={"amount": True}),
        dict(json={"amount": 2.58e-42}),
        dict(json={"amount": 100_000, "surprise": 1}),
        dict(json={"amount": 100_000, "company_id": 10**30}),
        dict(json={"amount": 100_000, "currency": "XXX"}),
        dict(json={"amount": 100_000, "restriction": "county:nowhere"}),
        dict(json=[1, 2]),
        dict(json=None),
    ]
    for case in cases:
        h = world.headers("ndc", new_key())
        r = world.client.post(path, headers=h, **case)
        assert 400 <= r.status_code < 500, (case, r.status_code)
        assert r.mimetype == "application/problem+json"
        assert {"type", "code", "title", "status", "detail"} <= set(r.json)
    entries = world.call("ndc", "GET", f"{V1}/ledger/entries?limit=200").json["items"]
    assert len(entries) == 6


def test_unknown_route_and_huge_ids(world):
    assert world.call("ndc", "GET", f"{V1}/nothing").status_code == 404
    r = world.call("ndc", "GET", f"{V1}/pledges/99999999999999999999999")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"


def test_healthz_and_docs(client):
    assert client.get("/healthz").json == {"status": "ok", "database": "reachable"}
    assert client.get("/api/docs").status_code == 200
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    post = spec["paths"]["/api/v1/donations"]["post"]
    assert post["x-required-roles"] == ["fund_manager", "admin"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert "application/problem+json" in post["responses"]["422"]["content"]


def test_docs_page_loads_only_its_own_files(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "cdn" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {a.rsplit("/", 1)[1] for a in assets} == {
        "swagger-ui.css",
        "swagger-ui-standalone-preset.js",
        "swagger-ui-bundle.js",
    }
    for asset in assets:
        assert asset.startswith("/api/docs/static/")
        with client.get(asset) as response:
            assert response.status_code == 200, asset
            assert len(response.get_data()) > 1000
    csp = page.headers["Content-Security-Policy"]
    assert "http" not in csp and "script-src 'self'" in csp


def test_docs_static_files_do_not_escape_their_folder(client):
    assert client.get("/api/docs/static/../../foundation/settings.py").status_code == 404


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium (/usr/bin/chromium)")
def test_swagger_ui_renders_every_operation_without_the_internet(app):
    sync_api = pytest.importorskip("playwright.sync_api")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    outside: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            page = browser.new_page()

            def only_local(route):
                if route.request.url.startswith(base):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)
            page.goto(f"{base}/api/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
    assert outside == []
    assert any("/api/v1/donations" in p for p in paths)
    assert len(paths) > 40  # every documented operation is listed
