"""Reconciliation, the database side: import statements, run the rules, record decisions.

The rules themselves are pure (``ledger.reconciliation.rules``); this module feeds them from the
database and stores what they found:

* ``import_bank_statement`` parses a CSV (UTF-8 or Big5, ROC or ISO dates) and stores its
  lines once each (unique fingerprint). A file with malformed lines imports nothing unless
  the manager asks to skip them; the errors carry line numbers. ``read_bank_statement``
  parses without storing, for a caller that looks first and then imports that reading.
* ``import_stripe_transactions`` stores Stripe balance transactions the same way
  (fingerprint ``stripe:<txn id>``).
* ``run_bank`` / ``run_stripe`` match lines against the ledger and store a run with one
  result per finding. A dry run stores the run and changes nothing else.
* ``confirm_line`` / ``unmatch_line`` / ``ignore_line``: a manager's decision, with reason.

Every function only flushes; the caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gc
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from foundation.db import utcnow
from foundation.errors import FieldMessage, InvalidState, NotFound, ValidationError
from identity.models import User
from ledger.books import reading
from ledger.books.models import Account, Entry, Posting
from ledger.fund import common
from ledger.fund import donations as fund_donations
from ledger.fund import pledges as fund_pledges
from ledger.fund.models import Disbursement, Donation, Payout, Pledge, RevenueReturn
from ledger.fund.pledge_payments import paid_per_pledge
from ledger.fund.virtual_accounts import VirtualAccountScheme
from ledger.money import format_money
from ledger.reconciliation import queue
from ledger.reconciliation.bank_files import (
    MAPPINGS,
    ColumnMapping,
    LineError,
    ParsedLine,
    ParsedStatement,
    parse_statement,
)
from ledger.reconciliation.models import (
    ReconciliationResult,
    ReconciliationRun,
    StatementImport,
    StatementLine,
)
from ledger.reconciliation.rules import (
    BalanceTransaction,
    Candidate,
    LedgerRecord,
    ReconcileConfig,
    check_closing_balance,
    check_payouts,
    reconcile_bank,
    reconcile_stripe,
)

TAIWAN = dt.timezone(dt.timedelta(hours=8))
CHUNK = 5000

Progress = Callable[[int], None] | None


def _bulk(func):
    """Run a bulk step without the cyclic garbage collector.

    These steps allocate hundreds of thousands of small acyclic objects (lines, candidates,
    rows); each full collection would walk all of them again. Reference counting still
    frees everything; the collector's state is restored afterwards.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return wrapper


# --- column mappings ---------------------------------------------------------------------------


def mapping_from(spec: str | dict | None) -> ColumnMapping:
    """A column mapping by name (``tw_bank``, ``generic``) or from a dict of its fields.

    A dict names columns by header text; each may be a string or a list of alternatives,
    e.g. ``{"name": "mybank", "date": "日期", "deposit": "存入", "withdrawal": "支出",
    "balance": "餘額", "memo": ["摘要"]}``.
    """
    if spec is None:
        return MAPPINGS["tw_bank"]
    if isinstance(spec, str):
        try:
            return MAPPINGS[spec]
        except KeyError:
            raise ValidationError(
                f"Unknown mapping {spec!r}.",
                fields={"mapping": [f"one of {sorted(MAPPINGS)}"]},
                reason="unknown_mapping",
            ) from None
    if not isinstance(spec, dict):
        raise ValidationError(
            "A mapping is a name or an object.",
            fields={"mapping": [FieldMessage("invalid", "invalid")]},
        )
    known = {
        "name",
        "date",
        "amount",
        "deposit",
        "withdrawal",
        "balance",
        "memo",
        "counterparty",
        "reference",
        "currency",
        "default_currency",
        "delimiter",
    }
    unknown = set(spec) - known
    if unknown:
        raise ValidationError(
            f"Unknown mapping fields: {', '.join(sorted(unknown))}.",
            fields={"mapping": [f"unknown field {u}" for u in sorted(unknown)]},
        )

    def header(value) -> bool:
        return isinstance(value, str) and 0 < len(value) <= 100

    for key, value in spec.items():
        items = value if isinstance(value, list) else [value]
        flat = [x for v in items for x in (v if isinstance(v, list) else [v])]
        if not flat or not all(header(x) for x in flat):
            raise ValidationError(
                f"Mapping field {key!r} must name columns by their header text.",
                fields={f"mapping.{key}": ["a header, or a list of alternatives"]},
            )
    if len(spec.get("delimiter", ",")) != 1:
        raise ValidationError(
            "The delimiter is one character.", fields={"mapping.delimiter": ["one character"]}
        )

    def ref(value):
        if isinstance(value, list):
            return tuple(value)
        return value

    kwargs = {}
    for key, value in spec.items():
        if key in ("memo", "counterparty"):
            items = value if isinstance(value, list) else [value]
            kwargs[key] = tuple(ref(v) for v in items)
        elif key in ("footer_markers",):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = ref(value)
    kwargs.setdefault("name", "custom")
    if "date" not in kwargs:
        raise ValidationError(
            "A mapping needs a date column.",
            fields={"mapping.date": [FieldMessage("required", "required")]},
        )
    return ColumnMapping(**kwargs)


