"""Disbursements in the console: proposed by one manager, approved by another institution's,
paid or voided."""

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

from admin import forms, messages
from admin.console import PAGE, _after_arg, bp, form_error, ledger_key, me, signed_in
from admin.filters import purpose
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity.models import Organisation, User
from identity.roles import MANAGERS
from ledger import listings
from ledger.fund import disbursements as fund_disbursements
from ledger.fund import figures
from ledger.fund.models import Disbursement
from ledger.money import parse_amount
from web.request import db_session


class _Users:
    """Users by id for the templates (``users[id]``, ``id in users``), each read when a page
    names it (the session's identity map keeps it): the pages name a handful of managers,
    where reading every user costs 2 s once each company and business has its members."""

    def __init__(self, session):
        self.session = session

    def __getitem__(self, user_id: int) -> User:
        user = self.session.get(User, user_id) if user_id is not None else None
        if user is None:
            raise KeyError(user_id)
        return user

    def __contains__(self, user_id) -> bool:
        return user_id is not None and self.session.get(User, user_id) is not None


def _user_names() -> _Users:
    return _Users(db_session())


def _funding_choices(by_source) -> list[tuple[str, str]]:
    # Purposes that received money: pledged-only purposes have nothing to commit
    sources = [src for src in by_source if src is not None]
    choices = [("", purpose(None))]
    choices += [(code, purpose(code)) for code in sorted(sources)]
    return choices


@bp.get("/disbursements")
@signed_in(*MANAGERS)
def disbursements():
    status = request.args.get("status") or None
    if status not in (None, "reserved", "paid", "voided"):
        status = None
    result = listings.list_disbursements(
        db_session(), status=status, limit=PAGE, after=_after_arg()
    )
    return render_template(
        "console/disbursements.html",
        items=result.items,
        status=status or "",
        next_after=result.next_after,
        users=_user_names(),
    )


@bp.route("/disbursements/new", methods=["GET", "POST"])
@signed_in(*MANAGERS)
def propose():
    s = db_session()
    form = forms.ProposeForm()
    projects = listings.list_projects(s, limit=500).items
    # Their businesses in one query, kept here: the session's identity map holds objects
    # weakly, so a result thrown away is collected and each p.business would then load
    # again, one query per project (500 of them)
    businesses = {
        org.id: org
        for org in s.scalars(
            select(Organisation).where(Organisation.id.in_({p.business_id for p in projects}))
        )
    }
    form.project_id.choices = forms.choices(
        (p.id, f"{p.name} ({businesses[p.business_id].name})") for p in projects
    )
    # Read once: summing every donation per funding source is this page's costliest query,
    # and both the funding choices and the table of sources come from it
    by_source = figures.sources(s, "TWD")
    form.funding.choices = forms.choices(_funding_choices(by_source))
    if form.validate_on_submit():
        try:
            amount = parse_amount(form.amount.data, "TWD")
            with atomic(db_session()) as tx:
                d = fund_disbursements.propose_disbursement(
                    tx,
                    key=ledger_key(form),
                    actor=me(),
                    kind=form.kind.data,
                    project_id=form.project_id.data,
                    amount=amount,
                    funding=form.funding.data or None,
                    purpose=form.purpose.data.strip(),
                )
        except LedgerError as error:
            form_error(form, error)
        else:
            flash(_("Disbursement %(id)s proposed; it needs a second approval.", id=d.id), "info")
            return redirect(url_for("console.disbursement", disbursement_id=d.id))
    return render_template("console/propose.html", form=form, sources=by_source.values())


def _disbursement(disbursement_id: int) -> Disbursement:
    d = db_session().get(Disbursement, disbursement_id)
    if d is None:
        abort(404)
    return d


@bp.get("/disbursements/<int:disbursement_id>")
@signed_in(*MANAGERS)
def disbursement(disbursement_id: int):
    d = _disbursement(disbursement_id)
    return _disbursement_page(d, forms.PayForm(formdata=None), forms.VoidForm(formdata=None))


def _disbursement_page(d, pay_form, void_form, status: int = 200):
    user = me()
    institutions = {a.institution for a in d.approvals}
    # Offered only while an approval is missing: a third institution's would change nothing
    may_approve = (
        d.status == "reserved"
        and not fund_disbursements.approved(d)
        and user.institution not in institutions
        and all(a.user_id != user.id for a in d.approvals)
    )
    return (
        render_template(
            "console/disbursement.html",
            d=d,
            users=_user_names(),
            approved=fund_disbursements.approved(d),
            may_approve=may_approve,
            pay_form=pay_form,
            void_form=void_form,
        ),
        status,
    )


@bp.post("/disbursements/<int:disbursement_id>/approve")
@signed_in(*MANAGERS)
def approve(disbursement_id: int):
    _disbursement(disbursement_id)
    try:
        with atomic(db_session()) as s:
            fund_disbursements.approve_disbursement(s, disbursement_id=disbursement_id, actor=me())
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(_("Approved."), "info")
    return redirect(url_for("console.disbursement", disbursement_id=disbursement_id))


@bp.post("/disbursements/<int:disbursement_id>/pay")
@signed_in(*MANAGERS)
def pay(disbursement_id: int):
    d = _disbursement(disbursement_id)
    form = forms.PayForm()
    if form.validate_on_submit():
        try:
            with atomic(db_session()) as s:
                fund_disbursements.pay_disbursement(
                    s,
                    key=ledger_key(form),
                    disbursement_id=disbursement_id,
                    actor=me(),
                    paid_on=form.paid_on.data,
                )
        except LedgerError as error:
            form_error(form, error)
        else:
            flash(_("Paid."), "info")
            return redirect(url_for("console.disbursement", disbursement_id=disbursement_id))
    return _disbursement_page(d, form, forms.VoidForm(formdata=None), 422)


@bp.post("/disbursements/<int:disbursement_id>/void")
@signed_in(*MANAGERS)
def void(disbursement_id: int):
    d = _disbursement(disbursement_id)
    form = forms.VoidForm()
    if form.validate_on_submit():
        try:
            with atomic(db_session()) as s:
                fund_disbursements.void_disbursement(
                    s,
                    key=ledger_key(form),
                    disbursement_id=disbursement_id,
                    actor=me(),
                    reason=form.reason.data.strip(),
                )
        except LedgerError as error:
            form_error(form, error)
        else:
            flash(_("Voided; the reservation is reversed."), "info")
            return redirect(url_for("console.disbursement", disbursement_id=disbursement_id))
    return _disbursement_page(d, forms.PayForm(formdata=None), form, 422)
