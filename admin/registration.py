"""Self-registration from the sign-in page: a company or local business and its first member.

The organisation is created unverified by the same domain service as the API's
``POST /api/v1/organisations``; a fund manager verifies it from /console/organisations.
Each address may try a few times only (web/rate_limits.py, shared with the API), so the
page cannot be used to create organisations in bulk or to probe which numbers and emails
are registered.
"""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for

from admin import forms
from admin.console import bp, form_error
from admin.filters import english
from foundation.errors import LedgerError
from foundation.reference import townships
from foundation.transactions import atomic
from identity import organisations
from web.rate_limits import REGISTRATION_ATTEMPTS, REGISTRATIONS, rate_limits
from web.request import db_session


def township_choices() -> dict[str, list[tuple[str, str]]]:
    """The 368 townships grouped by county (``<optgroup>``), county names in the reader's
    language."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for code, town in sorted(townships().items()):
        county = town.county_name_en if english() else town.county_name
        name = town.name_en if english() and town.name_en else town.name
        grouped.setdefault(county, []).append((code, name))
    return grouped


@bp.route("/register", methods=["GET", "POST"])
def register():
    if g.get("console_user") is not None:
        return redirect(url_for("console.index"))
    form = forms.RegistrationForm()
    towns = township_choices()
    form.town_code.choices = [(code, name) for group in towns.values() for code, name in group]
    address = request.remote_addr or "?"
    if form.is_submitted() and rate_limits().hit(REGISTRATION_ATTEMPTS, address):
        abort(429)
    if form.validate_on_submit():
        if rate_limits().hit(REGISTRATIONS, address):
            abort(429)
        try:
            with atomic(db_session()) as s:
                organisations.register_organisation(
                    s,
                    kind=form.kind.data,
                    name=form.name.data.strip(),
                    name_en=(form.name_en.data or "").strip() or None,
                    ubn=form.ubn.data,
                    town_code=form.town_code.data,
                    contact_name=form.contact_name.data.strip(),
                    contact_email=form.email.data.strip(),
                    password=form.password.data,
                )
        except LedgerError as error:
            form_error(form, error, aliases={"contact.email": "email"})
        else:
            return redirect(url_for("console.registered", kind=form.kind.data))
    status = 422 if form.is_submitted() else 200
    return render_template("console/register.html", form=form, towns=towns), status


@bp.get("/registered")
def registered():
    """Right after registering: what happens next, for a company or a local business."""
    kind = request.args.get("kind")
    return render_template(
        "console/registered.html", kind=kind if kind in ("company", "business") else None
    )
