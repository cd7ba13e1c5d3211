"""The fund's money operations. Each posts one balanced entry under an idempotency key.

Replaying a call with the same key and the same request returns the original record; the
same key with a different request raises ``IdempotencyConflict``. Services only flush: the
caller commits or rolls back (one transaction per request or command).

A service that posts takes the caller's unit of work as ``uow`` (foundation.transactions),
if it gave one, and hands it to the posting engine: through it the caller may let the last
posting commit in its own round trip, and learns whether the call was a replay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from foundation.transactions import UnitOfWork
from identity.models import Organisation, User
from ledger import chart, figures, virtual_accounts
from ledger.core import Leg, credit, debit
from ledger.errors import (
    AlreadyReversed,
    ApprovalRequired,
    FieldMessage,
    InsufficientFunds,
    InvalidAmount,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from ledger.models import (
    DONATION_CHANNELS,
    Disbursement,
    DisbursementApproval,
    Donation,
    Entry,
    Payout,
    Pledge,
    PledgeInstalment,
    Project,
    ReturnAgreement,
    RevenueReport,
    RevenueReturn,
)
from ledger.money import (
    DEFAULT_CURRENCY,
    check_currency,
    check_minor,
    check_whole_units,
    format_money,
)
from ledger.posting import Companion, find_by_key, lock_accounts, post_entry
from placefund.config import DEFAULT_VA_PREFIX, Settings
from placefund.db import utcnow

BANK = "assets:bank:main"
#: The scheme of the default settings (prefix 95123, Luhn), for callers without settings
DEFAULT_VA_SCHEME = virtual_accounts.VirtualAccountScheme(DEFAULT_VA_PREFIX)


def va_scheme(settings: Settings | None = None) -> virtual_accounts.VirtualAccountScheme:
    """The fund's virtual-account scheme: the bank's prefix and check-digit weights from the
    settings (PLACEFUND_VA_PREFIX, PLACEFUND_VA_WEIGHTS); without settings, their defaults.

    The faces and commands pass it to ``record_pledge`` and the statement imports: a pledge's
    reference and the references read back from statements follow the same scheme."""
    if settings is None:
        return DEFAULT_VA_SCHEME
    return virtual_accounts.VirtualAccountScheme(settings.va_prefix, weights=settings.va_weights)


def today() -> dt.date:
    """Today in Taiwan (UTC+8): the date a Taiwanese manager would write on the voucher."""
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def _get(session: Session, model, ident: int, what: str):
    obj = (
        session.get(model, ident)
        if isinstance(ident, int) and not isinstance(ident, bool)
        else None
    )
    if obj is None:
        raise NotFound(f"{what} {ident} does not exist.")
    return obj


def _iso(value: dt.date | None) -> str | None:
    """A date as it enters an idempotency fingerprint: as given, None when defaulted."""
    return value.isoformat() if value is not None else None


def require_manager(actor: User | None) -> User:
    """Only fund managers (and admins) move the fund's money or change its books."""
    if actor is None or not actor.is_manager:
        raise PermissionDenied("Only a fund manager may do this.", reason="fund_manager_only")
    return actor


def _charge_amount(amount: object, currency: str, field: str = "amount") -> int:
    amount = check_minor(amount, field=field)
    if currency == "TWD":
        check_whole_units(amount, currency, field=field)
    return amount


# --- pledges -------------------------------------------------------------------------------


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


# --- donations -----------------------------------------------------------------------------


def _deposit_account(channel: str, currency: str, deposit_account: str | None) -> str:
    if deposit_account:
        return deposit_account
    if channel == "stripe":
        return chart.clearing_account(currency)
    return BANK if currency == "TWD" else f"assets:bank:main:{currency}"


def _gift_legs(pledger_id: int | None, restriction: str | None, amount: int, cur: str) -> list[Leg]:
    """Where received money is credited: a pledging company's receivable (its restriction was
    applied when it pledged), or donation income moved into its restricted bucket if any."""
    if pledger_id is not None:
        return [credit(chart.receivable_account(pledger_id), amount, cur)]
    legs = [credit("income:donations", amount, cur)]
    if restriction:
        legs += [
            debit("net_assets:unrestricted", amount, cur),
            credit(chart.restricted_account(restriction), amount, cur),
        ]
    return legs


def _settlement_legs(
    *,
    deposit: str,
    currency: str,
    amount: int,
    settlement_currency: str,
    settlement_amount: int,
    fee: int,
    sign: int,
) -> list[Leg]:
    """Money arriving (sign +1) or leaving (sign -1) the deposit account, with FX and fee.

    When the settlement currency differs from the charge currency, the charge amount passes
    through ``net_assets:exchange:<charge>`` and the settled amount through
    ``net_assets:exchange:<settlement>``, so each currency balances within the entry.
    """
    legs = [
        Leg(deposit, sign * (settlement_amount - fee), settlement_currency),
        Leg(chart.fee_account(settlement_currency), fee, settlement_currency),
    ]
    if settlement_currency != currency:
        legs += [
            Leg(chart.exchange_account(currency), sign * amount, currency),
            Leg(
                chart.exchange_account(settlement_currency),
                -sign * settlement_amount,
                settlement_currency,
            ),
        ]
    return legs


