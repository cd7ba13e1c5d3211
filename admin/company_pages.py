"""A company's own page: its pledges, payments by card, receipts and yearly statements."""

from __future__ import annotations

import json

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from admin import forms, job_progress, messages, reports
from admin.console import PAGE, _after_arg, bp, ledger_key, me, signed_in
from admin.donate import gateway
from admin.matching_pages import org_proposals
from admin.self_service import offers_of
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity.models import Organisation
from identity.roles import MANAGERS, visible
from jobs.kinds import statements as statement_jobs
from jobs.models import Job
from ledger import listings, statements
from ledger.fund import common
from ledger.fund.documents import receipt_pdf
from ledger.fund.models import Donation, Pledge
from ledger.fund.overdue import overdue_instalments
from ledger.fund.receipts import receipt_numbers
from ledger.payments import card_payments
from ledger.payments.stripe_gateway import StripeNotConfigured
from web.request import db_session, job_queue


def _company_page(org: Organisation):
    """The company's page: pledges, payments with receipts, statements, matching.

    Payments are listed a page at a time, newest first (``?after=`` for older ones): a
    national donor has thousands, and each listed one is given its receipt number here.
    The yearly statements cover every year the company gave in, not just this page's.
    """
    s = db_session()
    listed = listings.list_donations(
        s, company_id=org.id, limit=PAGE, after=_after_arg(), entries=False
    )
    donations = listed.items
    with atomic(db_session()) as tx:  # listed payments get their receipt numbers, once
        numbers = receipt_numbers(tx, [d.id for d in donations])
    overdue: dict[int, list] = {}
    for item in overdue_instalments(s, common.today(), company_id=org.id):
        overdue.setdefault(item.pledge.id, []).append(item)
    return render_template(
        "console/company.html",
        org=org,
        overdue=overdue,
        pledges=reports.pledge_status(s, company_id=org.id),
        donations=donations,
        donations_after=listed.next_after,
        receipt_number=lambda d: numbers[d.id],
        years=statements.donation_years(s, org.id),
        proposals=org_proposals(org),
        partnerships=reports.org_partnerships(s, me(), org),
        offers=offers_of(org),
        pay_form=forms.MoneyForm(),
    )


@bp.get("/company")
@signed_in("company_member")
def my_company():
    return _company_page(me().organisation)


@bp.post("/pledges/<int:pledge_id>/card-payment")
@signed_in("company_member")
def pay_by_card(pledge_id: int):
    """Open a Stripe payment for the next instalment, then go to the donation page.

    The same domain operation as ``POST /api/v1/pledges/{id}/card-payments``; the form's
    key makes a double click reuse the same PaymentIntent.
    """
    s = db_session()
    pledge = s.get(Pledge, pledge_id)
    visible(me(), pledge.company_id if pledge else None, "Pledge", pledge_id)
    if pledge is None:
        abort(404)
    form = forms.MoneyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        payment, pi = card_payments.open_card_payment(
            db_session(),
            gateway(),
            pledge_id=pledge_id,
            request_key=ledger_key(form),
            actor=me(),
        )
    except StripeNotConfigured:
        flash(_("Card payments are not available yet; please pay by bank transfer to your "
                "virtual account."), "error")  # fmt: skip
        return redirect(url_for("console.my_company"))
    except LedgerError as error:
        flash(messages.message(error), "error")
        return redirect(url_for("console.my_company"))
    # The client secret travels in the fragment: browsers never send it to any server.
    lang = "en" if str(get_locale()).startswith("en") else None
    page = url_for("donate.pay", card_payment_id=payment.id, lang=lang)
    return redirect(f"{page}#{pi['client_secret']}")


