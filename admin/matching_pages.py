"""Console pages of the matching workflow: proposals on the company and business pages
(accept, or decline with a reason) and the managers' runs (start, review, publish).

The workflow is ``matching.services``'; these handlers only parse forms, call it and render.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from admin import forms, messages, reports
from admin.views import bp, form_error, home_for, me, signed_in
from api.auth import MANAGERS
from api.common import atomic
from ledger.errors import LedgerError
from matching import services as matching
from matching.errors import MatchingError
from matching.models import PRIORITY_TYPES
from matching.records import MatchRun
from placefund.app import db_session

MEMBERS = ("company_member", "business_member")


def _lang() -> str:
    return str(get_locale())


def org_proposals(org, decline_form=None, form_proposal: int | None = None) -> list[dict]:
    """The organisation's published (or answered) proposals as the signed-in user may see
    them, with their explanations and, for its own members, the answer forms."""
    user = me()
    own = not user.is_manager and user.organisation_id == org.id
    items = []
    for p in matching.visible_proposals(db_session(), user):
        if p.status not in ("published", "accepted", "declined"):
            continue
        if org.id not in (p.offer.company_id, p.request.business_id):
            continue
        side = "company" if org.id == p.offer.company_id else "business"
        answered = getattr(p, f"{side}_response")
        items.append(
            {
                "p": p,
                "side": side,
                "explanation": reports.explain(p, _lang(), user),
                "may_answer": own and p.status == "published" and answered is None,
                "decline_form": forms.unique_ids(
                    decline_form
                    if decline_form is not None and form_proposal == p.id
                    else forms.DeclineForm(formdata=None),
                    str(p.id),
                ),
            }
        )
    return items


def _answer(proposal_id: int, decision: str, form) -> None:
    with atomic() as s:
        matching.respond(
            s,
            actor=me(),
            proposal_id=proposal_id,
            decision=decision,
            reason=(form.reason.data or "").strip() if hasattr(form, "reason") else "",
        )


def _home_page(decline_form, proposal_id: int):
    from admin.views import _business_page, _company_page

    org = me().organisation
    if org.kind == "company":
        return _company_page(org, decline_form, proposal_id)
    return _business_page(org, decline_form=decline_form, decline_proposal=proposal_id)


@bp.post("/proposals/<int:proposal_id>/accept")
@signed_in(*MEMBERS)
def accept_proposal(proposal_id: int):
    matching.get_proposal(db_session(), me(), proposal_id)  # another's is a 404
    form = forms.ActionForm()
    try:
        _answer(proposal_id, "accept", form)
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(_("You accepted the proposal."), "info")
    return redirect(f"{home_for(me())}#proposal-{proposal_id}")


@bp.post("/proposals/<int:proposal_id>/decline")
@signed_in(*MEMBERS)
def decline_proposal(proposal_id: int):
    matching.get_proposal(db_session(), me(), proposal_id)
    form = forms.DeclineForm()
    if form.validate_on_submit():
        try:
            _answer(proposal_id, "decline", form)
        except LedgerError as error:
            form_error(form, error)
        else:
            flash(_("You declined the proposal."), "info")
            return redirect(f"{home_for(me())}#proposal-{proposal_id}")
    return _home_page(form, proposal_id), 422


# --- managers: runs ----------------------------------------------------------------------------


def _run_params(form: forms.MatchRunForm) -> dict:
    params: dict = {"k": form.k.data}
    share = (form.min_priority_share.data or "").strip()
    if share:
        params["min_priority_share"] = share
    if form.priority_weight.data is not None:
        params["priority_weights"] = {t: form.priority_weight.data for t in PRIORITY_TYPES}
    return params


@bp.route("/matching", methods=["GET", "POST"])
@signed_in(*MANAGERS)
def matching_runs():
    form = forms.MatchRunForm()
    if form.validate_on_submit():
        try:
            with atomic() as s:
                run = matching.start_run(s, actor=me(), params=_run_params(form))
        except LedgerError as error:
            for name in list(error.fields or {}):
                short = name.removeprefix("params.").split(".")[0]
                if short == "priority_weights":
                    short = "priority_weight"
                if short != name:
                    error.fields[short] = error.fields.pop(name)
            form_error(form, error)
        except MatchingError as error:
            db_session().rollback()
            flash(messages.message(error), "error")
        else:
            flash(_("Run %(id)s is ready for review.", id=run.id), "info")
            return redirect(url_for("console.matching_run", run_id=run.id))
    status = 422 if form.errors or form.is_submitted() else 200
    return render_template(
        "console/matching.html", form=form, runs=reports.match_runs(db_session())
    ), status


@bp.get("/matching/runs/<int:run_id>")
@signed_in(*MANAGERS)
def matching_run(run_id: int):
    s = db_session()
    run = s.get(MatchRun, run_id)
    if run is None:
        abort(404)
    proposals = [
        {"p": p, "explanation": reports.explain(p, _lang(), me())}
        for p in matching.visible_proposals(s, me(), run_id=run_id)
    ]
    return render_template("console/matching_run.html", run=run, proposals=proposals)


@bp.post("/matching/runs/<int:run_id>/publish")
@signed_in(*MANAGERS)
def publish_matching_run(run_id: int):
    try:
        with atomic() as s:
            matching.publish_run(s, actor=me(), run_id=run_id)
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(_("Published: both sides now see the proposals."), "info")
    return redirect(url_for("console.matching_run", run_id=run_id))