# --- imports -------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did (or, with errors and no skip, why it did nothing)."""

    import_id: int | None
    lines_read: int
    lines_new: int
    duplicates: int
    errors: list[LineError] = field(default_factory=list)
    opening_balance: int | None = None
    closing_balance: int | None = None


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _store_lines(session: Session, import_id: int, rows: list[dict], progress: Progress) -> int:
    """Insert the lines not stored yet (unique fingerprint); the number inserted.

    Core executemany with ON CONFLICT DO NOTHING: a line already imported (by this file,
    an overlapping one, or a concurrent import) is skipped by the database itself.
    """
    table = StatementLine.__table__
    stmt = _insert(session, table).on_conflict_do_nothing(index_elements=["fingerprint"])
    conn = session.connection()
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i : i + CHUNK]
        conn.execute(stmt, chunk)
        if progress:
            progress(len(chunk))
    return conn.execute(
        select(func.count()).select_from(table).where(table.c.import_id == import_id)
    ).scalar()


@_bulk
def read_bank_statement(
    data: bytes,
    mapping: ColumnMapping | str | dict | None = None,
    encoding: str | None = None,
    *,
    account: str = common.BANK,
    scheme: VirtualAccountScheme = common.DEFAULT_VA_SCHEME,
) -> ParsedStatement:
    """Parse a bank statement as ``import_bank_statement`` would (no transaction, nothing
    written), for a caller that looks at the lines first (the import job counts them and
    keeps the malformed ones for its page) and then imports that same reading."""
    if not isinstance(mapping, ColumnMapping):
        mapping = mapping_from(mapping)
    return parse_statement(data, mapping, encoding, account=account, scheme=scheme)


@_bulk
def import_bank_statement(
    session: Session,
    data: bytes,
    *,
    mapping: ColumnMapping | str | dict | None = None,
    encoding: str | None = None,
    account: str = common.BANK,
    name: str = "statement.csv",
    skip_bad_lines: bool = False,
    actor: User | None = None,
    progress: Progress = None,
    scheme: VirtualAccountScheme = common.DEFAULT_VA_SCHEME,
    parsed: ParsedStatement | None = None,
) -> ImportReport:
    """Import a bank statement CSV. Malformed lines: nothing imported unless skipped.

    Raises ``StatementHasErrors`` (with every bad line's number) when lines are malformed
    and ``skip_bad_lines`` is false. Lines already imported (same fingerprint, from this or
    an overlapping file) are counted as duplicates and left alone. ``scheme`` reads the
    pledges' virtual accounts in the lines (the configured one: ``common.va_scheme``).
    ``parsed``: ``data`` already read by ``read_bank_statement`` with the same mapping,
    encoding, account and scheme, so a large file is not parsed a second time.
    """
    if not isinstance(mapping, ColumnMapping):
        mapping = mapping_from(mapping)
    if parsed is None:
        parsed = parse_statement(data, mapping, encoding, account=account, scheme=scheme)
    elif (parsed.mapping, parsed.account) != (mapping.name, account):
        # Fingerprints include the account: a reading for another account or layout would
        # store lines that later imports of the same file could not recognise
        raise ValueError("the statement was read with another mapping or account")
    lines = parsed.importable(skip_bad_lines=skip_bad_lines)
    currency = lines[0].currency if lines else mapping.default_currency
    stmt_import = StatementImport(
        source="bank",
        name=name[:255],
        account=account,
        mapping=mapping.name,
        encoding=parsed.encoding,
        file_sha256=hashlib.sha256(data).hexdigest(),
        lines_read=len(lines),
        lines_skipped_bad=len(parsed.errors),
        first_date=min((ln.date for ln in lines), default=None),
        last_date=max((ln.date for ln in lines), default=None),
        opening_balance=parsed.opening_balance,
        closing_balance=parsed.closing_balance,
        currency=currency,
        created_by_id=actor.id if actor else None,
    )
    session.add(stmt_import)
    session.flush()
    rows = [_bank_row(stmt_import.id, ln) for ln in lines]
    stmt_import.lines_new = _store_lines(session, stmt_import.id, rows, progress)
    session.flush()
    return ImportReport(
        import_id=stmt_import.id,
        lines_read=len(lines),
        lines_new=stmt_import.lines_new,
        duplicates=len(lines) - stmt_import.lines_new,
        errors=list(parsed.errors),
        opening_balance=parsed.opening_balance,
        closing_balance=parsed.closing_balance,
    )


def _bank_row(import_id: int, ln: ParsedLine) -> dict:
    return {
        "import_id": import_id,
        "source": "bank",
        "fingerprint": ln.fingerprint,
        "line_no": ln.line,
        "date": ln.date,
        "amount": ln.amount,
        "currency": ln.currency,
        "memo": ln.memo,
        "counterparty": ln.counterparty,
        "balance": ln.balance,
        "virtual_accounts": " ".join(ln.virtual_accounts),
        "status": "unmatched",
        "matched_to": "",
    }