@bp.get("/donations/<int:donation_id>/receipt.pdf")
@signed_in("company_member", *MANAGERS)
def receipt(donation_id: int):
    s = db_session()
    donation = s.get(Donation, donation_id)
    visible(me(), donation.company_id if donation else None, "Donation", donation_id)
    if donation is None:
        abort(404)
    company = s.get(Organisation, donation.company_id) if donation.company_id else None
    with atomic(db_session()) as tx:
        number = receipt_numbers(tx, [donation.id])[donation.id]
    settings = current_app.config["SETTINGS"]
    pdf = receipt_pdf(
        donation=donation,
        company=company,
        number=number,
        issuer=settings.receipt_issuer,
        fund_name=settings.fund_name,
        issued_on=common.today(),
        session=s,
    )
    return _pdf_response(pdf, f"{number}.pdf")


def _statement_company(org_id: int, year: int) -> Organisation:
    """The company whose statement is asked for, when the reader may see it (else 403/404)."""
    org = db_session().get(Organisation, org_id)
    visible(me(), org.id if org else None, "Organisation", org_id)
    if org is None or org.kind != "company" or not 2000 <= year <= 2200:
        abort(404)
    return org


@bp.get("/organisations/<int:org_id>/statement-<int:year>.pdf")
@signed_in("company_member", *MANAGERS)
def yearly_statement(org_id: int, year: int):
    org = _statement_company(org_id, year)
    settings = current_app.config["SETTINGS"]
    # What the statement says today, read only (None: a payment has no receipt number yet,
    # so nothing kept can be current; the job numbers them)
    s = db_session()
    prepared = statements.prepare(s, org, year, settings, give_numbers=False)
    # The kept PDF while it still says the same (made by the yearly-statements job or by
    # an earlier download's job)
    pdf = statements.current(s, org.id, year, prepared.inputs) if prepared else None
    if pdf is not None:
        return _pdf_response(pdf, f"statement-{org.ubn or org.id}-{year}.pdf")
    # Else never rendered here: a large company's takes seconds. One job per company and
    # year makes and keeps it (a second click finds the same job); the page follows it.
    with atomic(db_session()) as tx:
        job, _created = statement_jobs.submit_company(
            tx, company_id=org.id, year=year, actor_id=me().id
        )
    job_queue().enqueue_quietly(job.id)
    return redirect(url_for("console.statement_job", org_id=org.id, year=year, job_id=job.id), 303)


def _statement_job(org_id: int, year: int, job_id: int) -> tuple[Organisation, Job]:
    """The company and its statement job of ``year``, when the reader may see the company
    (its own member, or a manager): any other job, another company's or year's included, is
    a 404, so a company never learns of another's jobs."""
    org = _statement_company(org_id, year)
    job = db_session().get(Job, job_id) if job_id < 2**63 else None
    params = json.loads(job.params or "{}") if job is not None else {}
    if (
        job is None
        or job.kind != statement_jobs.COMPANY_KIND
        or params.get("company_id") != org.id
        or params.get("year") != year
    ):
        abort(404)
    return org, job


@bp.get("/organisations/<int:org_id>/statement-<int:year>/jobs/<int:job_id>")
@signed_in("company_member", *MANAGERS)
def statement_job(org_id: int, year: int, job_id: int):
    """ "Your statement is being prepared": follows the job, then downloads the PDF."""
    org, job = _statement_job(org_id, year, job_id)
    return render_template(
        "console/statement_job.html",
        org=org,
        year=year,
        st=job_progress.describe(job),
        pdf_url=url_for("console.yearly_statement", org_id=org.id, year=year),
        status_url=url_for("console.statement_job_status", org_id=org.id, year=year, job_id=job.id),
    )


@bp.get("/organisations/<int:org_id>/statement-<int:year>/jobs/<int:job_id>/status")
@signed_in("company_member", *MANAGERS)
def statement_job_status(org_id: int, year: int, job_id: int):
    """The statement job's progress as JSON (polled by static/job-progress.js): the jobs
    page's ``/console/jobs/<id>/status`` is managers' only, this is the company's way to its
    own statement job, under the page's own rule."""
    _org, job = _statement_job(org_id, year, job_id)
    return jsonify(job_progress.status(job))


def _pdf_response(pdf: bytes, filename: str):
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
