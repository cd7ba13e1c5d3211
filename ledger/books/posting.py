"""The posting engine: one balanced, idempotent entry per call, with balances kept current.

Every operation of the fund (``ledger.fund``) ends up in ``post_entry``. The order of the
statements matters and is the whole concurrency story:

1. Claim the idempotency key by inserting the entry row (``ON CONFLICT DO NOTHING``). A
   racing retry with the same key waits on the unique index until the first commits, then
   finds the stored entry and returns it; nothing is posted twice.
2. Update each account's balance, in account-code order, with a guarded ``UPDATE``: the row
   lock it takes is held to commit, so concurrent writers serialise per account (no lost
   update), always in the same order (no deadlock), and the ``WHERE`` clause refuses an
   overdraft, a closed account, a wrong currency or a date in a closed period atomically.
3. Insert the postings. On PostgreSQL a deferred constraint trigger re-checks at commit that
   the entry balances per currency; on both databases triggers refuse UPDATE and DELETE.

On PostgreSQL all of it is one write and one round trip (foundation.pgwire; BEGIN included,
and COMMIT too when the service's posting is its last write and the caller's unit of work
allows it): the claim first, then the postings and the service's own row, then the balance
updates last, so busy balance rows are locked for the shortest time. Each statement after
the claim acts only if the claim inserted its row, so a replay writes nothing and waits for
no balance lock.

The caller owns the transaction (commit or roll back at the request boundary) and may hand
the services a unit of work (foundation.transactions.UnitOfWork), which they pass on here:
it says whether the last posting may commit, and is told of a replay. An error raised after
the entry row was written marks the session (``refuse_commit``): the app's sessions then
refuse to commit until rolled back, so a caller that catches the error cannot half-post an
entry (on PostgreSQL the deferred balance trigger would refuse that commit too).
"""

from __future__ import annotations

import datetime as dt
import functools
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from foundation.db import as_loaded, utcnow
from foundation.errors import (
    AccountClosed,
    CurrencyMismatch,
    FieldMessage,
    IdempotencyConflict,
    InsufficientFunds,
    PeriodClosed,
    ValidationError,
)
from foundation.metrics import POSTINGS, count_after_commit
from foundation.pgwire import Batch, numbered, raise_as_sqlalchemy
from foundation.transactions import PostingRefused, UnitOfWork, refuse_commit
from ledger.books.chart import FIXED_ACCOUNTS, spec_for
from ledger.books.legs import Leg, normalise_legs, request_hash
from ledger.books.models import Account, Entry, Period
from ledger.money import format_money


@dataclass(frozen=True)
class Posted:
    """Result of ``post_entry``: the entry id, whether this call created it, and the
    companion record it inserted (None on a replay or without one)."""

    entry_id: int
    fresh: bool
    record: object | None = None


@dataclass(frozen=True)
class Companion:
    """A service's own row that belongs to the entry (a donation): ``model`` and its column
    values, without ``entry_id``, which post_entry fills in once the key is claimed.

    On PostgreSQL it travels in the same pipelined round trip as the postings and before the
    balance updates, so busy balance rows stay locked only for the updates and the commit.
    """

    model: type
    values: Mapping[str, object]


