"""Pledges: a company promises a donation, paid in instalments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from foundation.errors import (
    FieldMessage,
    InvalidAmount,
    ValidationError,
)
from foundation.transactions import UnitOfWork
from identity.models import Organisation, User
from ledger.books import chart
from ledger.books.legs import credit, debit
from ledger.books.posting import post_entry
from ledger.fund import virtual_accounts
from ledger.fund.common import DEFAULT_VA_SCHEME, _charge_amount, _get, _iso, today
from ledger.fund.models import (
    Donation,
    Pledge,
    PledgeInstalment,
)
from ledger.money import (
    DEFAULT_CURRENCY,
    check_currency,
    format_money,
)


def split_instalments(
    amount: int, count: int, first_due: dt.date, currency: str = DEFAULT_CURRENCY
) -> list[tuple[dt.date, int]]:
    """Split a pledge into ``count`` monthly instalments of whole currency units.

    The remainder goes to the first instalment so every instalment is a whole amount.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 120:
        raise ValidationError(
            "Instalments must be between 1 and 120.", fields={"instalments": ["1 to 120"]}
        )
    # TWD instalments are whole dollars (100 minor units); other currencies whole minor units.
    step = 100 if currency == "TWD" else 1
    units = amount // step
    if units < count:
        raise InvalidAmount("Each instalment must be at least one whole unit.")
    base, extra = divmod(units, count)
    result = []
    for i in range(count):
        month = first_due.month - 1 + i
        year = first_due.year + month // 12
        month = month % 12 + 1
        day = min(first_due.day, 28)
        due = dt.date(year, month, day)
        result.append((due, (base + (extra if i == 0 else 0)) * step))
    return result


def record_pledge(
    session: Session,
    *,
    key: str,
    company_id: int,
    amount: int,
    currency: str = DEFAULT_CURRENCY,
    instalments: int | Sequence[tuple[dt.date, int]] = 1,
    restriction: str | None = None,
    public_name: bool = False,
    pledged_on: dt.date | None = None,
    actor: User | None = None,
    scheme: virtual_accounts.VirtualAccountScheme = DEFAULT_VA_SCHEME,
    uow: UnitOfWork | None = None,
) -> Pledge:
    """A company promises a donation, optionally restricted to a purpose, paid in instalments.

    Posts: receivable from the company against donation income; a restricted pledge also
    moves the amount from unrestricted to the restricted bucket of its purpose. ``scheme``
    makes its virtual account (the configured one: ``va_scheme(settings)``).
    """
    currency = check_currency(currency)
    amount = _charge_amount(amount, currency)
    restriction = chart.parse_restriction(restriction)
    given_pledged_on, pledged_on = pledged_on, pledged_on or today()
    company = _get(session, Organisation, company_id, "Company")
    if company.kind != "company":
        raise ValidationError(
            "Only a company can pledge.",
            fields={"company_id": [FieldMessage("not a company", "not_a_company")]},
        )
    if isinstance(instalments, int):
        schedule = split_instalments(amount, instalments, pledged_on, currency)
    else:
        schedule = [(due, _charge_amount(a, currency, "instalments")) for due, a in instalments]
        if not schedule or sum(a for _, a in schedule) != amount:
            raise InvalidAmount(
                "Instalments must add up to the pledged amount.",
                fields={"instalments": ["must add up to the amount"]},
            )
    params = {
        "company_id": company_id,
        "amount": amount,
        "currency": currency,
        # The request as given (a count or explicit dates), not the schedule derived from
        # today's date: a retry after midnight must still match the original request.
        "instalments": instalments
        if isinstance(instalments, int)
        else [(d.isoformat(), a) for d, a in schedule],
        "restriction": restriction,
        "public_name": bool(public_name),
        "pledged_on": _iso(given_pledged_on),
    }
    legs = [
        debit(chart.receivable_account(company_id), amount, currency),
        credit("income:donations", amount, currency),
    ]
    if restriction:
        legs += [
            debit("net_assets:unrestricted", amount, currency),
            credit(chart.restricted_account(restriction), amount, currency),
        ]
    posted = post_entry(
        session,
        operation="pledge",
        key=key,
        params=params,
        legs=legs,
        entry_date=pledged_on,
        memo=f"認捐 {company.name} {format_money(amount, currency)}",
        created_by=actor.id if actor else None,
        uow=uow,
    )
    if not posted.fresh:
        return session.scalars(select(Pledge).where(Pledge.entry_id == posted.entry_id)).one()
    pledge = Pledge(
        company_id=company_id,
        amount=amount,
        currency=currency,
        restriction=restriction,
        public_name=bool(public_name),
        pledged_on=pledged_on,
        entry_id=posted.entry_id,
    )
    session.add(pledge)
    session.flush()
    # The id is known only now; the reference is derived from it, so it is stable and unique.
    # A plain UPDATE: filling in a derived column is not a new version of the pledge.
    session.execute(
        update(Pledge)
        .where(Pledge.id == pledge.id)
        .values(virtual_account=virtual_accounts.generate(pledge.id, scheme))
        .execution_options(synchronize_session=False)
    )
    session.add_all(
        PledgeInstalment(pledge_id=pledge.id, seq=i + 1, due_date=due, amount=a)
        for i, (due, a) in enumerate(schedule)
    )
    session.flush()
    session.refresh(pledge)
    return pledge


def pledge_paid(session: Session, pledge_id: int) -> int:
    """Gross received against a pledge, net of refunds, in minor units."""
    return session.scalar(
        select(func.coalesce(func.sum(Donation.gross_amount - Donation.refunded_amount), 0)).where(
            Donation.pledge_id == pledge_id
        )
    )