@_bulk
def import_stripe_transactions(
    session: Session,
    transactions: Iterable[dict | BalanceTransaction],
    *,
    name: str,
    payout: str | None = None,
    actor: User | None = None,
    progress: Progress = None,
) -> ImportReport:
    """Store Stripe balance transactions as statement lines (``stripe:<txn>``), once each.

    ``payout``: the payout they were listed for (Stripe's ``?payout=po_...``); a
    transaction first imported by date and later listed for its payout gains the payout.
    """
    stmt_import = StatementImport(
        source="stripe",
        name=name[:255],
        account="stripe",
        mapping="stripe",
        created_by_id=actor.id if actor else None,
    )
    session.add(stmt_import)
    session.flush()
    rows = []
    for n, obj in enumerate(transactions, start=1):
        txn = (
            obj
            if isinstance(obj, BalanceTransaction)
            else BalanceTransaction.from_stripe(obj, payout=payout)
        )
        created = txn.created or dt.datetime.now(dt.UTC)
        rows.append(
            {
                "import_id": stmt_import.id,
                "source": "stripe",
                "fingerprint": f"stripe:{txn.id}",
                "line_no": n,
                "date": created.astimezone(TAIWAN).date(),
                "amount": txn.amount,
                "currency": txn.currency,
                "memo": txn.type,
                "counterparty": "stripe",
                "balance": None,
                "virtual_accounts": "",
                "external_id": txn.id,
                "type": txn.type,
                "fee": txn.fee,
                "net": txn.net,
                "source_object": txn.source,
                "payout": txn.payout,
                "payment_intent": txn.payment_intent,
                "status": "unmatched",
                "matched_to": "",
            }
        )
    stmt_import.lines_read = len(rows)
    stmt_import.lines_new = _store_lines(session, stmt_import.id, rows, progress)
    if payout:
        session.execute(
            update(StatementLine)
            .where(
                StatementLine.fingerprint.in_([r["fingerprint"] for r in rows]),
                StatementLine.payout.is_(None),
            )
            .values(payout=payout)
        )
    if rows:
        stmt_import.first_date = min(r["date"] for r in rows)
        stmt_import.last_date = max(r["date"] for r in rows)
        stmt_import.currency = rows[0]["currency"]
    session.flush()
    return ImportReport(
        import_id=stmt_import.id,
        lines_read=len(rows),
        lines_new=stmt_import.lines_new,
        duplicates=len(rows) - stmt_import.lines_new,
    )


# --- what the bank statement should show ------------------------------------------------------


def _linked(session: Session) -> set[str]:
    """Ledger items already tied to a bank line (``kind:id``)."""
    out: set[str] = set()
    for text in session.scalars(
        select(StatementLine.matched_to).where(
            StatementLine.source == "bank",
            StatementLine.status.in_(("matched", "confirmed")),
            StatementLine.matched_to != "",
        )
    ):
        out.update(text.split())
    return out


def bank_candidates(
    session: Session, currency: str = "TWD", account: str | None = None
) -> list[Candidate]:
    """Everything the fund expects on its bank statement and has not tied to a line yet.

    Per pledge with a virtual account, one candidate carries the reference: its oldest
    bank-transfer donation not yet on a line, or else the pledge itself for what is still
    outstanding (the line then records the payment). Other bank donations, Stripe payouts,
    paid disbursements (negative) and revenue returns match by reference or amount and date.
    """
    linked = _linked(session)
    out: list[Candidate] = []
    va_used: set[int] = set()
    donations = session.execute(
        select(
            Donation.id,
            Donation.pledge_id,
            Donation.company_id,
            Donation.net_amount,
            Donation.refunded_amount,
            Donation.settlement_currency,
            Donation.received_on,
            Pledge.virtual_account,
        )
        .outerjoin(Pledge, Pledge.id == Donation.pledge_id)
        .where(Donation.channel == "bank_transfer", Donation.settlement_currency == currency)
        .order_by(Donation.received_on, Donation.id)
    ).all()
    for d in donations:
        va = d.virtual_account
        if f"donation:{d.id}" in linked:
            continue
        carry = va if (va and d.pledge_id not in va_used) else None
        if carry:
            va_used.add(d.pledge_id)
        out.append(
            Candidate(
                "donation",
                d.id,
                d.net_amount - d.refunded_amount,
                d.settlement_currency,
                d.received_on,
                virtual_account=carry,
                counterparty=f"company:{d.company_id}" if d.company_id else None,
            )
        )
    paid = paid_per_pledge()
    pledges = session.execute(
        select(
            Pledge.id,
            Pledge.amount,
            Pledge.currency,
            Pledge.pledged_on,
            Pledge.virtual_account,
            Pledge.company_id,
            func.coalesce(paid.c.paid, 0).label("paid_amount"),
        )
        .outerjoin(paid, paid.c.pledge_id == Pledge.id)
        .where(
            Pledge.currency == currency,
            Pledge.virtual_account.is_not(None),
            Pledge.amount > func.coalesce(paid.c.paid, 0),
        )
    ).all()
    for p in pledges:
        if p.id in va_used:
            continue
        out.append(
            Candidate(
                "pledge",
                p.id,
                p.amount - int(p.paid_amount),
                p.currency,
                p.pledged_on,
                virtual_account=p.virtual_account,
                counterparty=f"company:{p.company_id}",
            )
        )
    payout_rows = select(
        Payout.id, Payout.amount, Payout.currency, Payout.paid_on, Payout.stripe_payout_id
    ).where(Payout.currency == currency)
    if account:  # only payouts to the account the statement is for
        payout_rows = payout_rows.where(Payout.bank_account_code == account)
    payout_rows = session.execute(payout_rows)
    for po in payout_rows:
        if f"stripe_payout:{po.id}" in linked:
            continue
        out.append(
            Candidate(
                "stripe_payout",
                po.id,
                po.amount,
                po.currency,
                po.paid_on,
                reference=po.stripe_payout_id,
                counterparty="stripe",
                label=po.stripe_payout_id or str(po.id),
            )
        )
    for d in session.scalars(
        select(Disbursement).where(Disbursement.status == "paid", Disbursement.currency == currency)
    ):
        if f"disbursement:{d.id}" in linked:
            continue
        day = (d.paid_at or d.proposed_at).astimezone(TAIWAN).date()
        out.append(
            Candidate(
                "disbursement",
                d.id,
                -d.amount,
                d.currency,
                day,
                reference=f"D-{d.id}",
                counterparty=f"project:{d.project_id}",
            )
        )
    for r in session.scalars(select(RevenueReturn).where(RevenueReturn.currency == currency)):
        if f"revenue_return:{r.id}" in linked:
            continue
        out.append(
            Candidate(
                "revenue_return",
                r.id,
                r.amount,
                r.currency,
                r.received_on,
                counterparty=f"agreement:{r.agreement_id}",
            )
        )
    return out


