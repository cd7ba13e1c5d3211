"""The books, for fund managers: accounts, balances, entries, statements, trial balance, periods.

Also a company's own donor statement and the public fund summary.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app

from api import ledger_schemas, schemas
from api.auth import public, requires
from api.common import (
    Blueprint,
    decode_cursor,
    errors,
    get_or_404,
    idempotency_key,
    money_moving,
    page_out,
    unit_of_work,
    user,
)
from api.schemas import money
from foundation.errors import NotFound
from foundation.transactions import atomic
from identity.models import Organisation
from identity.roles import MANAGERS, is_manager
from ledger import listings
from ledger.books import periods as books_periods
from ledger.books import reading
from ledger.books.models import Entry
from ledger.fund import corrections, figures
from ledger.fund.common import today
from web.problems import ApiError
from web.request import db_session

blp = Blueprint(
    "ledger", __name__, url_prefix="/api/v1", description="The fund's books (fund managers)."
)


@blp.route("/ledger/accounts", methods=["GET"])
@requires(*MANAGERS)
@errors(400, 422)
@blp.arguments(ledger_schemas.AccountArgs, location="query")
@blp.response(200, schemas.page_schema(ledger_schemas.AccountSchema, "AccountPage"))
def list_accounts(args):
    """Accounts of the chart with their current balances"""
    return page_out(
        listings.list_accounts(
            db_session(),
            prefix=args["prefix"],
            type_=args["type"],
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


@blp.route("/ledger/accounts/<string:code>/balance", methods=["GET"])
@requires(*MANAGERS)
@errors(404, 422)
@blp.arguments(ledger_schemas.BalanceArgs, location="query")
@blp.response(200, ledger_schemas.BalanceSchema)
def account_balance(args, code):
    """An account's natural balance, now or as of the end of a date"""
    session = db_session()
    account = reading.get_account(session, code)
    amount = reading.balance(session, code, args["as_of"])
    return {"code": code, "as_of": args["as_of"], "balance": money(amount, account.currency)}


@blp.route("/ledger/accounts/<string:code>/statement", methods=["GET"])
@requires(*MANAGERS)
@errors(404, 422)
@blp.arguments(ledger_schemas.StatementArgs, location="query")
@blp.response(200, ledger_schemas.StatementSchema)
def account_statement(args, code):
    """An account's postings between two dates, with opening, running and closing balances"""
    if args["start"] and args["end"] and args["end"] < args["start"]:
        raise ApiError(422, "The period ends before it starts.", fields={"to": ["before from"]})
    st = reading.statement(db_session(), code, args["start"], args["end"])
    cur = st.account.currency
    return {
        "account": st.account,
        "start": st.start,
        "end": st.end,
        "opening": money(st.opening, cur),
        "closing": money(st.closing, cur),
        "lines": [
            {
                "entry_id": ln.entry_id,
                "entry_date": ln.entry_date,
                "kind": ln.kind,
                "memo": ln.memo,
                "amount": money(ln.amount, cur),
                "running": money(ln.running, cur),
            }
            for ln in st.lines
        ],
    }


