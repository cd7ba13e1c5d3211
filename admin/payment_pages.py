"""How a company pays a pledge by bank transfer: everything its bank's app asks for.

``GET /console/pledges/<id>/bank-transfer`` shows the fund's bank (name and 3-digit code),
branch and account name (from the settings, ``foundation.settings.BankAccount``), the pledge's
virtual account, the amount of the next instalment and its due date, each with a copy button
(``static/copy.js``, the app's own script). Laid out for a phone: people type these into
their bank's app. Companies see their own pledges; fund managers any.
"""

from __future__ import annotations

from flask import abort, current_app, render_template

from admin.console import bp, me, signed_in
from identity.roles import MANAGERS, visible
from ledger.fund import transfers
from ledger.fund.models import Pledge
from ledger.money import SYMBOLS, format_money
from web.request import db_session


def amount_to_type(amount: int, currency: str) -> str:
    """The amount as a bank's app takes it: digits only, no symbol or separators (10000)."""
    return format_money(amount, currency).removeprefix(SYMBOLS[currency]).replace(",", "")


def group_digits(reference: str, size: int = 4) -> str:
    """A long number in groups of four, as people read it aloud (9512 3000 0004 28)."""
    return " ".join(reference[i : i + size] for i in range(0, len(reference), size))


@bp.get("/pledges/<int:pledge_id>/bank-transfer")
@signed_in("company_member", *MANAGERS)
def bank_transfer(pledge_id: int):
    """The transfer details for a pledge's next payment."""
    s = db_session()
    pledge = s.get(Pledge, pledge_id)
    visible(me(), pledge.company_id if pledge else None, "Pledge", pledge_id)
    if pledge is None:
        abort(404)
    due = transfers.next_due(s, pledge)
    return render_template(
        "console/bank_transfer.html",
        pledge=pledge,
        due=due,
        amount_to_type=amount_to_type(due.amount, due.currency) if due else "",
        bank=current_app.config["SETTINGS"].bank,
        va_grouped=group_digits(pledge.virtual_account or ""),
    )
