"""Console pages under /console: sign-in, dashboard, ledger, disbursements, organisations,
receipts, and the company and business pages.

Handlers run in a fixed order: parse the form, check access (the API's rules: members see
only their own organisation, anything else is a 404), call one ledger service or query,
render. Money is never computed here.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as web_session
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from admin import accounts, charts, console_sessions, forms, labels, messages, reports
from admin.donate import gateway
from admin.receipts import receipt_pdf, statement_pdf
from foundation.transactions import atomic
from identity import passwords
from identity.models import Organisation, User
from identity.organisations import verify_organisation
from identity.roles import MANAGERS, is_manager, visible
from ledger import books, chain, figures, payments, queries, services
from ledger.errors import FieldMessage, LedgerError
from ledger.models import Disbursement, Donation, Entry, Pledge
from ledger.money import parse_amount
from ledger.overdue import overdue_instalments, overdue_summary
from ledger.receipts import receipt_numbers
from ledger.stripe_gateway import StripeNotConfigured
from placefund.app import STATELESS_PREFIXES, db_session
from placefund.rate_limits import (
    RESET_ATTEMPTS,
    SIGN_IN_FAILURES_PER_ACCOUNT,
    account_key,
    rate_limits,
)

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: Styles, images and scripts from the app only (no inline script, no CDN); scripts may
#: only call back to the app (the import progress page polls its status)
CONSOLE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE = 50


# --- the signed-in user ----------------------------------------------------------------------


@bp.before_app_request
def _load_user():
    """The console user of the request's server-side session (admin/console_sessions.py): a
    session that was signed out, revoked, ended by a password change or expired is gone."""
    g.console_user = None
    g.console_session = None
    secret = web_session.get("sid")
    if secret is None or request.path.startswith(STATELESS_PREFIXES):
        return
    s = db_session()
    row = console_sessions.find_active(s, secret) if isinstance(secret, str) else None
    if row is None:
        web_session.pop("sid", None)
        return
    if s.dirty:
        s.commit()  # last seen (at most once a minute)
    g.console_session = row
    g.console_user = row.user
    g.user = row.user  # the access log records who asked


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    if not request.path.startswith("/console/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.app_context_processor
def _context():
    return {
        "lang": str(get_locale()),
        "me": g.get("console_user"),
        "fund_name": labels.fund_name(),
        "language_form": forms.LanguageForm(formdata=None),
        "action_form": forms.ActionForm(formdata=None),
        # The card donation pages are another module's; link to them once they exist
        "has_donate": "/donate" in {r.rule.rstrip("/") for r in current_app.url_map.iter_rules()},
    }


def me() -> User:
    return g.console_user


def signed_in(*roles: str):
    """The page needs a signed-in user, with one of ``roles`` when given (else a 403 page)."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            user = g.get("console_user")
            if user is None:
                return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
            if roles and user.role not in roles:
                abort(403)
            return func(*args, **kwargs)

        return wrapper

    return decorator


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: never another host (open redirect).

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so
    ``/\t/evil.example`` or ``/\\evil.example`` would leave the site: anything holding a
    control character or a backslash is refused, as is anything with a scheme or a host.
    """
    if not target or len(target) > 2000:
        return default
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def home_for(user: User) -> str:
    if is_manager(user):
        return url_for("console.dashboard")
    if user.role == "company_member":
        return url_for("console.my_company")
    return url_for("console.my_business")


def ledger_key(form: forms.MoneyForm) -> str:
    """The form's idempotency key, namespaced like the API's by the user's organisation."""
    return f"console:{me().organisation_id}:{form.key.data}"


def form_error(form, error: LedgerError, aliases: dict[str, str] | None = None) -> None:
    """A domain error in the reader's language, said once: about one field, next to that
    field (the fuller of the two messages); about several, on top of the form with each
    field's own message beside it. ``aliases`` maps a service's field name to the form's."""
    placed = []
    for name, texts in messages.field_errors(error).items():
        field = getattr(form, (aliases or {}).get(name, name), None)
        # A hidden field shows no errors: its message goes on top of the form
        if hasattr(field, "errors") and field.type not in ("HiddenField", "CSRFTokenField"):
            placed.append((field, texts))
    if len(placed) == 1 and len(placed[0][1]) == 1:
        field, texts = placed[0]
        text = messages.message(error) if messages.is_particular(error) else texts[0]
        field.errors = [*list(field.errors or []), text]
        return
    for field, texts in placed:
        field.errors = [*list(field.errors or []), *texts]
    flash(messages.message(error), "error")


# --- password reset links (signing in and out: admin/sign_in_pages.py) -----------------------


