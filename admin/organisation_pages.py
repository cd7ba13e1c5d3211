"""Organisations and users, for fund managers: verifying registrations, resetting passwords."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from admin import console_passwords, console_sessions, messages
from admin.business_pages import _business_page
from admin.company_pages import _company_page
from admin.console import PAGE, _after_arg, bp, me, signed_in
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity import passwords
from identity.models import Organisation, User
from identity.organisations import verify_organisation
from identity.roles import MANAGERS
from ledger import listings
from web.rate_limits import (
    SIGN_IN_FAILURES_PER_ACCOUNT,
    account_key,
    rate_limits,
)
from web.request import db_session


@bp.get("/organisations")
@signed_in(*MANAGERS)
def organisations():
    kind = request.args.get("kind") or None
    if kind not in (None, "company", "business", "institution"):
        kind = None
    verified = {"yes": True, "no": False}.get(request.args.get("verified", ""))
    result = listings.list_organisations(
        db_session(), kind=kind, verified=verified, limit=PAGE, after=_after_arg()
    )
    return render_template(
        "console/organisations.html",
        items=result.items,
        kind=kind or "",
        verified=request.args.get("verified", ""),
        next_after=result.next_after,
    )


@bp.get("/organisations/<int:org_id>")
@signed_in(*MANAGERS)
def organisation(org_id: int):
    org = db_session().get(Organisation, org_id)
    if org is None:
        abort(404)
    if org.kind == "company":
        return _company_page(org)
    if org.kind == "business":
        return _business_page(org)
    members = db_session().scalars(select(User).where(User.organisation_id == org.id)).all()
    return render_template("console/institution.html", org=org, members=members)


@bp.post("/organisations/<int:org_id>/verify")
@signed_in(*MANAGERS)
def verify(org_id: int):
    try:
        with atomic(db_session()) as s:
            org = s.get(Organisation, org_id)
            if org is None:
                abort(404)
            verify_organisation(s, org, me())
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(_("Verified."), "info")
    return redirect(url_for("console.organisation", org_id=org_id))


@bp.get("/users")
@signed_in(*MANAGERS)
def users():
    # A keyset page, newest first: every company and business has members (60,000 users
    # nationally), and the organisation of each comes in the same query
    query = select(User).options(joinedload(User.organisation)).order_by(User.id.desc())
    after = _after_arg()
    if after is not None:
        query = query.where(User.id < after)
    items = db_session().scalars(query.limit(PAGE + 1)).all()
    return render_template(
        "console/users.html",
        items=items[:PAGE],
        next_after=items[PAGE - 1].id if len(items) > PAGE else None,
        may_reset=passwords.may_reset,
        may_revoke=console_sessions.may_revoke,
        sessions=console_sessions.active_counts(db_session()),
    )


@bp.post("/users/<int:user_id>/reset")
@signed_in(*MANAGERS)
def reset_user(user_id: int):
    target = db_session().get(User, user_id)
    if target is None:
        abort(404)
    try:
        with atomic(db_session()) as s:
            row, secret = console_passwords.issue_reset(s, actor=me(), target=target)
        # The owner is back in: strangers' failed guesses no longer hold their account back
        rate_limits().clear(SIGN_IN_FAILURES_PER_ACCOUNT, account_key(target.email))
    except LedgerError as error:
        flash(messages.message(error), "error")
        return redirect(url_for("console.users"))
    link = url_for("console.reset_password", secret=secret, _external=True)
    return render_template("console/reset_issued.html", target=target, link=link, row=row)