_LINE_COLUMNS = select(
    StatementLine.id,
    StatementLine.line_no,
    StatementLine.date,
    StatementLine.amount,
    StatementLine.currency,
    StatementLine.memo,
    StatementLine.counterparty,
    StatementLine.balance,
    StatementLine.virtual_accounts,
    StatementLine.fingerprint,
)


def _as_parsed(row) -> ParsedLine:
    return ParsedLine(
        line=row.line_no,
        date=row.date,
        amount=row.amount,
        currency=row.currency,
        memo=row.memo,
        counterparty=row.counterparty,
        balance=row.balance,
        virtual_accounts=tuple(row.virtual_accounts.split()) if row.virtual_accounts else (),
        fingerprint=row.fingerprint,
    )


# --- runs -----------------------------------------------------------------------------------------


def _targets(cands: Iterable[Candidate]) -> str:
    return " ".join(f"{c.kind}:{c.id}" for c in cands)


def _store_results(session: Session, rows: list[dict]) -> None:
    for i in range(0, len(rows), CHUNK):
        session.connection().execute(insert(ReconciliationResult.__table__), rows[i : i + CHUNK])


@_bulk
def run_bank(
    session: Session,
    *,
    import_id: int | None = None,
    config: ReconcileConfig | None = None,
    dry_run: bool = False,
    auto_record: bool = True,
    actor: User | None = None,
) -> ReconciliationRun:
    """Match unmatched bank lines (of one import, or all) against the ledger; store the run.

    Not a dry run: matched lines are marked matched; a line matched by virtual account to
    a pledge (confidence at least 0.95) records the bank-transfer donation at once when
    ``auto_record`` (a payment that names its pledge needs no person). Suggestions and
    leftovers wait for a manager. The statement's closing balance is asserted against the
    ledger's balance of the bank account on the statement's last date.
    """
    config = config or ReconcileConfig()
    stmt_import = None
    if import_id is not None:
        stmt_import = session.get(StatementImport, import_id)
        if stmt_import is None or stmt_import.source != "bank":
            raise NotFound(f"Bank statement import {import_id} does not exist.")
    query = _LINE_COLUMNS.where(StatementLine.source == "bank", StatementLine.status == "unmatched")
    if import_id is not None:
        query = query.where(StatementLine.import_id == import_id)
    stored = session.execute(query.order_by(StatementLine.date, StatementLine.id)).all()
    currency = stmt_import.currency if stmt_import else "TWD"
    lines = [_as_parsed(row) for row in stored]
    id_of = {row.fingerprint: row.id for row in stored}
    account = stmt_import.account if stmt_import else None
    result = reconcile_bank(lines, bank_candidates(session, currency, account), config)

    run = ReconciliationRun(
        kind="bank",
        import_id=import_id,
        dry_run=dry_run,
        params=json.dumps(dataclasses.asdict(config) | {"auto_record": auto_record}),
        created_by_id=actor.id if actor else None,
    )
    session.add(run)
    session.flush()
    rows: list[dict] = []
    updates: list[dict] = []
    recorded = 0
    for m in result.matches:
        targets = _targets(m.candidates)
        rows.append(
            {
                "run_id": run.id,
                "outcome": "matched",
                "line_id": id_of[m.line.fingerprint],
                "rule": m.rule,
                "targets": targets,
                "confidence": m.confidence,
                "difference": m.difference,
                "detail": m.reason,
                "detail_zh": m.reason_zh,
            }
        )
        if dry_run:
            continue
        status = "matched"
        if (
            auto_record
            and m.rule == "virtual_account"
            and m.confidence >= 0.95
            and len(m.candidates) == 1
            and m.candidates[0].kind == "pledge"
        ):
            donation = _record_bank_donation(session, m.line, int(m.candidates[0].id), actor)
            if donation is not None:
                targets, status = f"donation:{donation.id}", "confirmed"
                recorded += 1
        updates.append(
            {
                "b_id": id_of[m.line.fingerprint],
                "b_status": status,
                "b_to": targets,
                "b_rule": m.rule,
            }
        )
    for s in result.suggestions:
        rows.append(
            {
                "run_id": run.id,
                "outcome": "suggested",
                "line_id": id_of[s.line.fingerprint] if s.line else None,
                "rule": s.rule,
                "targets": " | ".join(_targets(opt) for opt in s.options),
                "confidence": None,
                "difference": None,
                "detail": s.reason,
                "detail_zh": s.reason_zh,
            }
        )
    for ln in result.unmatched_lines:
        rows.append(
            {
                "run_id": run.id,
                "outcome": "unmatched_line",
                "line_id": id_of[ln.fingerprint],
                "rule": None,
                "targets": "",
                "confidence": None,
                "difference": ln.amount,
                # The amount as people write it (NT$1,234), never in minor units
                "detail": f"no ledger item for {ln.date} {format_money(ln.amount, ln.currency)} "
                f"{ln.memo}"[:500],
                "detail_zh": f"帳上無對應項目：{ln.date} {format_money(ln.amount, ln.currency)} "
                f"{ln.memo}"[:500],
            }
        )
    for c in result.unmatched_candidates:
        if c.kind == "pledge":
            continue  # an open pledge not paid yet is not a reconciliation gap
        rows.append(
            {
                "run_id": run.id,
                "outcome": "unmatched_item",
                "line_id": None,
                "rule": None,
                "targets": f"{c.kind}:{c.id}",
                "confidence": None,
                "difference": c.amount,
                "detail": f"{c.describe()} ({c.date}) is not on the statement",
                "detail_zh": f"{c.describe_zh()}（{c.date}）不在對帳單上",
            }
        )
    _store_results(session, rows)
    if updates:
        session.connection().execute(
            update(StatementLine.__table__)
            .where(StatementLine.__table__.c.id == _bind("b_id"))
            .values(status=_bind("b_status"), matched_to=_bind("b_to"), match_rule=_bind("b_rule")),
            updates,
        )
    # The closing balance, stated by the statement against the ledger on its last date.
    if stmt_import is not None and stmt_import.closing_balance is not None:
        run.stated_closing = stmt_import.closing_balance
        run.ledger_closing = ledger_balance(session, stmt_import.account, stmt_import.last_date)
    summary = {
        "lines": len(lines),
        "matched": len(result.matches),
        "by_rule": result.by_rule(),
        "suggested": len(result.suggestions),
        "unmatched_lines": len(result.unmatched_lines),
        "unmatched_items": sum(1 for c in result.unmatched_candidates if c.kind != "pledge"),
        "donations_recorded": recorded,
    }
    if run.stated_closing is not None:
        check = check_closing_balance(run.ledger_closing or 0, [], run.stated_closing)
        summary["closing_balance"] = {
            "stated": run.stated_closing,
            "ledger": run.ledger_closing,
            "difference": check.difference if run.ledger_closing is not None else None,
        }
    run.summary = json.dumps(summary, ensure_ascii=False)
    run.ok = (
        not result.suggestions
        and not result.unmatched_lines
        and summary["unmatched_items"] == 0
        and (run.stated_closing is None or run.stated_closing == run.ledger_closing)
    )
    session.flush()
    return run