#: SQLSTATE of ledger_refuse (migration 0009)
REFUSED = "PF001"


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def open_account(session: Session, code: str) -> Account:
    """Return the account with this code, opening it from the chart if it is new."""
    account = session.scalars(select(Account).where(Account.code == code)).one_or_none()
    if account is not None:
        return account
    spec = spec_for(code)
    session.execute(
        _insert(session, Account)
        .values(
            code=spec.code,
            name=spec.name,
            type=spec.type,
            currency=spec.currency,
            normal_sign=spec.normal_sign,
            allow_negative=spec.allow_negative,
            balance=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )
    return session.scalars(select(Account).where(Account.code == code)).one()


def closed_through(session: Session) -> dt.date | None:
    """The last date of the latest closed period, or None."""
    return session.scalar(select(func.max(Period.end_date)))


def check_key(key: object) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > 255:
        raise ValidationError(
            "An idempotency key (1 to 255 characters) is required.",
            fields={"idempotency_key": ["required, 1 to 255 characters"]},
        )
    return key


def find_by_key(
    session: Session,
    key: str,
    operation: str,
    params: Mapping[str, object],
    uow: UnitOfWork | None = None,
) -> int | None:
    """The entry stored under ``key`` if it was made by the same request; None if unused.

    The same key with a different request is an error, never a silent second posting. A
    replay is reported to the caller's unit of work (``uow.replayed``), if it gave one.
    """
    row = session.execute(
        select(Entry.id, Entry.request_hash).where(Entry.idempotency_key == key)
    ).one_or_none()
    if row is None:
        return None
    if row.request_hash != request_hash(operation, params):
        raise IdempotencyConflict(
            f"Idempotency key {key!r} was already used for a different request.",
            fields={
                "idempotency_key": [
                    FieldMessage("already used with different content", "key_reused")
                ]
            },
        )
    # Every replay passes here (post_entry's and the services' own early checks): the API
    # answers it with Idempotent-Replayed: true, as Stripe does
    if uow is not None:
        uow.replayed = True
    return row.id


# The posting path is the ledger's hot loop, so it runs hand-written SQL on the session's own
# DBAPI connection (same transaction) instead of building SQLAlchemy statements: that cuts
# the client-side cost per entry several-fold (see bench/ledger_bench.py). psycopg prepares
# these statements server-side after a few executions. ``%s`` becomes ``?`` for sqlite3.
#: The id the claim (the first statement of the pipeline) drew from the entry sequence: the
#: claim draws it even when the key is taken and it inserts nothing. A scalar subquery, so
#: the server reads it once per statement and can use the primary-key index with it.
_CLAIMED = "(SELECT currval('ledger_entries_id_seq'))"
#: True only when the claim inserted its row: a taken key leaves its drawn id unused.
_IF_CLAIMED = f"SELECT 1 FROM ledger_entries WHERE id = {_CLAIMED}"

_SQL = {
    "entry": (
        "INSERT INTO ledger_entries (kind, entry_date, memo, idempotency_key, request_hash,"
        " reverses_entry_id, related_entry_id, created_by_id, source_refs, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
    ),
    # One guarded update per account, in account-code order: the row lock it takes is the
    # serialisation point; the WHERE clause refuses overdraft, closed account, wrong
    # currency and a date inside a closed period in the same atomic step.
    "apply": (
        "UPDATE ledger_accounts SET balance = balance + %s"
        " WHERE code = %s AND currency = %s AND closed_at IS NULL"
        " AND (allow_negative OR (balance + %s) * normal_sign >= 0)"
        " AND NOT EXISTS (SELECT 1 FROM ledger_periods WHERE end_date >= %s)"
        " RETURNING id"
    ),
    "apply_claimed": (
        "UPDATE ledger_accounts SET balance = balance + %s"
        " WHERE code = %s AND currency = %s AND closed_at IS NULL"
        " AND (allow_negative OR (balance + %s) * normal_sign >= 0)"
        " AND NOT EXISTS (SELECT 1 FROM ledger_periods WHERE end_date >= %s)"
        f" AND EXISTS ({_IF_CLAIMED}) RETURNING id"
    ),
    "posting": "(%s, %s, %s, %s, %s)",
    "postings": (
        "INSERT INTO ledger_postings (entry_id, account_id, amount, currency, entry_date) VALUES "
    ),
}


#: The same statements with PostgreSQL's numbered parameters, for foundation.pgwire
_PG = {key: numbered(sql) for key, sql in _SQL.items() if key in ("entry", "apply_claimed")}
#: The guarded update for a posting that commits in the same round trip: a claimed entry
#: whose update matched no row fails the transaction (ledger_refuse, migration 0009)
_PG["apply_or_refuse"] = (
    f"WITH moved AS ({_PG['apply_claimed']}) SELECT id FROM moved UNION ALL"
    " SELECT ledger_refuse('account ' || $2) WHERE NOT EXISTS (SELECT 1 FROM moved)"
    f" AND EXISTS ({_IF_CLAIMED})"
)


@functools.cache
def _postings_sql(legs: int, refuse: bool = False) -> str:
    """The postings of the claimed entry, found by account code (no lookup round trip).

    ``refuse``: a posting whose account was not found fails the transaction.
    """
    sql = numbered(
        "INSERT INTO ledger_postings (entry_id, account_id, amount, currency, entry_date)"
        " SELECT e.id, a.id, v.amount, v.currency, %s::date FROM ledger_entries e, (VALUES "
        + ", ".join(["(%s::text, %s::bigint, %s::text)"] * legs)
        + ") AS v(code, amount, currency) JOIN ledger_accounts a ON a.code = v.code"
        f" WHERE e.id = {_CLAIMED} RETURNING account_id"
    )
    if not refuse:
        return sql
    return (
        f"WITH posted AS ({sql}) SELECT account_id FROM posted UNION ALL"
        " SELECT ledger_refuse('postings') WHERE (SELECT count(*) FROM posted) <> "
        f"{legs} AND EXISTS ({_IF_CLAIMED})"
    )


class _Raw:
    """The session's DBAPI cursor, with parameters in the form each driver expects."""

    def __init__(self, session: Session):
        connection = session.connection()
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        self.cursor = connection.connection.driver_connection.cursor()

    def sql(self, text: str) -> str:
        return text.replace("%s", "?") if self.sqlite else text

    def value(self, v):
        # sqlite3's date adapters are deprecated; SQLAlchemy stores dates and UTC datetimes
        # there as ISO text, so write exactly that.
        if self.sqlite and isinstance(v, dt.datetime):
            return v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if self.sqlite and isinstance(v, dt.date):
            return v.isoformat()
        return v

    def one(self, text: str, params: Iterable[object]):
        try:
            self.cursor.execute(self.sql(text), [self.value(v) for v in params])
            return self.cursor.fetchone()
        except self.connection.dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy would raise it (IntegrityError, OperationalError...)
            raise_as_sqlalchemy(self.connection, exc, text)


def post_entry(
    session: Session,
    *,
    operation: str,
    key: str,
    params: Mapping[str, object],
    legs: Iterable[Leg],
    entry_date: dt.date,
    memo: str = "",
    created_by: int | None = None,
    reverses: int | None = None,
    related: int | None = None,
    refs: Mapping[str, str] | None = None,
    companion: Companion | None = None,
    last_write: bool = False,
    uow: UnitOfWork | None = None,
) -> Posted:
    """Post one balanced entry under an idempotency key. See the module docstring.

    ``companion`` is inserted with the entry once the key is claimed (see Companion) and
    comes back as ``Posted.record``, an object of the session as if it had been loaded.

    ``uow``: the caller's unit of work on ``session``, if it gave one. ``last_write``: the
    service writes nothing after this posting. If the unit of work allows it too
    (``uow.commit_with_posting``, which foundation.transactions.write sets), the posting
    commits the transaction in its own round trip on PostgreSQL; a refusal then raises
    PostingRefused, and the caller rolls back and runs the service again without it. A
    replay sets ``uow.replayed``.
    """
    check_key(key)
    legs = normalise_legs(legs)
    digest = request_hash(operation, params)
    source_refs = "\n".join(f"{k}={v}" for k, v in sorted((refs or {}).items()) if v)
    raw = _Raw(session)
    entry = (
        operation,
        entry_date,
        memo,
        key,
        digest,
        reverses,
        related,
        created_by,
        source_refs,
        utcnow(),
    )
    insert = None if companion is None else _CompanionInsert(companion)
    commit = False
    if raw.sqlite:
        row = raw.one(_SQL["entry"], entry)
        entry_id = None if row is None else row[0]
    else:
        commit = last_write and uow is not None and uow.commit_with_posting
        if commit and (session.new or session.dirty or session.deleted):
            session.flush()  # the ORM's pending writes belong to the same transaction
        try:
            entry_id = _post_pipelined(session, raw, entry, legs, entry_date, insert, commit)
        except Exception as exc:
            # The claim may have been written before the failure (PostgreSQL has aborted
            # the transaction anyway): the session must be rolled back, never committed.
            refuse_commit(session, f"{type(exc).__name__}: {exc}")
            if getattr(getattr(exc, "orig", exc), "sqlstate", None) == REFUSED:
                raise PostingRefused(str(exc)) from exc
            raise
        if commit:
            # Committed with the statements; SQLAlchemy's commit now only ends its own
            # transaction (psycopg sees none open and sends nothing)
            session.commit()
    if entry_id is None:
        existing = find_by_key(session, key, operation, params, uow)
        if existing is None:  # pragma: no cover - a conflict means the row exists
            raise IdempotencyConflict(f"Idempotency key {key!r} is in use.")
        return Posted(existing, fresh=False)
    record = None
    try:
        if raw.sqlite:
            if insert is not None:
                insert.returned = raw.one(insert.sql, insert.with_entry(entry_id))
            account_ids = [_apply(session, raw, leg, entry_date) for leg in legs]
            _insert_postings(raw, entry_id, entry_date, legs, account_ids)
        if insert is not None:
            record = insert.persistent(session, entry_id)
    except Exception as exc:
        refuse_commit(session, f"{type(exc).__name__}: {exc}")
        raise
    _expire_balances(session, legs)
    count_after_commit(session, POSTINGS.labels(operation=operation), len(legs))
    return Posted(entry_id, fresh=True, record=record)


class _CompanionInsert:
    """The SQL for a Companion, with the model's Python-side column defaults filled in.

    ``sql`` takes ``entry_id`` as its last parameter (SQLite, after the claim); ``claimed``
    reads it from the claim made earlier in the same pipeline and inserts nothing when the
    claim found the key taken (PostgreSQL).
    """

    #: (model, given columns) -> (defaults to fill in, sql, claimed sql): built once each
    _plans: dict = {}

    def __init__(self, companion: Companion):
        model = companion.model
        plan = self._plans.get((model, tuple(companion.values)))
        if plan is None:
            plan = self._plans[(model, tuple(companion.values))] = self._plan(companion)
        defaults, self.sql, self.claimed = plan
        values = dict(companion.values)
        for key, default in defaults:
            values[key] = default.arg(None) if default.is_callable else default.arg
        self.model, self.values, self.returned = model, values, None
        self.params = list(values.values())

    @staticmethod
    def _plan(companion: Companion):
        table = companion.model.__table__
        defaults = [
            (column.key, column.default)
            for column in table.columns
            if column.key not in companion.values
            and column.key not in ("id", "entry_id")
            and column.default is not None
        ]
        columns = ", ".join([*companion.values, *(key for key, _ in defaults), "entry_id"])
        marks = ", ".join(["%s"] * (len(companion.values) + len(defaults)))
        sql = f"INSERT INTO {table.name} ({columns}) VALUES ({marks}, %s) RETURNING id"
        # Parameters in a SELECT list have no type the server can infer: each is cast to
        # its column's type (foundation.pgwire sends text)
        pg = postgresql.dialect()
        casts = ", ".join(
            f"%s::{table.c[key].type.compile(dialect=pg)}"
            for key in [*companion.values, *(key for key, _ in defaults)]
        )
        claimed = numbered(
            f"INSERT INTO {table.name} ({columns}) SELECT {casts}, {_CLAIMED}"
            f" WHERE EXISTS ({_IF_CLAIMED}) RETURNING id"
        )
        return defaults, sql, claimed

    def with_entry(self, entry_id: int) -> list:
        return [*self.params, entry_id]

    def persistent(self, session: Session, entry_id: int):
        """The inserted row as an object of the session, without reading it back."""
        obj = as_loaded(self.model, {"id": self.returned[0], "entry_id": entry_id, **self.values})
        session.add(obj)
        return obj


def _expire_balances(session: Session, legs: list[Leg]) -> None:
    """Balances moved by SQL behind the ORM's back: an Account already loaded in this session
    must read its balance again, or a later read in the same session would be stale."""
    codes = {leg.account for leg in legs}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Account) and obj.code in codes:
            session.expire(obj, ["balance"])