def record_donation(
    session: Session,
    *,
    key: str,
    channel: str,
    amount: int,
    currency: str = DEFAULT_CURRENCY,
    fee: int = 0,
    settlement_currency: str | None = None,
    settlement_amount: int | None = None,
    company_id: int | None = None,
    pledge_id: int | None = None,
    restriction: str | None = None,
    received_on: dt.date | None = None,
    deposit_account: str | None = None,
    refs: dict[str, str] | None = None,
    actor: User | None = None,
    uow: UnitOfWork | None = None,
) -> Donation:
    """Money received from a donor, by Stripe, bank transfer or other means.

    ``amount`` is the gross charge in ``currency``. ``settlement_amount`` and ``fee`` are in
    ``settlement_currency`` (Stripe's balance transaction: amount, fee, net = amount - fee).
    A payment against a pledge settles the company's receivable; otherwise it is donation
    income, moved into its restricted bucket when restricted.
    """
    if channel not in DONATION_CHANNELS:
        raise ValidationError(
            f"Unknown channel {channel!r}.", fields={"channel": [f"one of {DONATION_CHANNELS}"]}
        )
    currency = check_currency(currency)
    amount = _charge_amount(amount, currency)
    settlement_currency = check_currency(settlement_currency or currency)
    if settlement_amount is None:
        if settlement_currency != currency:
            raise ValidationError(
                "A settlement in another currency needs the settled amount.",
                fields={
                    "settlement_amount": [
                        FieldMessage("required when currencies differ", "required")
                    ]
                },
            )
        settlement_amount = amount
    settlement_amount = check_minor(settlement_amount, field="settlement_amount")
    if settlement_currency == currency and settlement_amount != amount:
        raise ValidationError(
            "Settled amount differs from the charge in the same currency.",
            fields={"settlement_amount": ["must equal amount in the same currency"]},
        )
    fee = check_minor(fee, positive=False, field="fee")
    if not 0 <= fee < settlement_amount:
        raise InvalidAmount(
            "The fee must be at least zero and below the amount.",
            fields={"fee": [FieldMessage("out of range", "out_of_range")]},
        )
    given_received_on, received_on = received_on, received_on or today()

    pledge = None
    if pledge_id is not None:
        pledge = _get(session, Pledge, pledge_id, "Pledge")
        if company_id is not None and company_id != pledge.company_id:
            raise ValidationError(
                "The pledge belongs to another company.",
                fields={"pledge_id": ["not this company's"]},
            )
        if pledge.currency != currency:
            raise ValidationError(
                f"The pledge is in {pledge.currency}.",
                fields={
                    "currency": [FieldMessage("differs from the pledge", "differs_from_pledge")]
                },
            )
        if restriction and chart.parse_restriction(restriction) != pledge.restriction:
            raise ValidationError(
                "A payment takes its pledge's restriction.",
                fields={"restriction": ["set on the pledge"]},
            )
        company_id = pledge.company_id
        restriction = pledge.restriction
    else:
        restriction = chart.parse_restriction(restriction)
        if company_id is not None:
            company = _get(session, Organisation, company_id, "Company")
            if company.kind != "company":
                raise ValidationError(
                    "Donor must be a company.",
                    fields={"company_id": [FieldMessage("not a company", "not_a_company")]},
                )

    params = {
        "channel": channel,
        "amount": amount,
        "currency": currency,
        "fee": fee,
        "settlement_currency": settlement_currency,
        "settlement_amount": settlement_amount,
        "company_id": company_id,
        "pledge_id": pledge_id,
        "restriction": restriction,
        "received_on": _iso(given_received_on),
        "deposit_account": deposit_account,
        "refs": refs or {},
    }
    deposit = _deposit_account(channel, settlement_currency, deposit_account)
    legs = _settlement_legs(
        deposit=deposit,
        currency=currency,
        amount=amount,
        settlement_currency=settlement_currency,
        settlement_amount=settlement_amount,
        fee=fee,
        sign=1,
    )
    if pledge is not None:
        outstanding = pledge.amount - pledge_paid(session, pledge.id)
        if amount > outstanding:
            raise InvalidAmount(
                f"The payment exceeds what is still due on pledge {pledge.id} "
                f"({format_money(outstanding, currency)}).",
                fields={
                    "amount": [
                        FieldMessage("exceeds the amount outstanding", "exceeds_outstanding")
                    ]
                },
                reason="exceeds_pledge_due",
                params={"amount": outstanding, "currency": currency},
            )
    legs += _gift_legs(pledge.company_id if pledge else None, restriction, amount, currency)
    posted = post_entry(
        session,
        operation="donation",
        key=key,
        params=params,
        legs=legs,
        entry_date=received_on,
        memo=f"捐款 {channel} {format_money(amount, currency)}",
        created_by=actor.id if actor else None,
        refs=refs,
        last_write=True,
        companion=Companion(
            Donation,
            {
                "company_id": company_id,
                "pledge_id": pledge_id,
                "channel": channel,
                "gross_amount": amount,
                "currency": currency,
                "settlement_currency": settlement_currency,
                "settlement_gross": settlement_amount,
                "fee_amount": fee,
                "net_amount": settlement_amount - fee,
                "restriction": restriction,
                "received_on": received_on,
            },
        ),
        uow=uow,
    )
    if not posted.fresh:
        return session.scalars(select(Donation).where(Donation.entry_id == posted.entry_id)).one()
    return posted.record


def _donation_reversal_legs(
    session: Session, donation: Donation, amount: int, settlement_amount: int
) -> list[Leg]:
    """Legs that take ``amount`` of a donation back out of the fund (refund or dispute).

    A payment against a pledge re-opens the company's receivable (the company still owes);
    a direct restricted donation comes out of its restricted bucket as far as that bucket
    still holds it, the rest out of unrestricted money (the bucket never goes negative).
    """
    cur = donation.currency
    deposit = _deposit_account(donation.channel, donation.settlement_currency, None)
    legs = _settlement_legs(
        deposit=deposit,
        currency=cur,
        amount=amount,
        settlement_currency=donation.settlement_currency,
        settlement_amount=settlement_amount,
        fee=0,
        sign=-1,
    )
    if donation.pledge_id is not None:
        legs.append(debit(chart.receivable_account(donation.company_id), amount, cur))
        return legs
    legs.append(debit("income:donations", amount, cur))
    if donation.restriction:
        bucket = chart.restricted_account(donation.restriction)
        held = lock_accounts(session, [bucket])[bucket].natural_balance
        moved = min(amount, held)
        if moved:
            legs += [debit(bucket, moved, cur), credit("net_assets:unrestricted", moved, cur)]
    return legs


