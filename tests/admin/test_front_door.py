"""The front door: / for browsers and for programs, /admin, the header, error pages."""

from __future__ import annotations

from tests.admin.conftest import csrf_token

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _english(client):
    page = client.get("/console/sign-in")
    client.post("/language", data={"csrf_token": csrf_token(page.text), "lang": "en"})


def test_a_browser_at_the_root_gets_the_landing_page_in_its_language(console):
    c = console.client()
    page = c.get("/", headers=BROWSER)
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    assert '<html lang="zh-Hant-TW"' in page.text and "地方創生" in page.text
    for link in ('href="/transparency"', 'href="/console/sign-in"', 'href="/console/register"',
                 'href="/api/docs"'):  # fmt: skip
        assert link in page.text
    assert 'id="public-summary"' in page.text and "NT$" in page.text
    # Its stylesheet is allowed (the console's policy, not the API's "default-src 'none'")
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    assert "Accept" in page.headers["Vary"]
    _english(c)
    page = c.get("/", headers=BROWSER)
    assert '<html lang="en"' in page.text and "Place-Creation Fund" in page.text
    assert "See where the money goes" in page.text


def test_programs_at_the_root_keep_the_json_index(console):
    c = console.client()
    for accept in (None, "*/*", "application/json", "application/json, text/html;q=0.5"):
        response = c.get("/", headers={"Accept": accept} if accept else {})
        assert response.status_code == 200, accept
        assert response.is_json, accept
        assert response.json["openapi"] == "/api/v1/openapi.json"
        assert "Accept" in response.headers["Vary"]


def test_admin_leads_to_the_console(console):
    for path in ("/admin", "/admin/"):
        response = console.client().get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/console/"
    manager = console.client("ndc")
    assert manager.get("/admin", follow_redirects=True).request.path == "/console/dashboard"


def test_the_header_offers_registration_to_visitors_only(console):
    visitor = console.client().get("/transparency").text
    assert 'id="register-link"' in visitor and 'href="/console/register"' in visitor
    member = console.client("company_a").get("/console/company").text
    assert 'id="register-link"' not in member


def test_error_pages_may_load_their_stylesheet(console):
    for path in ("/no-such-page", "/console/no-such-page"):
        page = console.client().get(path, headers=BROWSER)
        assert page.status_code == 404
        assert 'rel="stylesheet"' in page.text
        policy = page.headers["Content-Security-Policy"]
        assert "style-src 'self'" in policy, policy
    # The API keeps its problem documents and its own policy
    api = console.client().get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.content_type == "application/problem+json"
    assert api.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_labels_follow_each_request_not_the_first_one(console):
    """Jinja folded ``"reserved"|state`` at compile time: whichever language rendered the
    dashboard first stuck for everyone."""
    zh = console.client("ndc")
    assert "待核准撥款" in zh.get("/console/dashboard").text
    en = console.client("moea")
    _english(en)
    page = en.get("/console/dashboard").text
    assert "Awaiting approval and payment" in page
    assert "待核准撥款" not in page


def test_township_names_in_english_when_english_is_chosen(console):
    c = console.client("business_x")
    assert "南投縣 竹山鎮" in c.get("/console/business").text
    _english(c)
    page = c.get("/console/business").text
    assert "Zhushan Township, Nantou County" in page and "竹山鎮" not in page
    visitor = console.client()
    _english(visitor)
    register = visitor.get("/console/register").text
    assert '<option value="10008040">Zhushan Township</option>' in register