def _bind(name: str):
    from sqlalchemy import bindparam

    return bindparam(name)


def ledger_balance(session: Session, account: str, as_of: dt.date | None) -> int | None:
    """The ledger's balance of a bank account on a date (None if the ledger has no such account)."""
    if session.scalar(select(Account.id).where(Account.code == account)) is None:
        return None
    return int(reading.balance(session, account, as_of))


def _record_bank_donation(
    session: Session, line: ParsedLine, pledge_id: int, actor: User | None
) -> Donation | None:
    """Record the bank transfer a line carries for a pledge (key ``bank:<fingerprint>``)."""
    pledge = session.get(Pledge, pledge_id)
    outstanding = pledge.amount - int(fund_pledges.pledge_paid(session, pledge_id))
    if line.amount <= 0 or line.amount > outstanding or line.currency != pledge.currency:
        return None  # an overpayment or odd line: a person decides
    return fund_donations.record_donation(
        session,
        key=f"bank:{line.fingerprint}",
        channel="bank_transfer",
        amount=line.amount,
        currency=line.currency,
        pledge_id=pledge_id,
        received_on=line.date,
        refs={"bank_line": line.fingerprint},
        actor=actor,
    )


# --- Stripe runs ------------------------------------------------------------


def _stripe_lines(session: Session, *, import_id, payout, start, end) -> list:
    query = select(
        StatementLine.id,
        StatementLine.date,
        StatementLine.amount,
        StatementLine.currency,
        StatementLine.external_id,
        StatementLine.type,
        StatementLine.fee,
        StatementLine.net,
        StatementLine.source_object,
        StatementLine.payout,
        StatementLine.payment_intent,
    ).where(StatementLine.source == "stripe")
    if import_id is not None:
        query = query.where(StatementLine.import_id == import_id)
    if payout is not None:
        query = query.where(StatementLine.payout == payout)
    if start is not None:
        query = query.where(StatementLine.date >= start)
    if end is not None:
        query = query.where(StatementLine.date <= end)
    return session.execute(query.order_by(StatementLine.id)).all()


