"""Reading the books: balances (now and as of a date), statements, trial balance, periods."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from foundation.errors import NotFound
from ledger.books.models import Account, Entry, Posting


def get_account(session: Session, code: str) -> Account:
    account = session.scalars(select(Account).where(Account.code == code)).one_or_none()
    if account is None:
        raise NotFound(f"Account {code!r} does not exist.", reason="account", params={"code": code})
    return account


def balance(session: Session, code: str, as_of: dt.date | None = None) -> int:
    """Natural balance of an account in minor units (positive for a normal asset or liability).

    Without ``as_of`` this reads the stored balance (O(1)); with it, it sums postings dated
    up to and including ``as_of`` over the (account, date) index.
    """
    account = get_account(session, code)
    if as_of is None:
        return account.natural_balance
    raw = session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0)).where(
            Posting.account_id == account.id, Posting.entry_date <= as_of
        )
    )
    return raw * account.normal_sign


@dataclass(frozen=True)
class AccountStatementLine:
    entry_id: int
    entry_date: dt.date
    kind: str
    memo: str
    amount: int  # natural sign: positive increases the account's normal balance
    running: int


@dataclass(frozen=True)
class Statement:
    account: Account
    start: dt.date | None
    end: dt.date | None
    opening: int
    lines: list[AccountStatementLine]
    #: On a paged statement, the position to pass as ``before`` for the earlier page
    earlier: tuple[dt.date, int, int] | None = None

    @property
    def closing(self) -> int:
        return self.lines[-1].running if self.lines else self.opening


def statement(
    session: Session, code: str, start: dt.date | None = None, end: dt.date | None = None
) -> Statement:
    """An account's postings between two dates with the running balance after each."""
    account = get_account(session, code)
    opening = 0
    if start is not None:
        opening = balance(session, code, start - dt.timedelta(days=1))
    query = (
        select(Posting.entry_id, Posting.entry_date, Posting.amount, Entry.kind, Entry.memo)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Posting.account_id == account.id)
        .order_by(Posting.entry_date, Posting.entry_id, Posting.id)
    )
    if start is not None:
        query = query.where(Posting.entry_date >= start)
    if end is not None:
        query = query.where(Posting.entry_date <= end)
    running = opening
    lines = []
    for row in session.execute(query):
        amount = row.amount * account.normal_sign
        running += amount
        lines.append(
            AccountStatementLine(row.entry_id, row.entry_date, row.kind, row.memo, amount, running)
        )
    return Statement(account, start, end, opening, lines)


def statement_page(
    session: Session,
    code: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    limit: int,
    before: tuple[dt.date, int, int] | None = None,
) -> Statement:
    """The latest ``limit`` postings of an account's statement (before ``before``, a
    position ``(date, entry id, posting id)``), in date order with the running balance.

    An account with 500,000 postings cannot be rendered whole; this reads one page over the
    (account, date, entry) index. The running balance is worked backwards from the closing
    balance (the stored balance, O(1), when there is no end date), so the first page costs
    no sum over the account's history; an earlier page sums only the postings after it.
    """
    account = get_account(session, code)
    sign = account.normal_sign
    running = balance(session, code, end)
    position = (Posting.entry_date, Posting.entry_id, Posting.id)
    in_range = [Posting.account_id == account.id]
    if start is not None:
        in_range.append(Posting.entry_date >= start)
    if end is not None:
        in_range.append(Posting.entry_date <= end)
    if before is not None:
        later = session.scalar(
            select(func.coalesce(func.sum(Posting.amount), 0)).where(
                Posting.account_id == account.id,
                tuple_(*position) >= tuple_(*before),
                *([Posting.entry_date <= end] if end is not None else []),
            )
        )
        running -= later * sign
        in_range.append(tuple_(*position) < tuple_(*before))
    rows = session.execute(
        select(
            Posting.id, Posting.entry_id, Posting.entry_date, Posting.amount, Entry.kind, Entry.memo
        )
        .join(Entry, Entry.id == Posting.entry_id)
        .where(*in_range)
        .order_by(Posting.entry_date.desc(), Posting.entry_id.desc(), Posting.id.desc())
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    lines = []
    for row in rows:  # newest first: each line's running balance, then the one before it
        amount = row.amount * sign
        lines.append(
            AccountStatementLine(row.entry_id, row.entry_date, row.kind, row.memo, amount, running)
        )
        running -= amount
    lines.reverse()
    earlier = (rows[-1].entry_date, rows[-1].entry_id, rows[-1].id) if more else None
    return Statement(account, start, end, running, lines, earlier)


@dataclass
class TrialBalance:
    as_of: dt.date | None
    #: (code, name, type, currency, debit, credit) per account with a non-zero balance
    rows: list[tuple[str, str, str, str, int, int]] = field(default_factory=list)
    #: per currency: (total debits, total credits); equal when the books balance
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return all(d == c for d, c in self.totals.values())


def trial_balance(session: Session, as_of: dt.date | None = None) -> TrialBalance:
    """Every account's debit or credit balance, and totals per currency that must agree."""
    if as_of is None:
        raw = {a.id: a.balance for a in session.scalars(select(Account))}
    else:
        raw = dict(
            session.execute(
                select(Posting.account_id, func.sum(Posting.amount))
                .where(Posting.entry_date <= as_of)
                .group_by(Posting.account_id)
            ).all()
        )
    tb = TrialBalance(as_of)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for account in session.scalars(select(Account).order_by(Account.code)):
        value = raw.get(account.id, 0)
        if not value:
            continue
        dr, cr = (value, 0) if value > 0 else (0, -value)
        tb.rows.append((account.code, account.name, account.type, account.currency, dr, cr))
        totals[account.currency][0] += dr
        totals[account.currency][1] += cr
    tb.totals = {cur: (d, c) for cur, (d, c) in sorted(totals.items())}
    return tb


@dataclass(frozen=True)
class FundPosition:
    """What the fund holds for spending: unrestricted and per restricted purpose."""

    currency: str
    unrestricted: int
    restricted: dict[str, int]
    #: per funding source (``unrestricted`` or a purpose): held for proposals awaiting
    #: a second institution's approval
    held: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.unrestricted + sum(self.restricted.values()) + sum(self.held.values())


def fund_position(session: Session, currency: str = "TWD") -> FundPosition:
    """Net assets: restricted buckets and money held for pending proposals as stored;
    unrestricted plus income less expenses.

    Income and expense accounts are not closed into net assets, so unrestricted net assets
    are the stored account plus the net of every income and expense account in the currency.
    """
    restricted: dict[str, int] = {}
    held: dict[str, int] = {}
    unrestricted = 0
    for account in session.scalars(select(Account).where(Account.currency == currency)):
        if account.code.startswith("net_assets:restricted:"):
            if account.balance:
                restricted[account.code.removeprefix("net_assets:restricted:")] = (
                    account.natural_balance
                )
        elif account.code.startswith("net_assets:held:"):
            if account.balance:
                held[account.code.removeprefix("net_assets:held:")] = account.natural_balance
        elif account.code == "net_assets:unrestricted" or account.type in ("income", "expense"):
            unrestricted += -account.balance
    return FundPosition(
        currency, unrestricted, dict(sorted(restricted.items())), dict(sorted(held.items()))
    )


# --- periods -------------------------------------------------------------------------------