@bp.route("/reset/<secret>", methods=["GET", "POST"])
def reset_password(secret: str):
    """A user sets a new password through the one-time link a manager gave them."""
    if len(secret) > 100:
        abort(404)
    row = passwords.find_reset(db_session(), secret)
    form = forms.NewPasswordForm()
    if form.is_submitted():
        refused = rate_limits().hit(RESET_ATTEMPTS, request.remote_addr or "?")
        if refused is not None:
            abort(429)
    if form.validate_on_submit():
        try:
            with atomic(db_session()) as s:
                accounts.use_reset(s, secret, form.password.data)
        except LedgerError as error:
            form_error(form, error)
        else:
            web_session.pop("sid", None)
            flash(_("Your password is set. Please sign in."), "info")
            return redirect(url_for("console.sign_in"))
    return render_template("console/reset.html", form=form, user=row.user)


@bp.get("/")
@signed_in()
def index():
    return redirect(home_for(me()))


# --- manager dashboard ---------------------------------------------------------------------------


@bp.get("/dashboard")
@signed_in(*MANAGERS)
def dashboard():
    s = db_session()
    flows = reports.monthly_flows(s, end=services.today())
    chart = charts.flow_chart(flows, in_label=_("Inflows"), out_label=_("Outflows"))
    pledges, pledge_totals = reports.pledges_outstanding(s)
    agreements = reports.agreements_due(s)
    pending = queries.list_disbursements(s, status="reserved", limit=PAGE).items
    return render_template(
        "console/dashboard.html",
        figures=figures.fund_figures(s),
        overdue=overdue_summary(overdue_instalments(s, services.today())),
        flows=flows,
        chart=chart,
        by_donor_county=reports.donations_by_donor_county(s),
        pledges=pledges,
        pledge_totals=pledge_totals,
        agreements=agreements,
        pending=pending,
    )


# --- ledger ----------------------------------------------------------------------------------