def _as_txn(row) -> BalanceTransaction:
    return BalanceTransaction(
        id=row.external_id,
        type=row.type or "",
        amount=row.amount,
        fee=row.fee or 0,
        net=row.net if row.net is not None else row.amount,
        currency=row.currency,
        source=row.source_object,
        payout=row.payout,
        payment_intent=row.payment_intent,
    )


def ledger_records(
    session: Session, start: dt.date | None = None, end: dt.date | None = None
) -> list[LedgerRecord]:
    """Ledger entries that moved money through Stripe, as ``LedgerRecord``s.

    One aggregate query: per entry, the sum of its postings on Stripe clearing accounts
    and on processor fee accounts. The amount Stripe shows is ``|clearing + fee|`` (a
    donation lands net of its fee; a dispute takes the amount plus its fee).
    """
    clearing = Account.code.like("assets:stripe:clearing:%")
    fee = Account.code.like("expense:fees:processor:%")
    query = (
        select(
            Entry.id,
            Entry.kind,
            Entry.source_refs,
            func.sum(Posting.amount).filter(clearing).label("clearing"),
            func.sum(Posting.amount).filter(fee).label("fee"),
            func.max(Account.currency).filter(clearing).label("currency"),
        )
        .join(Posting, Posting.entry_id == Entry.id)
        .join(Account, Account.id == Posting.account_id)
        .where(Entry.source_refs != "", clearing | fee)
        .group_by(Entry.id, Entry.kind, Entry.source_refs)
    )
    if start is not None:
        query = query.where(Entry.entry_date >= start)
    if end is not None:
        query = query.where(Entry.entry_date <= end)
    out = []
    for row in session.execute(query):
        if row.clearing is None:
            continue
        refs = dict(line.split("=", 1) for line in row.source_refs.splitlines() if "=" in line)
        fee_amount = int(row.fee or 0)
        out.append(
            LedgerRecord(
                id=row.id,
                kind=row.kind,
                amount=abs(int(row.clearing) + fee_amount),
                currency=row.currency,
                fee=abs(fee_amount),
                balance_transaction=refs.get("balance_transaction"),
                charge=refs.get("charge") if row.kind == "donation" else None,
                payment_intent=refs.get("payment_intent") if row.kind == "donation" else None,
                refund=refs.get("refund"),
                dispute=refs.get("dispute"),
                payout=refs.get("payout"),
            )
        )
    return out