def _insert_postings(raw: _Raw, entry_id: int, entry_date, legs, account_ids) -> None:
    values = []
    for leg, account_id in zip(legs, account_ids, strict=True):
        values += [entry_id, account_id, leg.amount, leg.currency, entry_date]
    raw.cursor.execute(
        raw.sql(_SQL["postings"] + ", ".join([_SQL["posting"]] * len(legs))),
        [raw.value(v) for v in values],
    )


#: Account codes known to exist, per engine. Accounts are never deleted, so this only saves
#: the "open if new" insert on later postings; it is a cache of a fact, not state.
_KNOWN_ACCOUNTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _known_accounts(session: Session) -> set[str]:
    engine = session.get_bind()
    known = _KNOWN_ACCOUNTS.get(engine)
    if known is None:
        known = _KNOWN_ACCOUNTS[engine] = set(FIXED_ACCOUNTS)
    return known


def _post_pipelined(
    session: Session,
    raw: _Raw,
    entry: tuple,
    legs: list[Leg],
    entry_date: dt.date,
    insert: _CompanionInsert | None = None,
    commit: bool = False,
) -> int | None:
    """PostgreSQL: the claim, postings, companion row and guarded balance updates in one
    round trip (pipeline mode). Returns the new entry's id, or None when the key was taken.

    With ``commit`` the COMMIT travels in the same round trip. A leg that would be
    diagnosed below (no balance row matched, or a posting missing) then raises in the
    database instead (``ledger_refuse``), so the COMMIT behind it is skipped.

    Every statement after the claim acts only if the claim inserted its row (``_IF_CLAIMED``):
    a replay or a racing retry writes nothing and locks no balance. The postings go before
    the balance updates (they find their accounts by code, so no lookup round trip), so hot
    account rows stay locked only from the update to the commit. The server runs the updates
    one after the other in account-code order, so the lock order is unchanged. An update
    that matched nothing is diagnosed, never retried: later accounts are locked by then, and
    taking an earlier one could deadlock. The one exception is an account used for the first
    time, which is opened, then posted to.
    """
    values = []
    for leg in legs:
        values += [leg.account, leg.amount, leg.currency]
    # Accounts used for the first time are opened first, in code order and before any
    # balance row is locked: two transactions opening the same new account then wait on
    # each other only while neither holds a balance lock, so they cannot deadlock.
    known = _known_accounts(session)
    new_specs = [spec_for(leg.account) for leg in legs if leg.account not in known]
    batch = Batch(raw.cursor.connection, raw.connection)
    claim = batch.add(_PG["entry"], entry)
    opened = None
    if new_specs:
        opened = batch.add(
            numbered(
                "INSERT INTO ledger_accounts (code, name, type, currency, normal_sign,"
                " allow_negative, balance, created_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s, %s, 0, %s)"] * len(new_specs))
                + " ON CONFLICT (code) DO NOTHING RETURNING code"
            ),
            [
                v
                for spec in new_specs
                for v in (
                    spec.code,
                    spec.name,
                    spec.type,
                    spec.currency,
                    spec.normal_sign,
                    spec.allow_negative,
                    utcnow(),
                )
            ],
        )
    inserted = batch.add(_postings_sql(len(legs), commit), [entry_date, *values])
    companion = None if insert is None else batch.add(insert.claimed, insert.params)
    updates = [
        batch.add(
            _PG["apply_or_refuse" if commit else "apply_claimed"],
            (leg.amount, leg.account, leg.currency, leg.amount, entry_date),
        )
        for leg in legs
    ]
    results = batch.run(commit=commit)
    if opened is not None:
        # Only accounts that were already committed are known to exist for good; the ones
        # this transaction opened exist only if it commits.
        res = results[opened].pgresult
        created_here = {res.get_value(i, 0).decode() for i in range(res.ntuples)}
        known.update(spec.code for spec in new_specs if spec.code not in created_here)
    entry_id = results[claim].scalar()
    if entry_id is None:
        return None
    posted_to = set(results[inserted].scalars())
    if companion is not None:
        insert.returned = (results[companion].scalar(),)
    for leg, update in zip(legs, updates, strict=True):
        account_id = results[update].scalar()
        if account_id is None:
            # Only a newly opened account gets past _apply without raising.
            account_id = _apply(session, raw, leg, entry_date, retry=False, seen=posted_to)
        if account_id not in posted_to:
            # The account was opened after the postings statement looked for it (by this
            # transaction, or by another that committed in between): post its leg now.
            _insert_postings(raw, entry_id, entry_date, [leg], [account_id])
    return entry_id