@blp.route("/ledger/entries", methods=["GET"])
@requires(*MANAGERS)
@errors(400, 422)
@blp.arguments(ledger_schemas.EntryArgs, location="query")
@blp.response(200, schemas.page_schema(ledger_schemas.EntrySchema, "EntryPage"))
def list_entries(args):
    """Journal entries with their postings, newest first"""
    return page_out(
        listings.list_entries(
            db_session(),
            kind=args["kind"],
            account=args["account"],
            start=args["start"],
            end=args["end"],
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


@blp.route("/ledger/entries/<bigid:entry_id>", methods=["GET"])
@requires(*MANAGERS)
@errors(404)
@blp.response(200, ledger_schemas.EntrySchema)
def get_entry(entry_id):
    """One journal entry with its postings"""
    return get_or_404(db_session(), Entry, entry_id, "Entry")


@blp.route("/ledger/adjustments", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(ledger_schemas.AdjustmentIn)
@blp.response(201, ledger_schemas.EntrySchema)
def record_adjustment(data):
    """Post a manual, balanced adjustment with its reason

    Accounts must exist in the chart; an adjustment may not overdraw a bank, clearing or
    restricted account, nor be dated in a closed period.
    """
    me = user()
    key = idempotency_key(me)
    with unit_of_work() as uow:
        return corrections.record_adjustment(
            uow.session,
            key=key,
            actor=me,
            lines=[corrections.AdjustmentLine(**line) for line in data["lines"]],
            reason=data["reason"],
            on=data["on"],
            uow=uow,
        )


@blp.route("/ledger/entries/<bigid:entry_id>/reversal", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@money_moving
@blp.arguments(ledger_schemas.ReversalIn)
@blp.response(201, ledger_schemas.EntrySchema)
def reverse_adjustment(data, entry_id):
    """Reverse a manual adjustment: post its exact negation (once only)

    Other entries are corrected through their own operation (void a disbursement, refund a
    donation), so that the record behind them agrees with the books.
    """
    me = user()
    key = idempotency_key(me)
    with unit_of_work() as uow:
        return corrections.reverse_adjustment(
            uow.session,
            key=key,
            entry_id=entry_id,
            actor=me,
            reason=data["reason"],
            on=data["on"],
            uow=uow,
        )


@blp.route("/ledger/trial-balance", methods=["GET"])
@requires(*MANAGERS)
@errors(422)
@blp.arguments(ledger_schemas.BalanceArgs, location="query")
@blp.response(200, ledger_schemas.TrialBalanceSchema)
def trial_balance(args):
    """Every account's debit or credit balance; debits equal credits in each currency"""
    tb = reading.trial_balance(db_session(), args["as_of"])
    return {
        "as_of": tb.as_of,
        "balanced": tb.balanced,
        "rows": [
            {
                "code": code,
                "name": name,
                "type": type_,
                "debit": money(dr, cur),
                "credit": money(cr, cur),
            }
            for code, name, type_, cur, dr, cr in tb.rows
        ],
        "totals": [
            {"currency": cur, "debit": money(d, cur), "credit": money(c, cur)}
            for cur, (d, c) in tb.totals.items()
        ],
    }


@blp.route("/ledger/position", methods=["GET"])
@requires(*MANAGERS)
@blp.response(200, ledger_schemas.PositionSchema)
def position():
    """What the fund holds for spending: unrestricted and per restricted purpose (TWD)"""
    pos = reading.fund_position(db_session())
    return {
        "currency": pos.currency,
        "total": money(pos.total, pos.currency),
        "unrestricted": money(pos.unrestricted, pos.currency),
        "restricted": {k: money(v, pos.currency) for k, v in pos.restricted.items()},
        "held": {k: money(v, pos.currency) for k, v in pos.held.items()},
    }


@blp.route("/ledger/periods", methods=["GET"])
@requires(*MANAGERS)
@blp.response(200, ledger_schemas.PeriodSchema(many=True))
def list_periods():
    """Closed accounting periods"""
    return listings.list_periods(db_session())


@blp.route("/ledger/periods", methods=["POST"])
@requires(*MANAGERS)
@errors(404, 409, 413, 415, 422)
@blp.arguments(ledger_schemas.PeriodIn)
@blp.response(201, ledger_schemas.PeriodSchema)
def close_period(data):
    """Close the books through a date, after checking balance assertions

    Nothing may be posted on or before a closed date afterwards.
    """
    with atomic(db_session()) as session:
        return books_periods.close_period(
            session, actor=user(), end_date=data["end_date"], assertions=data["assertions"]
        )


# --- a company's own statement -----------------------------------------------------------------


@blp.route("/statements/donor", methods=["GET"])
@requires("company_member", *MANAGERS)
@errors(404, 422)
@blp.arguments(ledger_schemas.DonorStatementArgs, location="query")
@blp.response(200, ledger_schemas.DonorStatementSchema)
def donor_statement(args):
    """A company's donations in a calendar year, for its tax filing and ESG report

    Companies get their own; managers name the company with company_id. The totals are the
    whole year's; the donations come a page at a time in date order (limit, then cursor =
    next_cursor until it is null).
    """
    me = user()
    session = db_session()
    if is_manager(me):
        if args["company_id"] is None:
            raise ApiError(422, "Name the company.", fields={"company_id": ["required"]})
        company = get_or_404(session, Organisation, args["company_id"], "Company")
    else:
        if args["company_id"] not in (None, me.organisation_id):
            raise NotFound(f"Company {args['company_id']} does not exist.")
        company = me.organisation
    if company.kind != "company":
        raise NotFound(f"Company {company.id} does not exist.")
    year = args["year"] or today().year
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    # The year's totals summed by the database; the donations one page at a time, so the
    # answer stays small however much the company gave
    totals = listings.donor_totals(session, company, start, end)
    donations = listings.donor_donations(
        session, company, start, end, limit=args["limit"], after=args["cursor"]
    )

    def amounts(by_currency):
        return [money(v, cur) for cur, v in sorted(by_currency.items())]

    net = {cur: totals.received[cur] - totals.refunded.get(cur, 0) for cur in totals.received}
    return {
        "company": company,
        "start": start,
        "end": end,
        "donations": donations.items,
        "next_cursor": ledger_schemas.donor_cursor(donations.next_after),
        "received": amounts(totals.received),
        "refunded": amounts(totals.refunded),
        "net": amounts(net),
        "pledged": amounts(totals.pledged),
    }


# --- public ----------------------------------------------------------------------------------


@blp.route("/public/summary", methods=["GET"])
@public
@blp.response(200, ledger_schemas.PublicSummarySchema)
def public_summary():
    """The fund in public: received, available to commit, committed, pledged; by area

    ``committed`` splits disbursements into ``pending`` (awaiting the second institution's
    approval: held, not spent), ``approved`` and ``paid``. Money pledged but not received
    is never counted as available. Every county and priority-area type is listed, zero
    included. Donor names appear only where the donor opted in. No authentication.
    """
    session = db_session()
    s = listings.public_summary(session)
    fig = figures.fund_figures(session)
    cur = s.currency

    def stages(c):
        return {stage: money(getattr(c, stage), cur) for stage in figures.STAGES}

    def area(a):
        return {
            "code": a.key,
            "name": a.name,
            "received": money(a.received, cur),
            "available": money(a.available, cur),
            "committed": stages(a.commitments),
        }

    return {
        "fund": current_app.config["SETTINGS"].fund_name,
        "currency": cur,
        "as_of": fig.as_of,
        "received": money(fig.received, cur),
        "total_in": money(fig.received, cur),
        "total_out": money(fig.commitments.paid, cur),
        "donations_in": money(fig.donations_received, cur),
        "revenue_returned": money(fig.revenue_returned, cur),
        "available": money(fig.available, cur),
        "committed": stages(fig.commitments),
        "pledged_not_received": money(fig.pledged_not_received, cur),
        "pledged": money(s.pledged, cur),
        "donors": s.donors,
        "by_county": [area(a) for a in fig.by_county],
        "by_priority_type": [area(a) for a in fig.by_priority_type],
        "public_donors": [
            {"name": n, "name_en": en, "pledged": money(a, cur)} for n, en, a in s.public_donors
        ],
        "note": "Priority-area designations are data imported by fund managers.",
    }
