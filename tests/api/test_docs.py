"""The interactive API docs work offline: Swagger UI's files come from the app itself."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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
    assert client.get("/api/docs/static/../../placefund/config.py").status_code == 404


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