def _apply(
    session: Session,
    raw: _Raw,
    leg: Leg,
    entry_date: dt.date,
    retry: bool = True,
    seen: frozenset[int] | set[int] = frozenset(),
) -> int:
    """Move one account's balance, refusing what the account or the period does not allow."""
    if retry:
        row = raw.one(
            _SQL["apply"], (leg.amount, leg.account, leg.currency, leg.amount, entry_date)
        )
        if row is not None:
            return row[0]
    # The guarded update matched nothing: find out why and say so. The rare path, so the
    # extra queries cost nothing on the common one.
    through = closed_through(session)
    if through is not None and entry_date <= through:
        raise PeriodClosed(
            f"The books are closed through {through.isoformat()}; "
            f"an entry dated {entry_date.isoformat()} cannot be posted.",
            fields={
                "entry_date": [
                    FieldMessage(
                        f"on or before the closed date {through.isoformat()}",
                        "closed_date",
                        date=through.isoformat(),
                    )
                ]
            },
            reason="closed_through",
            params={"through": through.isoformat(), "date": entry_date.isoformat()},
        )
    account = session.scalars(select(Account).where(Account.code == leg.account)).one_or_none()
    if account is None:
        open_account(session, leg.account)  # raises UnknownAccount if not in the chart
        return _apply(session, raw, leg, entry_date)
    if account.closed_at is not None:
        raise AccountClosed(
            f"Account {account.code} is closed.",
            account=account.code,
            params={"account": account.code},
        )
    if account.currency != leg.currency:
        raise CurrencyMismatch(
            f"Account {account.code} holds {account.currency}, not {leg.currency}.",
            fields={"currency": [f"{account.code} is in {account.currency}"]},
        )
    session.refresh(account)
    if (
        not retry
        and account.id not in seen
        and (account.allow_negative or (account.balance + leg.amount) * account.normal_sign >= 0)
    ):
        # Opened by another transaction that committed after our statements looked for it
        # (a refused update on an account we could already see is never retried: later
        # accounts are locked by now, and taking this one could deadlock).
        return _apply(session, raw, leg, entry_date)
    available = account.natural_balance
    raise InsufficientFunds(
        f"Not enough in {account.code}: it holds "
        f"{format_money(available, account.currency)} and this needs "
        f"{format_money(abs(leg.amount), account.currency)}.",
        account=account.code,
        available=available,
        reason="not_enough",
        params={
            "account": account.code,
            "held": available,
            "needed": abs(leg.amount),
            "currency": account.currency,
        },
    )


def lock_accounts(session: Session, codes: Iterable[str]) -> dict[str, Account]:
    """Lock account rows (in code order) before reading a balance that a posting depends on."""
    ordered = sorted(set(codes))
    for code in ordered:
        open_account(session, code)
    rows = session.scalars(
        select(Account)
        .where(Account.code.in_(ordered))
        .order_by(Account.code)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {row.code: row for row in rows}
