"""Public pages: the transparency page (no sign-in) and the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from admin import LANGUAGES, forms
from admin.views import CONSOLE_CSP, safe_next
from ledger import figures, queries
from placefund.app import db_session

bp = Blueprint("public", __name__, template_folder="templates")


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    return response


@bp.get("/transparency")
def transparency():
    """What came in, went out and where, by county and priority type; donors who opted in."""
    s = db_session()
    return render_template(
        "console/transparency.html",
        summary=queries.public_summary(s),
        figures=figures.fund_figures(s),
    )


@bp.post("/language")
def language():
    form = forms.LanguageForm()
    if form.validate_on_submit() and form.lang.data in LANGUAGES:
        session["lang"] = form.lang.data
    return redirect(safe_next(form.next.data or request.referrer, url_for("public.transparency")))
