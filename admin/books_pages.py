"""The books, for fund managers: accounts, statements, entries, the trial balance, the hash
chain and periods (closing one, with its assertions)."""

from __future__ import annotations

import datetime as dt
import re

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from admin import forms, labels, messages
from admin.console import PAGE, _after_arg, _date_arg, bp, form_error, me, signed_in
from admin.disbursement_pages import _user_names
from foundation.errors import FieldMessage, LedgerError
from foundation.transactions import atomic
from identity.roles import MANAGERS
from ledger import listings
from ledger.books import chain, reading
from ledger.books import periods as books_periods
from ledger.books.models import Entry
from ledger.money import parse_amount
from web.request import db_session


@bp.get("/ledger/accounts")
@signed_in(*MANAGERS)
def accounts_list():
    prefix = request.args.get("prefix", "").strip()[:160] or None
    result = listings.list_accounts(db_session(), prefix=prefix, limit=200, after=_after_arg())
    items = sorted(result.items, key=lambda a: a.code)
    return render_template(
        "console/accounts.html", accounts=items, prefix=prefix or "", next_after=result.next_after
    )


@bp.get("/ledger/accounts/<path:code>")
@signed_in(*MANAGERS)
def account_statement(code: str):
    start, end = _date_arg("from"), _date_arg("to")
    # One page, the latest first: the bank account of a national fund has 500,000 postings
    st = reading.statement_page(
        db_session(), code, start, end, limit=PAGE * 4, before=_position_arg()
    )
    return render_template("console/statement.html", st=st)


def _position_arg():
    """``before=2026-05-01.123.456`` (date, entry id, posting id), or None when absent or
    malformed (then the page is the latest)."""
    parts = request.args.get("before", "").split(".")
    try:
        day = dt.date.fromisoformat(parts[0])
        return day, int(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        return None


@bp.get("/ledger/entries")
@signed_in(*MANAGERS)
def entries():
    kind = request.args.get("kind", "").strip()[:40] or None
    result = listings.list_entries(db_session(), kind=kind, limit=PAGE, after=_after_arg())
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
    tb = reading.trial_balance(db_session(), _date_arg("as_of"))
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
                        text = labels.labelled(name, messages.message(error))
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
                account = reading.get_account(db_session(), match[1])
                assertions[match[1]] = parse_amount(match[2], account.currency)
            with atomic(db_session()) as s:
                period = books_periods.close_period(
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
        periods=listings.list_periods(db_session()),
        users=users,
        assertable=assertable,
    )


def _assertable_accounts():
    """The accounts a statement confirms at a close: the bank's and Stripe's balances."""
    s = db_session()
    found = []
    for prefix in ("assets:bank:", "assets:stripe:clearing:"):
        found += listings.list_accounts(s, prefix=prefix, limit=50).items
    return sorted(found, key=lambda a: a.code)
