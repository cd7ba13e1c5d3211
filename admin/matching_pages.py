"""Console pages of the matching workflow: proposals on the company and business pages
(accept, or decline with a reason, each after a confirmation step) and the managers' runs
(start, review, publish).

The workflow is ``matching.services``'; these handlers only parse forms, call it and render.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from admin import forms, job_progress, messages, reports
from admin import self_service_forms as sforms
from admin.console import PAGE, _after_arg, bp, form_error, home_for, me, signed_in
from foundation.errors import InvalidState, LedgerError
from foundation.transactions import atomic
from identity.roles import MANAGERS, MEMBERS
from jobs import records
from jobs.kinds import matching as match_jobs
from jobs.models import Job
from matching import services as matching
from matching.models import MatchRun
from matching.problem import PRIORITY_TYPES
from web.request import db_session, job_queue


def _lang() -> str:
    return str(get_locale())


def org_proposals(org) -> list[dict]:
    """The organisation's published (or answered) proposals as the signed-in user may see
    them, with their stage and explanations; ``may_answer`` for its own members."""
    user = me()
    own = not user.is_manager and user.organisation_id == org.id
    items = []
    # The newest page of them: a company in a national run can have thousands
    for p in matching.visible_proposals(db_session(), user, organisation_id=org.id, limit=PAGE):
        side = "company" if org.id == p.offer.company_id else "business"
        items.append(
            {
                "p": p,
                "side": side,
                "stage": matching.proposal_stage(p),
                "explanation": reports.explain(p, _lang(), user),
                "may_answer": own and _may_answer(p, side),
            }
        )
    return items


def _may_answer(proposal, side: str) -> bool:
    return proposal.status == "published" and getattr(proposal, f"{side}_response") is None


def _answer(proposal_id: int, decision: str, reason: str = "") -> None:
    with atomic(db_session()) as s:
        matching.respond(s, actor=me(), proposal_id=proposal_id, decision=decision, reason=reason)


def _my_side(proposal) -> str:
    return "company" if me().organisation_id == proposal.offer.company_id else "business"


def _confirm_page(proposal, decision: str, form, status: int = 200):
    """The confirmation step before an answer: what the proposal is, what the answer does.

    Nothing is answered until this page's own form is sent, so a stray click or a form
    posted from elsewhere only lands here (no script needed)."""
    side = _my_side(proposal)
    if not _may_answer(proposal, side):
        flash(
            messages.message(
                InvalidState(
                    f"This proposal is {proposal.status}; it can no longer be answered.",
                    reason="proposal_answered",
                    params={"status": proposal.status},
                )
            )
            if proposal.status != "published"
            else _("You have already answered this proposal."),
            "error",
        )
        return redirect(f"{home_for(me())}#proposal-{proposal.id}")
    return render_template(
        "console/proposal_answer.html",
        item={
            "p": proposal,
            "side": side,
            "stage": matching.proposal_stage(proposal),
            "explanation": reports.explain(proposal, _lang(), me()),
        },
        decision=decision,
        form=form,
    ), status


@bp.route("/proposals/<int:proposal_id>/accept", methods=["GET", "POST"])
@signed_in(*MEMBERS)
def accept_proposal(proposal_id: int):
    proposal = matching.get_proposal(db_session(), me(), proposal_id)  # another's is a 404
    form = sforms.ConfirmAnswerForm()
    # A side answers once here: a confirmation sent from a tab opened before its other
    # answer (a decline after an acceptance ends the pair for good) only says so
    answered = not _may_answer(proposal, _my_side(proposal))
    if answered or not (form.validate_on_submit() and form.confirmed.data == "yes"):
        return _confirm_page(proposal, "accept", sforms.ConfirmAnswerForm(formdata=None))
    try:
        _answer(proposal_id, "accept")
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(_("You accepted the proposal."), "info")
    return redirect(f"{home_for(me())}#proposal-{proposal_id}")


@bp.route("/proposals/<int:proposal_id>/decline", methods=["GET", "POST"])
@signed_in(*MEMBERS)
def decline_proposal(proposal_id: int):
    proposal = matching.get_proposal(db_session(), me(), proposal_id)
    form = forms.unique_ids(sforms.ConfirmDeclineForm(), str(proposal_id))
    answered = not _may_answer(proposal, _my_side(proposal))
    if answered or not form.is_submitted() or form.confirmed.data != "yes":
        fresh = sforms.ConfirmDeclineForm(formdata=None)
        return _confirm_page(proposal, "decline", forms.unique_ids(fresh, str(proposal_id)))
    if form.validate():
        try:
            _answer(proposal_id, "decline", form.reason.data.strip())
        except LedgerError as error:
            form_error(form, error)
        else:
            flash(_("You declined the proposal."), "info")
            return redirect(f"{home_for(me())}#proposal-{proposal_id}")
    return _confirm_page(proposal, "decline", form, 422)


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
    """Start a run: queued as a background job (a national run takes minutes), followed on
    its own page until the run is ready for review."""
    form = forms.MatchRunForm()
    if form.validate_on_submit():
        try:
            with atomic(db_session()) as s:
                job, _created = match_jobs.submit(s, actor_id=me().id, params=_run_params(form))
        except LedgerError as error:
            for name in list(error.fields or {}):
                short = name.removeprefix("params.").split(".")[0]
                if short == "priority_weights":
                    short = "priority_weight"
                if short != name:
                    error.fields[short] = error.fields.pop(name)
            form_error(form, error)
        else:
            job_queue().enqueue_quietly(job.id)
            return redirect(url_for("console.matching_job", job_id=job.id), 303)
    status = 422 if form.errors or form.is_submitted() else 200
    s = db_session()
    preparing = s.scalars(
        select(Job)
        .where(Job.kind == match_jobs.KIND, Job.status.in_(("queued", "running")))
        .order_by(Job.id.desc())
    ).all()
    return render_template(
        "console/matching.html",
        form=form,
        runs=reports.match_runs(s),
        preparing=[job_progress.describe(j) for j in preparing],
    ), status


def _match_job(job_id: int) -> Job:
    job = db_session().get(Job, job_id)
    if job is None or job.kind != match_jobs.KIND:
        abort(404)
    return job


@bp.get("/matching/jobs/<int:job_id>")
@signed_in(*MANAGERS)
def matching_job(job_id: int):
    """A run being solved: its progress, refreshed every few seconds; the run once ready."""
    st = job_progress.describe(_match_job(job_id))
    run_id = st["result"].get("match_run_id")
    if run_id:
        flash(_("Run %(id)s is ready for review.", id=run_id), "info")
        return redirect(url_for("console.matching_run", run_id=run_id))
    return render_template("console/matching_job.html", st=st, action_form=forms.ActionForm())


@bp.post("/matching/jobs/<int:job_id>/cancel")
@signed_in(*MANAGERS)
def cancel_matching_job(job_id: int):
    form = forms.ActionForm()
    if not form.validate_on_submit():
        abort(400)
    _match_job(job_id)
    try:
        with atomic(db_session()) as s:
            records.cancel(s, job_id)
    except LedgerError as error:
        flash(messages.message(error), "error")
    return redirect(url_for("console.matching_job", job_id=job_id), 303)


@bp.get("/matching/runs/<int:run_id>")
@signed_in(*MANAGERS)
def matching_run(run_id: int):
    s = db_session()
    run = s.get(MatchRun, run_id)
    if run is None:
        abort(404)
    # A keyset page, newest first: a national run holds 100,000 proposals
    page = matching.visible_proposals(s, me(), run_id=run_id, limit=PAGE + 1, after=_after_arg())
    proposals = [{"p": p, "explanation": reports.explain(p, _lang(), me())} for p in page[:PAGE]]
    next_after = page[PAGE - 1].id if len(page) > PAGE else None
    return render_template(
        "console/matching_run.html", run=run, proposals=proposals, next_after=next_after
    )


@bp.post("/matching/runs/<int:run_id>/publish")
@signed_in(*MANAGERS)
def publish_matching_run(run_id: int):
    try:
        with atomic(db_session()) as s:
            matching.publish_run(s, actor=me(), run_id=run_id)
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(_("Published: both sides now see the proposals."), "info")
    return redirect(url_for("console.matching_run", run_id=run_id))