@_bulk
def run_stripe(
    session: Session,
    *,
    import_id: int | None = None,
    payout: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    dry_run: bool = False,
    actor: User | None = None,
) -> ReconciliationRun:
    """Match imported Stripe balance transactions against the ledger; check payouts.

    Reports matched, missing in the ledger, missing in Stripe (ledger records in the date
    range, or referenced by the payout, that Stripe did not list), amount and fee
    mismatches, and for each payout whether its transactions' net adds up to it.
    """
    lines = _stripe_lines(session, import_id=import_id, payout=payout, start=start, end=end)
    txns = [_as_txn(row) for row in lines]
    line_of = {row.external_id: row.id for row in lines}
    if start is None and end is None and lines:
        lo = min(row.date for row in lines) - dt.timedelta(days=7)
        hi = max(row.date for row in lines) + dt.timedelta(days=7)
    else:
        lo, hi = start, end
    records = ledger_records(session, lo, hi)
    if payout is not None or (start is None and end is None):
        # Scoped to what Stripe listed: keep only records those transactions point at.
        wanted = set()
        for t in txns:
            wanted.update(x for x in (t.id, t.source, t.payment_intent) if x)
        records = [
            r
            for r in records
            if wanted
            & {r.balance_transaction, r.charge, r.payment_intent, r.refund, r.dispute, r.payout}
        ]
    result = reconcile_stripe(txns, records)
    listed_payouts = sorted({t.payout for t in txns if t.payout})
    payout_amounts = {}
    for i in range(0, len(listed_payouts), 900):
        for po in session.scalars(
            select(Payout).where(Payout.stripe_payout_id.in_(listed_payouts[i : i + 900]))
        ):
            payout_amounts[po.stripe_payout_id] = (po.amount, po.currency)
    checks = [c for c in check_payouts(txns, payout_amounts) if c.transaction_count or c.amount]

    run = ReconciliationRun(
        kind="stripe",
        import_id=import_id,
        dry_run=dry_run,
        params=json.dumps(
            {
                "payout": payout,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
            }
        ),
        created_by_id=actor.id if actor else None,
    )
    session.add(run)
    session.flush()
    rows: list[dict] = []

    def add(outcome, line_id, targets, detail, detail_zh, difference=None):
        rows.append(
            {
                "run_id": run.id,
                "outcome": outcome,
                "line_id": line_id,
                "rule": "stripe",
                "targets": targets,
                "confidence": None,
                "difference": difference,
                "detail": detail,
                "detail_zh": detail_zh,
            }
        )

    updates = []
    for txn, rec in result.matched:
        add("matched", line_of[txn.id], f"entry:{rec.id}", f"{txn.id} = entry {rec.id}", "")
        updates.append({"b_id": line_of[txn.id], "b_to": f"entry:{rec.id}"})
    for txn in result.missing_in_ledger:
        add(
            "missing_in_ledger",
            line_of[txn.id],
            "",
            f"{txn.id} ({txn.type} {txn.amount} {txn.currency}, source {txn.source}) "
            "is not in the ledger",
            f"{txn.id} 未入帳",
            txn.amount,
        )
    for rec in result.missing_in_stripe:
        add(
            "missing_in_stripe",
            None,
            f"entry:{rec.id}",
            f"ledger entry {rec.id} ({rec.kind} {rec.amount} {rec.currency}) is not in Stripe",
            f"分錄 {rec.id} 不在 Stripe 紀錄中",
            rec.amount,
        )
    for diff in result.amount_mismatch + result.fee_mismatch:
        outcome = "fee_mismatch" if diff.field == "fee" else "amount_mismatch"
        add(
            outcome,
            line_of[diff.transaction.id],
            f"entry:{diff.record.id}",
            f"{diff.transaction.id}: {diff.field} is {diff.stripe_value} in Stripe, "
            f"{diff.ledger_value} in the ledger",
            f"{diff.transaction.id}：{diff.field} Stripe 為 {diff.stripe_value}，"
            f"帳上為 {diff.ledger_value}",
            None,
        )
    for check in checks:
        add(
            "payout_ok" if check.ok else "payout_mismatch",
            None,
            f"payout:{check.payout}",
            f"payout {check.payout}: {check.amount} {check.currency} against "
            f"{check.transaction_count} transactions netting {check.transactions_net}",
            f"撥款 {check.payout}：{check.amount}，{check.transaction_count} 筆交易淨額 "
            f"{check.transactions_net}",
            check.difference,
        )
    _store_results(session, rows)
    if updates and not dry_run:
        session.connection().execute(
            update(StatementLine.__table__)
            .where(StatementLine.__table__.c.id == _bind("b_id"))
            .values(status="matched", matched_to=_bind("b_to"), match_rule="stripe"),
            updates,
        )
    summary = {
        "transactions": len(txns),
        "matched": len(result.matched),
        "missing_in_ledger": len(result.missing_in_ledger),
        "missing_in_stripe": len(result.missing_in_stripe),
        "amount_mismatch": len(result.amount_mismatch),
        "fee_mismatch": len(result.fee_mismatch),
        "payouts_ok": sum(1 for c in checks if c.ok),
        "payouts_mismatch": sum(1 for c in checks if not c.ok),
    }
    run.summary = json.dumps(summary)
    run.ok = result.ok and all(c.ok for c in checks)
    session.flush()
    return run


# --- a manager's decisions --------------------------------------------------

_TARGET_MODELS = {
    "donation": Donation,
    "pledge": Pledge,
    "stripe_payout": Payout,
    "disbursement": Disbursement,
    "revenue_return": RevenueReturn,
    "entry": Entry,
}


def _line(session: Session, line_id: int) -> StatementLine:
    line = session.get(StatementLine, line_id, with_for_update=True)
    if line is None:
        raise NotFound(f"Statement line {line_id} does not exist.")
    return line


def _reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise ValidationError(
            "Say why.", fields={"reason": [FieldMessage("required", "required")]}, reason="say_why"
        )
    return reason.strip()[:1000]


def _decided(line: StatementLine, actor: User | None, reason: str) -> None:
    line.reason = reason
    line.decided_by_id = actor.id if actor else None
    line.decided_at = utcnow()