def _date_arg(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        flash(_("Dates are written like 2026-11-26."), "error")
        return None


def _after_arg() -> int | None:
    raw = request.args.get("after", "")
    return int(raw) if raw.isdigit() and len(raw) < 18 else None


@bp.get("/ledger/accounts")
@signed_in(*MANAGERS)
def accounts_list():
    prefix = request.args.get("prefix", "").strip()[:160] or None
    result = queries.list_accounts(db_session(), prefix=prefix, limit=200, after=_after_arg())
    items = sorted(result.items, key=lambda a: a.code)
    return render_template(
        "console/accounts.html", accounts=items, prefix=prefix or "", next_after=result.next_after
    )


@bp.get("/ledger/accounts/<path:code>")
@signed_in(*MANAGERS)
def account_statement(code: str):
    start, end = _date_arg("from"), _date_arg("to")
    st = books.statement(db_session(), code, start, end)
    return render_template("console/statement.html", st=st)


@bp.get("/ledger/entries")
@signed_in(*MANAGERS)
def entries():
    kind = request.args.get("kind", "").strip()[:40] or None
    result = queries.list_entries(db_session(), kind=kind, limit=PAGE, after=_after_arg())
    return render_template(
        "console/entries.html",
        entries=result.items,
        kind=kind or "",
        next_after=result.next_after,
        entry_kinds=labels.ENTRY_KINDS,
    )


@bp.get("/ledger/entries/<bigid:entry_id>")
@signed_in(*MANAGERS)
def entry(entry_id: int):
    e = db_session().get(Entry, entry_id)
    if e is None:
        abort(404)
    return render_template("console/entry.html", entry=e)


@bp.get("/ledger/trial-balance")
@signed_in(*MANAGERS)
def trial_balance():
    tb = books.trial_balance(db_session(), _date_arg("as_of"))
    return render_template("console/trial_balance.html", tb=tb)


@bp.route("/ledger/chain", methods=["GET", "POST"])
@signed_in(*MANAGERS)
def chain_page():
    report = None
    if request.method == "POST":
        action = request.form.get("action")
        if action == "seal":
            with atomic(db_session()) as s:
                sealed = chain.seal_pending(s)
            flash(_("%(n)s entries sealed into the chain.", n=sealed), "info")
            return redirect(url_for("console.chain_page"))
        report = chain.verify(db_session())
    seq, head, sealed_at = chain.chain_head(db_session())
    return render_template(
        "console/chain.html", report=report, seq=seq, head=head, sealed_at=sealed_at
    )


_ASSERTION = re.compile(r"^\s*([a-z0-9_:A-Z]+)\s*=\s*(.+?)\s*$")


@bp.route("/ledger/periods", methods=["GET", "POST"])
@signed_in(*MANAGERS)
def periods():
    form = forms.ClosePeriodForm()
    assertable = _assertable_accounts()
    if form.validate_on_submit():
        try:
            assertions = {}
            # One input per bank and Stripe account (named, never by code); the text
            # field of "code = amount" lines still works for those who type it
            for account in assertable:
                raw = request.form.get(f"balance-{account.code}", "").strip()
                if raw:
                    try:
                        assertions[account.code] = parse_amount(raw, account.currency)
                    except LedgerError as error:
                        name = labels.account_name(account.code)
                        text = f"{name}: {messages.message(error)}"
                        error.fields = {"assertions": [FieldMessage(text, messages.SHOWN)]}
                        raise
            for n, line in enumerate((form.assertions.data or "").splitlines(), 1):
                if not line.strip():
                    continue
                match = _ASSERTION.match(line)
                if not match:
                    raise LedgerError(
                        f"Line {n} is not 'account code = amount'.",
                        fields={"assertions": [FieldMessage(f"line {n}", "line", n=n)]},
                        reason="not_an_assertion",
                        params={"n": n},
                    )
                account = books.get_account(db_session(), match[1])
                assertions[match[1]] = parse_amount(match[2], account.currency)
            with atomic(db_session()) as s:
                period = books.close_period(
                    s, actor=me(), end_date=form.end_date.data, assertions=assertions
                )
            flash(_("The books are closed through %(d)s.", d=period.end_date.isoformat()), "info")
            return redirect(url_for("console.periods"))
        except LedgerError as error:
            db_session().rollback()
            form_error(form, error)
    users = _user_names()
    return render_template(
        "console/periods.html",
        form=form,
        periods=queries.list_periods(db_session()),
        users=users,
        assertable=assertable,
    )


def _assertable_accounts():
    """The accounts a statement confirms at a close: the bank's and Stripe's balances."""
    s = db_session()
    found = []
    for prefix in ("assets:bank:", "assets:stripe:clearing:"):
        found += queries.list_accounts(s, prefix=prefix, limit=50).items
    return sorted(found, key=lambda a: a.code)


# --- disbursements ---------------------------------------------------------------------------


def _user_names() -> dict[int, User]:
    return {u.id: u for u in db_session().scalars(select(User))}


def _funding_choices(s) -> list[tuple[str, str]]:
    from admin.filters import purpose

    # Purposes that received money: pledged-only purposes have nothing to commit
    sources = [src for src in figures.sources(s, "TWD") if src is not None]
    choices = [("", purpose(None))]
    choices += [(code, purpose(code)) for code in sorted(sources)]
    return choices


@bp.get("/disbursements")
@signed_in(*MANAGERS)
def disbursements():
    status = request.args.get("status") or None
    if status not in (None, "reserved", "paid", "voided"):
        status = None
    result = queries.list_disbursements(db_session(), status=status, limit=PAGE, after=_after_arg())
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
    projects = queries.list_projects(s, limit=500).items
    form.project_id.choices = forms.choices(
        (p.id, f"{p.name} ({p.business.name})") for p in projects
    )
    form.funding.choices = forms.choices(_funding_choices(s))
    if form.validate_on_submit():
        try:
            amount = parse_amount(form.amount.data, "TWD")
            with atomic(db_session()) as tx:
                d = services.propose_disbursement(
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
    return render_template("console/propose.html", form=form, sources=figures.sources(s).values())


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
    may_approve = (
        d.status == "reserved"
        and user.institution not in institutions
        and all(a.user_id != user.id for a in d.approvals)
    )
    return (
        render_template(
            "console/disbursement.html",
            d=d,
            users=_user_names(),
            approved=services.approved(d),
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
            services.approve_disbursement(s, disbursement_id=disbursement_id, actor=me())
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
                services.pay_disbursement(
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
                services.void_disbursement(
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


# --- organisations and users -------------------------------------------------------------------


@bp.get("/organisations")
@signed_in(*MANAGERS)
def organisations():
    kind = request.args.get("kind") or None
    if kind not in (None, "company", "business", "institution"):
        kind = None
    verified = {"yes": True, "no": False}.get(request.args.get("verified", ""))
    result = queries.list_organisations(
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
    items = db_session().scalars(select(User).order_by(User.organisation_id, User.id)).all()
    return render_template(
        "console/users.html",
        items=items,
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
            row, secret = accounts.issue_reset(s, actor=me(), target=target)
        # The owner is back in: strangers' failed guesses no longer hold their account back
        rate_limits().clear(SIGN_IN_FAILURES_PER_ACCOUNT, account_key(target.email))
    except LedgerError as error:
        flash(messages.message(error), "error")
        return redirect(url_for("console.users"))
    link = url_for("console.reset_password", secret=secret, _external=True)
    return render_template("console/reset_issued.html", target=target, link=link, row=row)


# --- company pages -------------------------------------------------------------------------------


def _company_page(org: Organisation):
    from admin.matching_pages import org_proposals
    from admin.self_service import offers_of

    s = db_session()
    donations = queries.list_donations(s, company_id=org.id, limit=200).items
    with atomic(db_session()) as tx:  # listed payments get their receipt numbers, once
        numbers = receipt_numbers(tx, [d.id for d in donations])
    years = sorted({d.received_on.year for d in donations}, reverse=True)
    overdue: dict[int, list] = {}
    for item in overdue_instalments(s, services.today(), company_id=org.id):
        overdue.setdefault(item.pledge.id, []).append(item)
    return render_template(
        "console/company.html",
        org=org,
        overdue=overdue,
        pledges=reports.pledge_status(s, company_id=org.id),
        donations=donations,
        receipt_number=lambda d: numbers[d.id],
        years=years,
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
        payment, pi = payments.open_card_payment(
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
        issued_on=services.today(),
    )
    return _pdf_response(pdf, f"{number}.pdf")


@bp.get("/organisations/<int:org_id>/statement-<int:year>.pdf")
@signed_in("company_member", *MANAGERS)
def yearly_statement(org_id: int, year: int):
    s = db_session()
    org = s.get(Organisation, org_id)
    visible(me(), org.id if org else None, "Organisation", org_id)
    if org is None or org.kind != "company" or not 2000 <= year <= 2200:
        abort(404)
    st = queries.donor_statement(s, org, dt.date(year, 1, 1), dt.date(year, 12, 31))
    with atomic(db_session()) as tx:
        numbers = receipt_numbers(tx, [d.id for d in st.donations])
    settings = current_app.config["SETTINGS"]
    pdf = statement_pdf(
        statement=st,
        numbers=numbers,
        issuer=settings.receipt_issuer,
        fund_name=settings.fund_name,
        issued_on=services.today(),
    )
    return _pdf_response(pdf, f"statement-{org.ubn or org.id}-{year}.pdf")


def _pdf_response(pdf: bytes, filename: str):
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- business pages ------------------------------------------------------------------------------


def _business_page(
    org: Organisation,
    revenue_form=None,
    form_agreement: int | None = None,
):
    from admin.matching_pages import org_proposals
    from admin.self_service import requests_of

    s = db_session()
    agreements = reports.agreements_due(s, business_id=org.id)
    revenue = {
        a.agreement.id: queries.list_revenue_reports(s, a.agreement.id, limit=100).items
        for a in agreements
    }
    returns = {
        a.agreement.id: queries.list_revenue_returns(s, a.agreement.id, limit=100).items
        for a in agreements
    }
    forms_by_agreement = {
        a.agreement.id: (
            revenue_form
            if revenue_form is not None and form_agreement == a.agreement.id
            else forms.RevenueForm(formdata=None)
        )
        for a in agreements
    }
    return render_template(
        "console/business.html",
        org=org,
        projects=queries.list_projects(s, business_id=org.id, limit=100).items,
        disbursements=queries.list_disbursements(s, business_id=org.id, limit=100).items,
        agreements=agreements,
        revenue=revenue,
        returns=returns,
        revenue_forms=forms_by_agreement,
        may_report=me().role == "business_member",
        proposals=org_proposals(org),
        partnerships=reports.org_partnerships(s, me(), org),
        requests=requests_of(org),
    )


@bp.get("/business")
@signed_in("business_member")
def my_business():
    return _business_page(me().organisation)


@bp.post("/agreements/<int:agreement_id>/revenue")
@signed_in("business_member")
def report_revenue(agreement_id: int):
    owner = queries.organisation_of_agreement(db_session(), agreement_id)
    visible(me(), owner, "Return agreement", agreement_id)  # another's is a 404, like none
    form = forms.RevenueForm()
    if form.validate_on_submit():
        try:
            revenue = parse_amount(form.revenue.data, "TWD")
            with atomic(db_session()) as tx:
                services.report_revenue(
                    tx,
                    key=ledger_key(form),
                    agreement_id=agreement_id,
                    period_start=form.period_start.data,
                    period_end=form.period_end.data,
                    revenue=revenue,
                    actor=me(),
                )
        except LedgerError as error:
            form_error(form, error, aliases={"amount": "revenue"})
        else:
            flash(_("Revenue reported."), "info")
            return redirect(url_for("console.my_business"))
    return _business_page(me().organisation, form, agreement_id), 422
