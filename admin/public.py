"""Public pages: the front door, the transparency page (no sign-in) and the language switch.

``/`` answers two kinds of client. A browser (its ``Accept`` puts ``text/html`` first) gets
the landing page in the reader's language; everything else (``curl``'s ``*/*``, JSON, no
``Accept`` at all) keeps the API's JSON index, so API clients see no change.
"""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from admin import LANGUAGES, forms
from admin.console import CONSOLE_CSP, safe_next
from ledger import listings
from ledger.fund import figures
from web.request import db_session

bp = Blueprint("public", __name__, template_folder="templates")


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    return response


def wants_page() -> bool:
    """Does the client prefer an HTML page to JSON? Only when it says so (a browser)."""
    return request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html"


@bp.before_app_request
def _front_door():
    """Browsers opening ``/`` get the landing page; the API's JSON index stays for programs."""
    if request.path != "/" or request.method not in ("GET", "HEAD") or not wants_page():
        return None
    response = current_app.make_response(landing())
    # Not the public blueprint's request (the URL is the API's index): its headers set here
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    return response


@bp.after_app_request
def _vary_on_accept(response):
    """Caches must keep the page and the JSON of ``/`` apart."""
    if request.path == "/":
        response.vary.add("Accept")
    return response


def landing():
    """What the fund is, its public figures, and the ways in: the page a browser sees at /."""
    summary = listings.public_summary(db_session())
    return render_template("console/landing.html", summary=summary, now=dt.datetime.now(dt.UTC))


@bp.get("/admin")
@bp.get("/admin/")
def admin():
    """Where people guess the console lives."""
    return redirect(url_for("console.index"))


@bp.get("/transparency")
def transparency():
    """What came in, went out and where, by county and priority type; donors who opted in."""
    s = db_session()
    return render_template(
        "console/transparency.html",
        summary=listings.public_summary(s),
        figures=figures.fund_figures(s),
    )


@bp.post("/language")
def language():
    form = forms.LanguageForm()
    if form.validate_on_submit() and form.lang.data in LANGUAGES:
        session["lang"] = form.lang.data
    return redirect(safe_next(form.next.data or request.referrer, url_for("public.transparency")))