def confirm_line(
    session: Session,
    *,
    line_id: int,
    targets: Sequence[str] | None = None,
    reason: str | None = None,
    actor: User | None = None,
) -> StatementLine:
    """Confirm a line's match (the proposed one, or ``targets`` a manager chose).

    A bank line confirmed against a pledge records the bank-transfer donation it carries.
    When the line's amount differs from what the chosen items expected, ``reason`` is
    required (``ValidationError`` with case ``amounts_differ`` and the difference).
    """
    line = _line(session, line_id)
    if line.status == "ignored":
        raise InvalidState("The line is ignored; unmatch it first.", reason="line_ignored")
    if line.status == "confirmed":
        # A second confirm (a double click, or a tab opened before someone else confirmed)
        # never moves a decided match silently: the same choice changes nothing, another
        # one needs the match undone first, by a person who sees what it was.
        if not targets or _same_choice(session, line, targets):
            return line
        raise InvalidState("The line is confirmed; unmatch it first.", reason="line_confirmed")
    chosen = list(targets) if targets else line.matched_to.split()
    if not chosen:
        raise ValidationError(
            "Nothing to confirm: the line is not matched; name what it matches.",
            fields={"targets": [FieldMessage("required for an unmatched line", "choose_target")]},
            reason="nothing_to_confirm",
        )
    for item in chosen:
        kind, _, ident = item.partition(":")
        model = _TARGET_MODELS.get(kind)
        if model is None or not ident.isdigit() or session.get(model, int(ident)) is None:
            raise ValidationError(
                f"Unknown ledger item {item!r}.",
                fields={
                    "targets": [FieldMessage(f"{item} does not exist", "item_missing", item=item)]
                },
                reason="unknown_item",
                params={"item": item},
            )
    taken = _linked(session) - set(line.matched_to.split())
    clash = [t for t in chosen if t in taken]
    if clash:
        raise InvalidState(
            f"Already matched to another line: {', '.join(clash)}.",
            reason="already_matched",
            params={"items": ", ".join(clash)},
        )
    # Amounts that differ (a fee taken in transit, a part payment, a wrong guess) are
    # accepted only with a person's reason, kept on the line.
    described = queue.describe(session, chosen)
    diff = queue.difference(line, [described[c] for c in chosen])
    if diff and not (reason and reason.strip()):
        shown = format_money(diff, line.currency)
        raise ValidationError(
            f"The amounts differ by {shown}; say why.",
            fields={
                "reason": [
                    FieldMessage(
                        f"required: the amounts differ by {shown}",
                        "amounts_differ",
                        difference=diff,
                        currency=line.currency,
                    )
                ]
            },
            case="amounts_differ",
            difference=shown,
            params={"difference": diff, "currency": line.currency},
        )
    resolved = []
    for item in chosen:
        kind, _, ident = item.partition(":")
        if kind == "pledge":
            if line.source != "bank":
                raise ValidationError("Only a bank line can pay a pledge.", reason="bank_line_only")
            donation = _record_bank_donation(session, _as_parsed(line), int(ident), actor)
            if donation is None:
                raise InvalidState(
                    "The line cannot pay this pledge (amount above what is due, or a "
                    "withdrawal); record the donation by hand and confirm against it.",
                    reason="line_cannot_pay_pledge",
                )
            item = f"donation:{donation.id}"
        resolved.append(item)
    line.matched_to = " ".join(resolved)
    line.status = "confirmed"
    line.match_rule = line.match_rule or "manual"
    _decided(line, actor, reason.strip() if reason and reason.strip() else "confirmed")
    session.flush()
    return line


def _same_choice(session: Session, line: StatementLine, targets: Sequence[str]) -> bool:
    """Do ``targets`` name what the confirmed ``line`` is matched to? A pledge chosen then is
    matched now as the donation the line recorded for it."""
    matched = set(line.matched_to.split())
    for item in targets:
        if item in matched:
            continue
        kind, _, ident = item.partition(":")
        if kind != "pledge" or not ident.isdigit():
            return False
        paid = [int(ref.partition(":")[2]) for ref in matched if ref.startswith("donation:")]
        if not any(
            (d := session.get(Donation, i)) is not None and d.pledge_id == int(ident) for i in paid
        ):
            return False
    return len(targets) == len(matched)


def unmatch_line(
    session: Session, *, line_id: int, reason: str, actor: User | None = None
) -> StatementLine:
    """Undo a match (or an ignore): the line is open again for the next run.

    A donation recorded from the line stays in the ledger (correct it with a reversal).
    """
    line = _line(session, line_id)
    line.status = "unmatched"
    line.matched_to = ""
    line.match_rule = None
    _decided(line, actor, _reason(reason))
    session.flush()
    return line


def ignore_line(
    session: Session, *, line_id: int, reason: str, actor: User | None = None
) -> StatementLine:
    """Set a line aside (a bank fee, an internal transfer), with the reason."""
    line = _line(session, line_id)
    if line.status == "confirmed":
        raise InvalidState("The line is confirmed; unmatch it first.", reason="line_confirmed")
    line.status = "ignored"
    line.matched_to = ""
    _decided(line, actor, _reason(reason))
    session.flush()
    return line


def results_of(
    session: Session,
    run_id: int,
    outcome: str | None = None,
    *,
    limit: int | None = None,
    after: int | None = None,
):
    """A run's findings in the order they were made; with ``limit``, the ``limit`` after the
    finding ``after`` (a run over a 200,000-line statement is read a page at a time)."""
    query = select(ReconciliationResult).where(ReconciliationResult.run_id == run_id)
    if outcome:
        query = query.where(ReconciliationResult.outcome == outcome)
    if after is not None:
        query = query.where(ReconciliationResult.id > after)
    query = query.order_by(ReconciliationResult.id)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()


__all__ = [
    "ImportReport",
    "bank_candidates",
    "confirm_line",
    "ignore_line",
    "import_bank_statement",
    "import_stripe_transactions",
    "ledger_records",
    "mapping_from",
    "read_bank_statement",
    "results_of",
    "run_bank",
    "run_stripe",
    "unmatch_line",
]