def _refund_amounts(
    donation: Donation, amount: object, settlement_amount: object | None
) -> tuple[int, int]:
    amount = check_minor(amount)
    remaining = donation.gross_amount - donation.refunded_amount
    if amount > remaining:
        raise InvalidAmount(
            f"Only {format_money(remaining, donation.currency)} of this donation "
            "can still be returned.",
            fields={
                "amount": [
                    FieldMessage("exceeds the amount not yet refunded", "exceeds_refundable")
                ]
            },
        )
    return amount, _settled_part(donation, amount, settlement_amount)


def _settled_part(donation: Donation, amount: int, settlement_amount: object | None) -> int:
    """``amount`` of the charge in the donation's settlement currency: as Stripe reported it
    when given, else pro rata at the original rate (whole minor units, rounded up)."""
    if donation.settlement_currency == donation.currency:
        return amount
    if settlement_amount is None:
        settlement_amount = -(-amount * donation.settlement_gross // donation.gross_amount)
    return check_minor(settlement_amount, field="settlement_amount")


def record_refund(
    session: Session,
    *,
    key: str,
    donation_id: int,
    amount: int,
    settlement_amount: int | None = None,
    refunded_on: dt.date | None = None,
    refs: dict[str, str] | None = None,
    actor: User | None = None,
) -> Entry:
    """Return (part of) a donation to the donor: a reversal entry linked to the original."""
    donation = _get(session, Donation, donation_id, "Donation")
    session.refresh(donation, with_for_update=True)
    given_refunded_on, refunded_on = refunded_on, refunded_on or today()
    params = {
        "donation_id": donation_id,
        "amount": amount,
        "settlement_amount": settlement_amount,
        "refunded_on": _iso(given_refunded_on),
        "refs": refs or {},
    }
    existing = find_by_key(session, key, "refund", params)
    if existing is not None:
        return session.get(Entry, existing)
    amount, settled = _refund_amounts(donation, amount, settlement_amount)
    posted = post_entry(
        session,
        operation="refund",
        key=key,
        params=params,
        legs=_donation_reversal_legs(session, donation, amount, settled),
        entry_date=refunded_on,
        memo=f"退款 捐款 {donation.id} {format_money(amount, donation.currency)}",
        related=donation.entry_id,
        created_by=actor.id if actor else None,
        refs=refs,
    )
    if posted.fresh:
        donation.refunded_amount += amount
        session.flush()
    return session.get(Entry, posted.entry_id)


def record_dispute(
    session: Session,
    *,
    key: str,
    donation_id: int,
    stage: str,
    amount: int,
    fee: int = 0,
    settlement_amount: int | None = None,
    on: dt.date | None = None,
    refs: dict[str, str] | None = None,
    actor: User | None = None,
) -> Entry:
    """A card dispute: funds withdrawn (with Stripe's dispute fee) or reinstated.

    ``funds_withdrawn`` takes the amount back out like a refund and books the fee;
    ``funds_reinstated`` puts it back (the donor lost the dispute). Both link to the
    donation's entry.
    """
    if stage not in ("funds_withdrawn", "funds_reinstated"):
        raise ValidationError(
            f"Unknown dispute stage {stage!r}.",
            fields={"stage": ["funds_withdrawn or funds_reinstated"]},
        )
    donation = _get(session, Donation, donation_id, "Donation")
    session.refresh(donation, with_for_update=True)
    given_on, on = on, on or today()
    params = {
        "donation_id": donation_id,
        "stage": stage,
        "amount": amount,
        "fee": fee,
        "settlement_amount": settlement_amount,
        "on": _iso(given_on),
        "refs": refs or {},
    }
    existing = find_by_key(session, key, f"dispute_{stage}", params)
    if existing is not None:
        return session.get(Entry, existing)
    fee = check_minor(fee, positive=False, field="fee")
    cur, settle_cur = donation.currency, donation.settlement_currency
    if stage == "funds_withdrawn":
        amount, settled = _refund_amounts(donation, amount, settlement_amount)
        legs = _donation_reversal_legs(session, donation, amount, settled)
        delta = amount
    else:
        amount = check_minor(amount)
        if amount > donation.refunded_amount:
            raise InvalidAmount(
                "More reinstated than was withdrawn.",
                fields={"amount": [FieldMessage("too large", "too_large")]},
            )
        settled = _settled_part(donation, amount, settlement_amount)
        deposit = _deposit_account(donation.channel, settle_cur, None)
        legs = _settlement_legs(
            deposit=deposit,
            currency=cur,
            amount=amount,
            settlement_currency=settle_cur,
            settlement_amount=settled,
            fee=0,
            sign=1,
        )
        pledger = donation.company_id if donation.pledge_id is not None else None
        legs += _gift_legs(pledger, donation.restriction, amount, cur)
        delta = -amount
    if fee:
        deposit = _deposit_account(donation.channel, settle_cur, None)
        legs += [
            debit(chart.fee_account(settle_cur), fee, settle_cur),
            credit(deposit, fee, settle_cur),
        ]
    posted = post_entry(
        session,
        operation=f"dispute_{stage}",
        key=key,
        params=params,
        legs=legs,
        entry_date=on,
        memo=f"爭議 {stage} 捐款 {donation.id}",
        related=donation.entry_id,
        created_by=actor.id if actor else None,
        refs=refs,
    )
    if posted.fresh:
        donation.refunded_amount += delta
        session.flush()
    return session.get(Entry, posted.entry_id)


# --- payouts -------------------------------------------------------------------------------


def record_payout(
    session: Session,
    *,
    key: str,
    amount: int,
    currency: str = DEFAULT_CURRENCY,
    paid_on: dt.date | None = None,
    bank_account: str = BANK,
    stripe_payout_id: str | None = None,
    refs: dict[str, str] | None = None,
    actor: User | None = None,
) -> Payout:
    """Stripe pays its balance out to the fund's bank account (TWD in whole dollars)."""
    currency = check_currency(currency)
    amount = check_minor(amount)
    if currency == "TWD" and amount % 100:
        raise InvalidAmount(
            "Stripe pays TWD out in whole dollars (multiples of 100 minor units).",
            fields={"amount": [FieldMessage("must be a multiple of 100", "whole_dollars")]},
            reason="whole_dollars",
        )
    given_paid_on, paid_on = paid_on, paid_on or today()
    refs = dict(refs or {})
    if stripe_payout_id:
        refs["payout"] = stripe_payout_id
    params = {
        "amount": amount,
        "currency": currency,
        "paid_on": _iso(given_paid_on),
        "bank_account": bank_account,
        "refs": refs,
    }
    posted = post_entry(
        session,
        operation="payout",
        key=key,
        params=params,
        legs=[
            debit(bank_account, amount, currency),
            credit(chart.clearing_account(currency), amount, currency),
        ],
        entry_date=paid_on,
        memo=f"Stripe 撥款 {format_money(amount, currency)}",
        created_by=actor.id if actor else None,
        refs=refs,
    )
    if not posted.fresh:
        return session.scalars(select(Payout).where(Payout.entry_id == posted.entry_id)).one()
    payout = Payout(
        amount=amount,
        currency=currency,
        bank_account_code=bank_account,
        paid_on=paid_on,
        stripe_payout_id=stripe_payout_id,
        entry_id=posted.entry_id,
    )
    session.add(payout)
    session.flush()
    return payout


# --- disbursements -------------------------------------------------------------------------


def _payable(project_id: int) -> str:
    return f"liabilities:disbursements_payable:project:{project_id}"


def propose_disbursement(
    session: Session,
    *,
    key: str,
    actor: User,
    kind: str,
    project_id: int,
    amount: int,
    currency: str = DEFAULT_CURRENCY,
    funding: str | None = None,
    purpose: str = "",
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Disbursement:
    """Propose a grant or an investment in a project; the proposer's approval counts.

    The money is held, not spent: it moves from its funding source (unrestricted, or the
    restricted purpose, which must match the project) into ``net_assets:held:<source>``, so
    two proposals cannot both count on it. The commitment (grant expense or investment
    against disbursements payable) is posted when a second institution approves. The
    amount may not exceed what the source has available to commit (``figures``: received,
    less every commitment, pending ones included).
    """
    require_manager(actor)
    if kind not in ("grant", "investment"):
        raise ValidationError(f"Unknown kind {kind!r}.", fields={"kind": ["grant or investment"]})
    currency = check_currency(currency)
    amount = _charge_amount(amount, currency)
    project = _get(session, Project, project_id, "Project")
    if project.business.verified_at is None:
        raise InvalidState(
            f"{project.business.name} is not verified; "
            "only verified organisations receive disbursements.",
            reason="not_verified",
            params={"name": project.business.name},
        )
    funding = chart.parse_restriction(funding)
    if funding and not chart.restriction_allows(
        funding,
        project_id=project.id,
        county=project.county_code,
        town=project.town_code,
        priority=project.priority_type,
    ):
        raise ValidationError(
            f"Money restricted to {funding} cannot be spent on project {project.id} "
            f"({project.name}, {project.town_code}).",
            fields={
                "funding": [FieldMessage("purpose does not match the project", "purpose_mismatch")]
            },
            reason="purpose_mismatch",
            params={"id": project.id},
        )
    given_on, on = on, on or today()
    params = {
        "kind": kind,
        "project_id": project_id,
        "amount": amount,
        "currency": currency,
        "funding": funding,
        "purpose": purpose,
        "on": _iso(given_on),
        "actor": actor.id,
    }
    # Held, not spent: the money moves from its source into the held bucket (a restricted
    # bucket never below zero), and becomes an expense or investment only on approval.
    legs = [
        debit(chart.source_account(funding), amount, currency),
        credit(chart.held_account(funding), amount, currency),
    ]
    label = "補助" if kind == "grant" else "投資"
    # Never commit more than the source has received and not yet committed (pledges not
    # yet paid do not count). The source's lock comes first, so a racing retry of this same
    # request finds the original here and is not refused for the money it holds itself.
    figures.lock_source(session, funding, currency)
    if find_by_key(session, key, "disbursement_hold", params, uow) is None:
        figures.require_available(session, source=funding, amount=amount, currency=currency)
    posted = post_entry(
        session,
        operation="disbursement_hold",
        key=key,
        params=params,
        legs=legs,
        entry_date=on,
        memo=f"{label}保留（待核准） {project.name} {format_money(amount, currency)}",
        created_by=actor.id,
        uow=uow,
    )
    if not posted.fresh:
        return session.scalars(
            select(Disbursement).where(Disbursement.reserve_entry_id == posted.entry_id)
        ).one()
    disbursement = Disbursement(
        kind=kind,
        project_id=project_id,
        amount=amount,
        currency=currency,
        funding=funding,
        purpose=purpose,
        proposed_by_id=actor.id,
        reserve_entry_id=posted.entry_id,
    )
    session.add(disbursement)
    session.flush()
    session.add(
        DisbursementApproval(
            disbursement_id=disbursement.id, user_id=actor.id, institution=actor.institution
        )
    )
    session.flush()
    session.refresh(disbursement)
    return disbursement


def _lock_disbursement(session: Session, disbursement_id: int) -> Disbursement:
    _get(session, Disbursement, disbursement_id, "Disbursement")
    return session.scalars(
        select(Disbursement)
        .where(Disbursement.id == disbursement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def approve_disbursement(session: Session, *, disbursement_id: int, actor: User) -> Disbursement:
    """A second fund manager, of a different institution, approves a reserved disbursement."""
    require_manager(actor)
    d = _lock_disbursement(session, disbursement_id)
    if d.status != "reserved":
        raise InvalidState(
            f"Disbursement {d.id} is {d.status}; only a reserved one can be approved.",
            id=d.id,
            status=d.status,
            reason="approve_not_reserved",
            params={"id": d.id, "status": d.status},
        )
    if any(a.user_id == actor.id for a in d.approvals):
        raise InvalidState(
            "You have already approved this disbursement.", reason="already_approved"
        )
    if actor.institution in {a.institution for a in d.approvals}:
        raise ApprovalRequired(
            "Your institution has already approved this disbursement; "
            "the second approval must come from a manager of another institution.",
            case="same_institution",
            institution=actor.institution,
        )
    session.add(
        DisbursementApproval(disbursement_id=d.id, user_id=actor.id, institution=actor.institution)
    )
    session.flush()
    session.refresh(d)
    if approved(d) and d.commit_entry_id is None and _holds_only(session, d):
        d.commit_entry_id = _post_commitment(session, d, actor)
        session.flush()
    return d


def _holds_only(session: Session, d: Disbursement) -> bool:
    """Did the proposal only hold its money? Proposals made before holds existed posted the
    commitment itself on proposal (``disbursement_reserve``) and must not post it twice."""
    return session.get(Entry, d.reserve_entry_id).kind == "disbursement_hold"


def _post_commitment(session: Session, d: Disbursement, actor: User) -> int:
    """Approved by two institutions: the held money becomes a grant expense or an investment
    the fund owes the project. Restricted money is spent through unrestricted net assets,
    where income and expense land, as it always was."""
    target = (
        f"expense:grants:project:{d.project_id}"
        if d.kind == "grant"
        else f"assets:investments:project:{d.project_id}"
    )
    label = "補助" if d.kind == "grant" else "投資"
    return post_entry(
        session,
        # One commitment per disbursement: the key is derived from it, never reused
        operation="disbursement_commit",
        key=f"disbursement:{d.id}:commit",
        params={"disbursement_id": d.id},
        legs=[
            debit(chart.held_account(d.funding), d.amount, d.currency),
            credit("net_assets:unrestricted", d.amount, d.currency),
            debit(target, d.amount, d.currency),
            credit(_payable(d.project_id), d.amount, d.currency),
        ],
        entry_date=today(),
        memo=f"{label}承諾 {d.id} {format_money(d.amount, d.currency)}",
        related=d.reserve_entry_id,
        created_by=actor.id,
    ).entry_id


def approved(d: Disbursement) -> bool:
    """Joint management: approvals from at least two different institutions."""
    return len({a.institution for a in d.approvals}) >= 2


def pay_disbursement(
    session: Session,
    *,
    key: str,
    disbursement_id: int,
    actor: User,
    paid_on: dt.date | None = None,
    bank_account: str = BANK,
    uow: UnitOfWork | None = None,
) -> Disbursement:
    """Pay an approved disbursement from the bank account (which may not go overdrawn)."""
    require_manager(actor)
    given_paid_on, paid_on = paid_on, paid_on or today()
    params = {
        "disbursement_id": disbursement_id,
        "paid_on": _iso(given_paid_on),
        "bank_account": bank_account,
    }
    if find_by_key(session, key, "disbursement_pay", params, uow) is not None:
        return _get(session, Disbursement, disbursement_id, "Disbursement")
    d = _lock_disbursement(session, disbursement_id)
    if d.status != "reserved":
        raise InvalidState(
            f"Disbursement {d.id} is {d.status}; it cannot be paid.",
            id=d.id,
            status=d.status,
            reason="pay_not_approved",
            params={"id": d.id, "status": d.status},
        )
    if not approved(d):
        raise ApprovalRequired(
            "Payment needs approvals from two fund managers of different institutions.",
            reason="two_institutions",
        )
    posted = post_entry(
        session,
        operation="disbursement_pay",
        key=key,
        params=params,
        legs=[
            debit(_payable(d.project_id), d.amount, d.currency),
            credit(bank_account, d.amount, d.currency),
        ],
        entry_date=paid_on,
        memo=f"撥款 {d.kind} {d.id} {format_money(d.amount, d.currency)}",
        related=d.commit_entry_id or d.reserve_entry_id,
        created_by=actor.id,
        uow=uow,
    )
    d.status = "paid"
    d.pay_entry_id = posted.entry_id
    d.paid_by_id = actor.id
    d.paid_at = utcnow()
    session.flush()
    return d


def void_disbursement(
    session: Session,
    *,
    key: str,
    disbursement_id: int,
    actor: User,
    reason: str,
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Disbursement:
    """Cancel a reserved disbursement: its reservation is reversed and restricted money restored."""
    require_manager(actor)
    if not reason or not reason.strip():
        raise ValidationError(
            "A reason is required to void.",
            fields={"reason": [FieldMessage("required", "required")]},
            reason="void_reason",
        )
    d = _lock_disbursement(session, disbursement_id)
    if d.status == "voided":
        return d
    if d.status != "reserved":
        raise InvalidState(
            f"Disbursement {d.id} is {d.status}; only a reserved one can be voided.",
            id=d.id,
            status=d.status,
            reason="void_not_reserved",
            params={"id": d.id, "status": d.status},
        )
    if d.commit_entry_id is None:  # only held (or, before holds, committed on proposal)
        entry = reverse_entry(
            session,
            key=key,
            entry_id=d.reserve_entry_id,
            actor=actor,
            reason=reason,
            on=on,
            uow=uow,
        )
    else:  # approved: the commitment and the hold are undone in one entry
        entry = _reverse_commitment(session, d, key=key, actor=actor, reason=reason, on=on, uow=uow)
    d.status = "voided"
    d.void_entry_id = entry.id
    d.voided_by_id = actor.id
    d.voided_at = utcnow()
    d.void_reason = reason
    session.flush()
    return d


def _reverse_commitment(
    session: Session,
    d: Disbursement,
    *,
    key: str,
    actor: User,
    reason: str,
    on: dt.date | None,
    uow: UnitOfWork | None = None,
) -> Entry:
    """The negation of an approved disbursement's hold and commitment, as one entry that
    reverses the commitment: the money goes back to its funding source."""
    given_on, on = on, on or today()
    params = {"disbursement_id": d.id, "reason": reason, "on": _iso(given_on)}
    existing = find_by_key(session, key, "disbursement_void", params, uow)
    if existing is not None:
        return session.get(Entry, existing)
    legs = [
        Leg(p.account.code, -p.amount, p.currency)
        for entry_id in (d.reserve_entry_id, d.commit_entry_id)
        for p in session.get(Entry, entry_id).postings
    ]
    posted = post_entry(
        session,
        operation="disbursement_void",
        key=key,
        params=params,
        legs=legs,
        entry_date=on,
        memo=f"沖銷 撥款案 {d.id}: {reason}",
        reverses=d.commit_entry_id,
        related=d.reserve_entry_id,
        created_by=actor.id,
        uow=uow,
    )
    return session.get(Entry, posted.entry_id)


# --- revenue returns -----------------------------------------------------------------------


def create_return_agreement(
    session: Session,
    *,
    actor: User,
    business_id: int,
    share_bp: int,
    start_date: dt.date,
    end_date: dt.date,
    cap_amount: int | None = None,
    currency: str = DEFAULT_CURRENCY,
    project_id: int | None = None,
    disbursement_id: int | None = None,
) -> ReturnAgreement:
    """Fix the share of revenue (basis points) a business returns, for a period, up to a cap."""
    require_manager(actor)
    business = _get(session, Organisation, business_id, "Business")
    if business.kind != "business":
        raise ValidationError(
            "Return agreements are made with local businesses.",
            fields={"business_id": [FieldMessage("not a business", "not_a_business")]},
        )
    if isinstance(share_bp, bool) or not isinstance(share_bp, int) or not 0 < share_bp <= 10000:
        raise ValidationError(
            "The share is in basis points, 1 to 10000.", fields={"share_bp": ["1 to 10000"]}
        )
    if end_date < start_date:
        raise ValidationError(
            "The agreement ends before it starts.",
            fields={"end_date": [FieldMessage("before start_date", "before_start")]},
        )
    if cap_amount is not None:
        cap_amount = _charge_amount(cap_amount, currency, "cap_amount")
    if project_id is not None:
        project = _get(session, Project, project_id, "Project")
        if project.business_id != business_id:
            raise ValidationError(
                f"Project {project_id} belongs to another business.",
                fields={"project_id": ["not this business's project"]},
            )
    if disbursement_id is not None:
        disbursement = _get(session, Disbursement, disbursement_id, "Disbursement")
        if disbursement.project.business_id != business_id or (
            project_id is not None and disbursement.project_id != project_id
        ):
            raise ValidationError(
                f"Disbursement {disbursement_id} was not made to this business's project.",
                fields={"disbursement_id": ["not for this business or project"]},
            )
    agreement = ReturnAgreement(
        business_id=business_id,
        project_id=project_id,
        disbursement_id=disbursement_id,
        share_bp=share_bp,
        start_date=start_date,
        end_date=end_date,
        cap_amount=cap_amount,
        currency=check_currency(currency),
    )
    session.add(agreement)
    session.flush()
    return agreement


def _receivable_for(agreement_id: int) -> str:
    return f"assets:returns_receivable:agreement:{agreement_id}"


def amount_due_total(session: Session, agreement_id: int) -> int:
    """What the reports in force (not reversed by a correction) made due on an agreement."""
    return session.scalar(
        select(func.coalesce(func.sum(RevenueReport.due_amount), 0)).where(
            RevenueReport.agreement_id == agreement_id, RevenueReport.reversed_at.is_(None)
        )
    )


def compute_due(revenue: int, share_bp: int, cap_left: int | None, currency: str) -> int:
    """The share of revenue due, rounded down to whole currency units, never above the cap."""
    due = revenue * share_bp // 10000
    if currency == "TWD":
        due -= due % 100
    if cap_left is not None:
        due = min(due, max(cap_left, 0))
    return due


def _check_report(
    agreement: ReturnAgreement, period_start: dt.date, period_end: dt.date, revenue: object
) -> int:
    """The reported revenue in minor units (whole NT$ for TWD) for a period the agreement
    covers; each way of being wrong has its own message."""
    revenue = check_minor(revenue, positive=False, field="revenue")
    if revenue < 0:
        raise InvalidAmount(
            "Revenue cannot be negative.",
            fields={"revenue": [FieldMessage("negative", "negative")]},
            reason="negative_revenue",
        )
    if agreement.currency == "TWD":
        check_whole_units(revenue, agreement.currency, field="revenue")
    if period_end < period_start:
        raise ValidationError(
            "The period ends before it starts.",
            fields={"period_end": [FieldMessage("before period_start", "before_start")]},
            case="period_reversed",
        )
    if period_start < agreement.start_date or period_end > agreement.end_date:
        raise ValidationError(
            "The period must fall within the agreement "
            f"({agreement.start_date} to {agreement.end_date}).",
            fields={"period_start": [FieldMessage("outside the agreement", "outside_agreement")]},
            reason="outside_agreement",
            params={
                "start": agreement.start_date.isoformat(),
                "end": agreement.end_date.isoformat(),
            },
        )
    return revenue


def _refuse_overlap(
    session: Session,
    agreement_id: int,
    period_start: dt.date,
    period_end: dt.date,
    *,
    besides: int | None = None,
) -> None:
    """One report per period: refuse a period that overlaps a report in force. Call with the
    agreement's receivable locked, so two reports cannot both pass."""
    query = select(RevenueReport).where(
        RevenueReport.agreement_id == agreement_id,
        RevenueReport.reversed_at.is_(None),
        RevenueReport.period_start <= period_end,
        RevenueReport.period_end >= period_start,
    )
    if besides is not None:
        query = query.where(RevenueReport.id != besides)
    other = session.scalars(query.order_by(RevenueReport.period_start).limit(1)).first()
    if other is not None:
        raise ValidationError(
            f"Revenue for {other.period_start} to {other.period_end} was already reported "
            f"(report {other.id}); periods may not overlap. Correct that report instead.",
            fields={
                "period_start": [FieldMessage("overlaps a report already made", "overlaps_report")]
            },
            case="period_overlap",
            id=other.id,
            start=other.period_start.isoformat(),
            end=other.period_end.isoformat(),
            params={
                "id": other.id,
                "start": other.period_start.isoformat(),
                "end": other.period_end.isoformat(),
            },
        )


def report_revenue(
    session: Session,
    *,
    key: str,
    agreement_id: int,
    period_start: dt.date,
    period_end: dt.date,
    revenue: int,
    actor: User | None = None,
    uow: UnitOfWork | None = None,
) -> RevenueReport:
    """A business reports revenue for a period; the amount due is posted as a receivable.

    One report per period: a period that overlaps a report in force is refused (a mistake
    is put right with ``correct_revenue_report``). Revenue in TWD is whole dollars.
    """
    agreement = _get(session, ReturnAgreement, agreement_id, "Return agreement")
    revenue = _check_report(agreement, period_start, period_end, revenue)
    params = {
        "agreement_id": agreement_id,
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "revenue": revenue,
    }
    receivable = _receivable_for(agreement_id)
    # Serialise reports on one agreement: the cap and "one report per period" both hold.
    # The idempotency check comes after the lock, so a racing retry finds its original.
    lock_accounts(session, [receivable])
    existing = find_by_key(session, key, "revenue_report", params, uow)
    if existing is not None:
        return session.scalars(
            select(RevenueReport).where(RevenueReport.entry_id == existing)
        ).one()
    _refuse_overlap(session, agreement_id, period_start, period_end)
    cap_left = (
        None
        if agreement.cap_amount is None
        else agreement.cap_amount - amount_due_total(session, agreement_id)
    )
    due = compute_due(revenue, agreement.share_bp, cap_left, agreement.currency)
    report = RevenueReport(
        agreement_id=agreement_id,
        period_start=period_start,
        period_end=period_end,
        revenue_amount=revenue,
        due_amount=due,
    )
    if due:
        posted = post_entry(
            session,
            operation="revenue_report",
            key=key,
            params=params,
            legs=[
                debit(receivable, due, agreement.currency),
                credit("income:revenue_returns", due, agreement.currency),
            ],
            entry_date=period_end,
            memo=f"收益回流應收 協議 {agreement_id} {format_money(due, agreement.currency)}",
            created_by=actor.id if actor else None,
            uow=uow,
        )
        report.entry_id = posted.entry_id
    session.add(report)
    session.flush()
    return report


def correct_revenue_report(
    session: Session,
    *,
    key: str,
    report_id: int,
    revenue: int,
    reason: str,
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
    on: dt.date | None = None,
    actor: User | None = None,
    uow: UnitOfWork | None = None,
) -> RevenueReport:
    """Correct a revenue report: reverse it and report again, with the reason; both are kept.

    The new report's due amount is posted first and the old one's reversed after, so a
    business that already returned money against the old report can still correct it as
    long as the corrected reports make at least that much due. Returns the new report.
    """
    if not reason or not reason.strip():
        raise ValidationError(
            "A correction needs a reason.",
            fields={"reason": [FieldMessage("required", "required")]},
            reason="correction_reason",
        )
    old = _get(session, RevenueReport, report_id, "Revenue report")
    agreement = _get(session, ReturnAgreement, old.agreement_id, "Return agreement")
    period_start = period_start or old.period_start
    period_end = period_end or old.period_end
    revenue = _check_report(agreement, period_start, period_end, revenue)
    given_on, on = on, on or today()
    params = {
        "report_id": report_id,
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "revenue": revenue,
        "reason": reason,
        "on": _iso(given_on),
    }
    receivable = _receivable_for(agreement.id)
    lock_accounts(session, [receivable])
    session.refresh(old)
    if old.reversed_at is not None:
        newer = session.scalars(
            select(RevenueReport).where(RevenueReport.corrects_report_id == old.id)
        ).one()
        same = (newer.period_start, newer.period_end, newer.revenue_amount, newer.reason)
        if same == (period_start, period_end, revenue, reason):
            return newer  # a retry of this very correction
        raise InvalidState(
            f"Revenue report {old.id} was already corrected by report {newer.id}; "
            "correct that one instead.",
            case="already_corrected",
            id=old.id,
            newer=newer.id,
            params={"id": old.id, "newer": newer.id},
        )
    _refuse_overlap(session, agreement.id, period_start, period_end, besides=old.id)
    cap_left = (
        None
        if agreement.cap_amount is None
        else agreement.cap_amount - (amount_due_total(session, agreement.id) - old.due_amount)
    )
    due = compute_due(revenue, agreement.share_bp, cap_left, agreement.currency)
    cur = agreement.currency
    new = RevenueReport(
        agreement_id=agreement.id,
        period_start=period_start,
        period_end=period_end,
        revenue_amount=revenue,
        due_amount=due,
        corrects_report_id=old.id,
        reason=reason.strip(),
    )
    created_by = actor.id if actor else None
    if due:
        new.entry_id = post_entry(
            session,
            operation="revenue_report_correction",
            key=key,
            params=params,
            legs=[debit(receivable, due, cur), credit("income:revenue_returns", due, cur)],
            entry_date=on,
            memo=f"收益回流應收 更正 報告 {old.id} {format_money(due, cur)}: {reason}",
            created_by=created_by,
            uow=uow,
        ).entry_id
    if old.entry_id is not None:
        original = session.get(Entry, old.entry_id)
        try:
            old.reversal_entry_id = post_entry(
                session,
                operation="reversal",
                key=f"{key}:reversal",
                params={**params, "entry_id": old.entry_id},
                legs=[Leg(p.account.code, -p.amount, p.currency) for p in original.postings],
                entry_date=on,
                memo=f"沖銷 分錄 {old.entry_id}: 收益報告更正 {reason}",
                reverses=old.entry_id,
                created_by=created_by,
                uow=uow,
            ).entry_id
        except InsufficientFunds as exc:
            returned = old.due_amount - exc.extra.get("available", 0)
            raise InvalidAmount(
                "More has already been returned on this agreement than the corrected "
                f"reports make due (the correction is short by {format_money(returned, cur)}).",
                fields={
                    "revenue": [
                        FieldMessage("less than what was already returned", "less_than_returned")
                    ]
                },
                reason="returned_exceeds_due",
                params={"short": returned, "currency": cur},
            ) from exc
    # The old report leaves force before the new one is stored: one report per period
    old.reversed_at = utcnow()
    session.flush()
    session.add(new)
    session.flush()
    return new


def record_revenue_return(
    session: Session,
    *,
    key: str,
    agreement_id: int,
    amount: int,
    received_on: dt.date | None = None,
    deposit_account: str = BANK,
    refs: dict[str, str] | None = None,
    actor: User | None = None,
    uow: UnitOfWork | None = None,
) -> RevenueReturn:
    """Money a business returns against its agreement; it cannot exceed what is due."""
    agreement = _get(session, ReturnAgreement, agreement_id, "Return agreement")
    amount = _charge_amount(amount, agreement.currency)
    given_received_on, received_on = received_on, received_on or today()
    params = {
        "agreement_id": agreement_id,
        "amount": amount,
        "received_on": _iso(given_received_on),
        "deposit_account": deposit_account,
        "refs": refs or {},
    }
    try:
        posted = post_entry(
            session,
            operation="revenue_return",
            key=key,
            params=params,
            legs=[
                debit(deposit_account, amount, agreement.currency),
                credit(_receivable_for(agreement_id), amount, agreement.currency),
            ],
            entry_date=received_on,
            memo=f"收益回流 協議 {agreement_id} {format_money(amount, agreement.currency)}",
            created_by=actor.id if actor else None,
            refs=refs,
            uow=uow,
        )
    except InsufficientFunds as exc:
        raise InvalidAmount(
            f"The return exceeds what is due on agreement {agreement_id} "
            f"({format_money(exc.extra.get('available', 0), agreement.currency)}).",
            fields={"amount": [FieldMessage("exceeds the amount due", "exceeds_due")]},
            reason="exceeds_agreement_due",
            params={"amount": exc.extra.get("available", 0), "currency": agreement.currency},
        ) from exc
    if not posted.fresh:
        return session.scalars(
            select(RevenueReturn).where(RevenueReturn.entry_id == posted.entry_id)
        ).one()
    ret = RevenueReturn(
        agreement_id=agreement_id,
        amount=amount,
        currency=agreement.currency,
        received_on=received_on,
        entry_id=posted.entry_id,
    )
    session.add(ret)
    session.flush()
    return ret


# --- corrections ---------------------------------------------------------------------------


def reverse_entry(
    session: Session,
    *,
    key: str,
    entry_id: int,
    actor: User,
    reason: str,
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Entry:
    """Post the exact negation of an entry. An entry can be reversed only once."""
    require_manager(actor)
    original = _get(session, Entry, entry_id, "Entry")
    if original.reverses_entry_id is not None:
        raise InvalidState(
            "A reversing entry cannot itself be reversed; post a new entry instead.",
            reason="reversing_entry",
        )
    given_on, on = on, on or today()
    params = {"entry_id": entry_id, "reason": reason, "on": _iso(given_on)}
    existing = find_by_key(session, key, "reversal", params, uow)
    if existing is not None:
        return session.get(Entry, existing)
    if session.scalar(select(Entry.id).where(Entry.reverses_entry_id == entry_id)) is not None:
        raise AlreadyReversed(
            f"Entry {entry_id} has already been reversed.", params={"id": entry_id}
        )
    legs = [Leg(p.account.code, -p.amount, p.currency) for p in original.postings]
    try:
        posted = post_entry(
            session,
            operation="reversal",
            key=key,
            params=params,
            legs=legs,
            entry_date=on,
            memo=f"沖銷 分錄 {entry_id}: {reason}",
            reverses=entry_id,
            created_by=actor.id,
            uow=uow,
        )
    except IntegrityError as exc:
        # Two reversals raced; the unique reverses_entry_id let only one through.
        raise AlreadyReversed(
            f"Entry {entry_id} has already been reversed.", params={"id": entry_id}
        ) from exc
    return session.get(Entry, posted.entry_id)


def reverse_adjustment(
    session: Session,
    *,
    key: str,
    entry_id: int,
    actor: User,
    reason: str,
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Entry:
    """Reverse a manual adjustment (once only), with the reason on the record.

    Entries of other operations are corrected through their own operation (void the
    disbursement, refund the donation): reversing only their entry would leave the record
    behind it (the disbursement, the donation) saying something else than the books.
    """
    require_manager(actor)
    if not reason or not reason.strip():
        raise ValidationError(
            "A reversal needs a reason.",
            fields={"reason": [FieldMessage("required", "required")]},
            reason="say_why",
        )
    entry = _get(session, Entry, entry_id, "Entry")
    # A reversal itself gets reverse_entry's own refusal ("cannot itself be reversed")
    if entry.kind != "adjustment" and entry.reverses_entry_id is None:
        raise InvalidState(
            f"Entry {entry_id} records a {entry.kind.replace('_', ' ')}; correct it through "
            "that operation (only manual adjustments are reversed directly).",
            case="not_an_adjustment",
            id=entry_id,
            kind=entry.kind,
            params={"id": entry_id, "kind": entry.kind},
        )
    return reverse_entry(
        session, key=key, entry_id=entry_id, actor=actor, reason=reason, on=on, uow=uow
    )


@dataclass(frozen=True)
class AdjustmentLine:
    account: str
    amount: int
    currency: str = DEFAULT_CURRENCY


def record_adjustment(
    session: Session,
    *,
    key: str,
    actor: User,
    lines: Sequence[AdjustmentLine],
    reason: str,
    on: dt.date | None = None,
    uow: UnitOfWork | None = None,
) -> Entry:
    """A manual, balanced adjustment by a fund manager, with the reason on the record."""
    require_manager(actor)
    if not reason or not reason.strip():
        raise ValidationError(
            "An adjustment needs a reason.",
            fields={"reason": [FieldMessage("required", "required")]},
            reason="say_why",
        )
    given_on, on = on, on or today()
    params = {
        "lines": [(ln.account, ln.amount, ln.currency) for ln in lines],
        "reason": reason,
        "on": _iso(given_on),
    }
    posted = post_entry(
        session,
        operation="adjustment",
        key=key,
        params=params,
        legs=[Leg(ln.account, ln.amount, ln.currency) for ln in lines],
        entry_date=on,
        memo=f"調整: {reason}",
        created_by=actor.id,
        uow=uow,
    )
    return session.get(Entry, posted.entry_id)
