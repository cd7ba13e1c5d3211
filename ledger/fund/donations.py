"""Donations, refunds, disputes and payouts: money in from donors, through Stripe or the bank."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.errors import (
    FieldMessage,
    InvalidAmount,
    ValidationError,
)
from foundation.metrics import DONATIONS, count_after_commit
from foundation.transactions import UnitOfWork
from identity.models import Organisation, User
from ledger.books import chart
from ledger.books.legs import Leg, credit, debit
from ledger.books.models import Entry
from ledger.books.posting import Companion, find_by_key, lock_accounts, post_entry
from ledger.fund.common import BANK, _charge_amount, _get, _iso, today
from ledger.fund.models import (
    DONATION_CHANNELS,
    Donation,
    Payout,
    Pledge,
)
from ledger.fund.pledges import pledge_paid
from ledger.money import (
    DEFAULT_CURRENCY,
    check_currency,
    check_minor,
    format_money,
)


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
    count_after_commit(session, DONATIONS.labels(channel=channel))
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
