"""The reconciliation queue at scale: which statement lines need a person, and what they are.

After a 40,000-line import a manager needs counts, filters and pages, not one list of the
oldest 200 lines. This module answers, over ``statement_lines``:

* ``counts`` per status under the filters (source, dates, amount, import);
* ``page_of_lines``: newest first (date, then id), keyset paging in both directions, with
  the total and the page's position. Keyset, not OFFSET: page 800 costs what page 1 does.
  The indexes of migration 0010_recon serve the default filter (lines needing action) and each
  single status;
* ``describe``: ledger items named by ``kind:id`` (how the rules and ``matched_to`` store
  them) as facts a page can put in words: the party, the date, the amount, a reference;
* ``search_items``: the ledger items a line could be matched to by hand, found by name,
  amount, virtual account or reference;
* ``difference``: line amount minus what the chosen items expected, so that a confirm of
  items whose amounts differ can ask for a reason.

Read-only; nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from foundation.errors import FieldMessage, InvalidAmount, ValidationError
from identity.models import Organisation
from ledger.books.models import Entry
from ledger.fund.models import (
    Disbursement,
    Donation,
    Payout,
    Pledge,
    Project,
    ReturnAgreement,
    RevenueReturn,
)
from ledger.fund.pledge_payments import paid_per_pledge
from ledger.money import parse_amount
from ledger.reconciliation.models import (
    LINE_SOURCES,
    LINE_STATES,
    ReconciliationResult,
    StatementLine,
)

TAIWAN = dt.timezone(dt.timedelta(hours=8))

#: Status filters a reader chooses from; ``open`` (the default) is what needs a decision.
STATUS_FILTERS: dict[str, tuple[str, ...] | None] = {
    "open": ("unmatched", "matched"),
    **{s: (s,) for s in LINE_STATES},
    "all": None,
}
PAGE_SIZES = (25, 50, 100, 200)
_CURSOR = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(\d{1,18})$")


# --- filters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFilter:
    """What the reader narrowed the queue to. Amounts are minor units, compared with the
    line's size (a NT$30 fee withdrawal is found by 30, as the reader sees it)."""

    status: str = "open"
    source: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    import_id: int | None = None

    def __post_init__(self):
        problems: dict[str, list[str]] = {}
        if self.status not in STATUS_FILTERS:
            problems["status"] = [f"one of {', '.join(STATUS_FILTERS)}"]
        if self.source is not None and self.source not in LINE_SOURCES:
            problems["source"] = [f"one of {', '.join(LINE_SOURCES)}"]
        if self.start and self.end and self.end < self.start:
            problems["end"] = ["on or after the start date"]
        for name in ("amount_min", "amount_max"):
            value = getattr(self, name)
            if value is not None and value < 0:
                problems[name] = ["zero or more"]
        if (
            self.amount_min is not None
            and self.amount_max is not None
            and self.amount_max < self.amount_min
        ):
            problems["amount_max"] = ["at least the smallest amount"]
        if problems:
            raise ValidationError(
                "The queue filter is not valid.", fields=problems, case="queue_filter"
            )


def conditions(f: LineFilter, *, with_status: bool = True) -> list:
    """The WHERE clauses of a filter (shared by the console and the API)."""
    out = []
    statuses = STATUS_FILTERS[f.status] if with_status else None
    if statuses is not None:
        out.append(
            StatementLine.status == statuses[0]
            if len(statuses) == 1
            else StatementLine.status.in_(statuses)
        )
    if f.source is not None:
        out.append(StatementLine.source == f.source)
    if f.start is not None:
        out.append(StatementLine.date >= f.start)
    if f.end is not None:
        out.append(StatementLine.date <= f.end)
    size = func.abs(StatementLine.amount)
    if f.amount_min is not None:
        out.append(size >= f.amount_min)
    if f.amount_max is not None:
        out.append(size <= f.amount_max)
    if f.import_id is not None:
        out.append(StatementLine.import_id == f.import_id)
    return out


def counts(session: Session, f: LineFilter) -> dict[str, int]:
    """Lines per status under the filter's other criteria; ``open`` and ``all`` included."""
    by_status = dict.fromkeys(LINE_STATES, 0)
    rows = session.execute(
        select(StatementLine.status, func.count())
        .where(*conditions(f, with_status=False))
        .group_by(StatementLine.status)
    )
    for status, n in rows:
        by_status[status] = n
    return by_status | {
        "open": by_status["unmatched"] + by_status["matched"],
        "all": sum(by_status.values()),
    }


def count(session: Session, f: LineFilter) -> int:
    """How many lines the filter selects."""
    return session.scalar(select(func.count()).select_from(StatementLine).where(*conditions(f)))


# --- pages ------------------------------------------------------------------------------------


def encode_cursor(line: StatementLine) -> str:
    return f"{line.date.isoformat()}.{line.id}"


def decode_cursor(text: str | None, name: str = "after") -> tuple[dt.date, int] | None:
    """``2026-11-26.4182`` as (date, id); a malformed cursor is a validation error."""
    if not text:
        return None
    match = _CURSOR.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return dt.date.fromisoformat(match.group(1)), int(match.group(2))
    except ValueError:
        raise ValidationError(
            "The page position is not valid.",
            fields={name: [FieldMessage("invalid", "invalid")]},
            case="queue_cursor",
        ) from None


@dataclass(frozen=True)
class QueueLine:
    line: StatementLine
    #: The line's latest finding from a run (matched or suggested), or None
    finding: ReconciliationResult | None
    #: A suggestion's options, each a list of ``kind:id`` items
    options: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class LinePage:
    items: list[QueueLine]
    #: Lines the filter selects in all
    total: int
    #: Lines before this page (newer ones), so the page shows lines first..last of total
    offset: int
    #: Pass as ``before`` for the newer page, ``after`` for the older one (None: no such page)
    newer: str | None
    older: str | None

    @property
    def first(self) -> int:
        return self.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.items)


def _key(line) -> tuple:
    return (line.date, line.id)


def page_of_lines(
    session: Session,
    f: LineFilter,
    *,
    size: int = 50,
    after: tuple[dt.date, int] | None = None,
    before: tuple[dt.date, int] | None = None,
) -> LinePage:
    """One page of lines, newest first: the ``size`` lines older than ``after`` (or newer
    than ``before``, or the newest), with the total and the page's position."""
    if size not in PAGE_SIZES:
        raise ValidationError("Unknown page size.", fields={"size": [f"one of {PAGE_SIZES}"]})
    where = conditions(f)
    key = tuple_(StatementLine.date, StatementLine.id)
    stmt = select(StatementLine).where(*where)
    if before is not None:
        # Walk towards newer lines (ascending), then show them newest first again.
        rows = list(
            session.scalars(
                stmt.where(key > tuple_(*before))
                .order_by(StatementLine.date, StatementLine.id)
                .limit(size)
            )
        )[::-1]
        if len(rows) < size:  # less than a page newer than the cursor: the first page
            return page_of_lines(session, f, size=size)
    else:
        if after is not None:
            stmt = stmt.where(key < tuple_(*after))
        rows = list(
            session.scalars(
                stmt.order_by(StatementLine.date.desc(), StatementLine.id.desc()).limit(size)
            )
        )
    total = count(session, f)
    offset = 0
    if rows and (after is not None or before is not None):
        offset = session.scalar(
            select(func.count())
            .select_from(StatementLine)
            .where(*where, key > tuple_(*_key(rows[0])))
        )
    return LinePage(
        items=_with_findings(session, rows),
        total=total,
        offset=offset,
        newer=encode_cursor(rows[0]) if rows and offset > 0 else None,
        older=encode_cursor(rows[-1]) if rows and offset + len(rows) < total else None,
    )


def _with_findings(session: Session, lines: Sequence[StatementLine]) -> list[QueueLine]:
    findings: dict[int, ReconciliationResult] = {}
    if lines:
        for result in session.scalars(
            select(ReconciliationResult)
            .where(
                ReconciliationResult.line_id.in_([ln.id for ln in lines]),
                ReconciliationResult.outcome.in_(("matched", "suggested")),
            )
            .order_by(ReconciliationResult.id)
        ):
            findings[result.line_id] = result  # the latest wins
    out = []
    for line in lines:
        finding = findings.get(line.id)
        options = []
        if line.status == "unmatched" and finding is not None and finding.outcome == "suggested":
            options = [o.split() for o in finding.targets.split("|") if o.strip()]
        out.append(QueueLine(line, finding, options))
    return out


def queue_line(session: Session, line: StatementLine) -> QueueLine:
    """One line with its latest finding (the line page)."""
    return _with_findings(session, [line])[0]


def recent_decisions(session: Session, limit: int = 20) -> list[StatementLine]:
    """Lines a manager confirmed or ignored most recently."""
    return list(
        session.scalars(
            select(StatementLine)
            .where(StatementLine.status.in_(("confirmed", "ignored")))
            .order_by(StatementLine.decided_at.desc().nulls_last(), StatementLine.id.desc())
            .limit(limit)
        )
    )


# --- a run's findings --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One result of a run with its line, and its ledger items as ``kind:id`` refs."""

    result: ReconciliationResult
    line: StatementLine | None
    #: Each option's refs; a match or a gap has one option
    options: list[list[str]]
    #: ``po_...`` for a payout check (its targets name Stripe's payout, not ours)
    payout: str | None = None

    @property
    def refs(self) -> list[str]:
        return [r for option in self.options for r in option]


@dataclass(frozen=True)
class FindingPage:
    items: list[Finding]
    #: Findings per outcome in the whole run
    counts: dict[str, int]
    #: Pass as ``after`` for the next page (None: the last page)
    next_after: int | None


def run_findings(
    session: Session,
    run_id: int,
    *,
    outcome: str | None = None,
    after: int | None = None,
    size: int = 100,
) -> FindingPage:
    """A page of a run's findings (a 40,000-line run has as many), in the run's order."""
    counts = dict(
        session.execute(
            select(ReconciliationResult.outcome, func.count())
            .where(ReconciliationResult.run_id == run_id)
            .group_by(ReconciliationResult.outcome)
        ).all()
    )
    stmt = select(ReconciliationResult).where(ReconciliationResult.run_id == run_id)
    if outcome:
        stmt = stmt.where(ReconciliationResult.outcome == outcome)
    if after is not None:
        stmt = stmt.where(ReconciliationResult.id > after)
    results = list(session.scalars(stmt.order_by(ReconciliationResult.id).limit(size + 1)))
    more = len(results) > size
    results = results[:size]
    line_ids = sorted({r.line_id for r in results if r.line_id is not None})
    lines = {
        ln.id: ln
        for ln in session.scalars(select(StatementLine).where(StatementLine.id.in_(line_ids)))
    }
    items = []
    for r in results:
        payout = None
        options = [o.split() for o in r.targets.split("|") if o.strip()]
        if r.targets.startswith("payout:"):
            payout, options = r.targets.partition(":")[2], []
        items.append(Finding(r, lines.get(r.line_id), options, payout))
    return FindingPage(items, counts, results[-1].id if more else None)


# --- ledger items in words ------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerItem:
    """A ledger item a line can be matched to, as facts a page puts in words.

    ``ref`` (``donation:12``) travels in forms only; pages show the kind, the party, the
    date, the amount and the reference.
    """

    ref: str
    kind: str
    #: Signed as it should appear on the bank statement (a paid disbursement is negative);
    #: a pledge: what is still due
    amount: int | None
    currency: str
    date: dt.date | None
    party: str = ""
    party_en: str | None = None
    #: A virtual account, a Stripe payout id, ``D-12`` for a disbursement
    reference: str = ""
    #: A pledge takes the line's amount (the line records that payment), so a pledge never
    #: makes a difference; an entry (Stripe) is compared by the Stripe rules instead
    expected: int | None = None
    #: Another line is already matched to it
    taken: bool = False
    detail: str = ""


def _ids(refs: Iterable[str], kind: str) -> list[int]:
    out = []
    for ref in refs:
        k, _, ident = ref.partition(":")
        if k == kind and ident.isdigit():
            out.append(int(ident))
    return out


def describe(session: Session, refs: Iterable[str]) -> dict[str, LedgerItem]:
    """Each ``kind:id`` that exists, as a ``LedgerItem``; unknown ones are left out."""
    refs = list(dict.fromkeys(refs))
    out: dict[str, LedgerItem] = {}
    for ident in _chunks(_ids(refs, "donation")):
        out.update((i.ref, i) for i in _donations(session, Donation.id.in_(ident)))
    for ident in _chunks(_ids(refs, "pledge")):
        out.update((i.ref, i) for i in _pledges(session, Pledge.id.in_(ident), open_only=False))
    for ident in _chunks(_ids(refs, "stripe_payout")):
        out.update((i.ref, i) for i in _payouts(session, Payout.id.in_(ident)))
    for ident in _chunks(_ids(refs, "disbursement")):
        out.update((i.ref, i) for i in _disbursements(session, Disbursement.id.in_(ident)))
    for ident in _chunks(_ids(refs, "revenue_return")):
        out.update((i.ref, i) for i in _returns(session, RevenueReturn.id.in_(ident)))
    for ident in _chunks(_ids(refs, "entry")):
        for e in session.scalars(select(Entry).where(Entry.id.in_(ident))):
            out[f"entry:{e.id}"] = LedgerItem(
                f"entry:{e.id}", "entry", None, "TWD", e.entry_date, detail=e.kind
            )
    return out


def _chunks(ids: list[int], n: int = 900):
    for i in range(0, len(ids), n):
        yield ids[i : i + n]


def _donations(session, *where, limit: int | None = None) -> list[LedgerItem]:
    stmt = (
        select(Donation, Organisation.name, Organisation.name_en, Pledge.virtual_account)
        .outerjoin(Organisation, Organisation.id == Donation.company_id)
        .outerjoin(Pledge, Pledge.id == Donation.pledge_id)
        .where(*where)
        .order_by(Donation.received_on.desc(), Donation.id.desc())
    )
    if limit:
        stmt = stmt.limit(limit)
    out = []
    for d, name, name_en, va in session.execute(stmt):
        amount = d.net_amount - d.refunded_amount
        out.append(
            LedgerItem(
                f"donation:{d.id}",
                "donation",
                amount,
                d.settlement_currency,
                d.received_on,
                name or "",
                name_en,
                va or "",
                expected=amount,
                detail=d.channel,
            )
        )
    return out


def _pledges(session, *where, open_only: bool = True, limit: int | None = None):
    paid = paid_per_pledge()
    due = Pledge.amount - func.coalesce(paid.c.paid, 0)
    stmt = (
        select(Pledge, due.label("due"), Organisation.name, Organisation.name_en)
        .join(Organisation, Organisation.id == Pledge.company_id)
        .outerjoin(paid, paid.c.pledge_id == Pledge.id)
        .where(*where)
        .order_by(Pledge.pledged_on.desc(), Pledge.id.desc())
    )
    if open_only:
        stmt = stmt.where(due > 0)
    if limit:
        stmt = stmt.limit(limit)
    return [
        LedgerItem(
            f"pledge:{p.id}",
            "pledge",
            int(d),
            p.currency,
            p.pledged_on,
            name,
            name_en,
            p.virtual_account or "",
        )
        for p, d, name, name_en in session.execute(stmt)
    ]


def _payouts(session, *where, limit: int | None = None):
    stmt = select(Payout).where(*where).order_by(Payout.paid_on.desc(), Payout.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    return [
        LedgerItem(
            f"stripe_payout:{p.id}",
            "stripe_payout",
            p.amount,
            p.currency,
            p.paid_on,
            "Stripe",
            "Stripe",
            p.stripe_payout_id or "",
            expected=p.amount,
        )
        for p in session.scalars(stmt)
    ]


def _disbursements(session, *where, limit: int | None = None):
    stmt = (
        select(Disbursement, Project.name, Organisation.name, Organisation.name_en)
        .join(Project, Project.id == Disbursement.project_id)
        .join(Organisation, Organisation.id == Project.business_id)
        .where(*where)
        .order_by(Disbursement.id.desc())
    )
    if limit:
        stmt = stmt.limit(limit)
    out = []
    for d, project, name, name_en in session.execute(stmt):
        when = d.paid_at or d.proposed_at
        out.append(
            LedgerItem(
                f"disbursement:{d.id}",
                "disbursement",
                -d.amount,
                d.currency,
                when.astimezone(TAIWAN).date() if when else None,
                name,
                name_en,
                f"D-{d.id}",
                expected=-d.amount,
                detail=project,
            )
        )
    return out


def _returns(session, *where, limit: int | None = None):
    stmt = (
        select(RevenueReturn, Organisation.name, Organisation.name_en)
        .join(ReturnAgreement, ReturnAgreement.id == RevenueReturn.agreement_id)
        .join(Organisation, Organisation.id == ReturnAgreement.business_id)
        .where(*where)
        .order_by(RevenueReturn.received_on.desc(), RevenueReturn.id.desc())
    )
    if limit:
        stmt = stmt.limit(limit)
    return [
        LedgerItem(
            f"revenue_return:{r.id}",
            "revenue_return",
            r.amount,
            r.currency,
            r.received_on,
            name,
            name_en,
            expected=r.amount,
        )
        for r, name, name_en in session.execute(stmt)
    ]


# --- search -----------------------------------------------------------------------------------

_REFERENCE = re.compile(r"^[Dd]-?(\d{1,18})$")


def _as_amount(text: str, currency: str) -> int | None:
    try:
        value = parse_amount(text, currency)
    except InvalidAmount:
        return None
    return abs(value) or None


def search_items(
    session: Session,
    text: str,
    *,
    currency: str = "TWD",
    source: str = "bank",
    limit: int = 10,
) -> list[LedgerItem]:
    """Ledger items a line could be matched to, found by what a manager knows.

    ``text`` is a company or business name (part of it), an amount (``5,000``,
    ``NT$5,000``), a virtual account (or its last digits), a Stripe payout id or a
    disbursement reference (``D-12``). Open pledges, donations, Stripe payouts, paid
    disbursements and revenue returns in ``currency``, up to ``limit`` of each kind, newest
    first; an item another line is already matched to says so. For a bank line, only
    bank-transfer donations (card money reaches the bank in a Stripe payout).
    """
    text = (text or "").strip()[:100]
    if not text:
        return []
    amount = _as_amount(text, currency)
    like = f"%{_escape(text)}%"
    by_name = or_(
        Organisation.name.ilike(like, escape="\\"), Organisation.name_en.ilike(like, escape="\\")
    )
    digits = text.replace(" ", "").replace("-", "")
    by_va = (
        Pledge.virtual_account.like(f"%{digits}%")
        if digits.isdigit() and len(digits) >= 4
        else None
    )

    def either(*clauses):
        clauses = [c for c in clauses if c is not None]
        return or_(*clauses) if len(clauses) > 1 else clauses[0]

    items: list[LedgerItem] = []
    net = Donation.net_amount - Donation.refunded_amount
    channel = [Donation.channel == "bank_transfer"] if source == "bank" else []
    items += _donations(
        session,
        Donation.settlement_currency == currency,
        *channel,
        either(by_name, by_va, (net == amount) if amount else None),
        limit=limit,
    )
    items += _pledges(
        session,
        Pledge.currency == currency,
        either(by_name, by_va, (Pledge.amount == amount) if amount else None),
        limit=limit,
    )
    payout_clauses = [Payout.stripe_payout_id.ilike(like, escape="\\")]
    if amount:
        payout_clauses.append(Payout.amount == amount)
    if text.lower() == "stripe":
        payout_clauses.append(Payout.id.is_not(None))
    items += _payouts(session, Payout.currency == currency, or_(*payout_clauses), limit=limit)
    reference = _REFERENCE.match(text)
    items += _disbursements(
        session,
        Disbursement.status == "paid",
        Disbursement.currency == currency,
        either(
            by_name,
            Project.name.ilike(like, escape="\\"),
            (Disbursement.id == int(reference.group(1))) if reference else None,
            (Disbursement.amount == amount) if amount else None,
        ),
        limit=limit,
    )
    items += _returns(
        session,
        RevenueReturn.currency == currency,
        either(by_name, (RevenueReturn.amount == amount) if amount else None),
        limit=limit,
    )
    taken = linked_items(session, [i.ref for i in items])
    return [LedgerItem(**{**i.__dict__, "taken": True}) if i.ref in taken else i for i in items]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def linked_items(session: Session, refs: Sequence[str]) -> set[str]:
    """Which of ``refs`` a bank line is already matched (or confirmed) to."""
    if not refs:
        return set()
    wanted = set(refs)
    clauses = []
    for ref in wanted:
        # matched_to is "kind:id" items separated by spaces
        clauses += [
            StatementLine.matched_to == ref,
            StatementLine.matched_to.like(f"{ref} %"),
            StatementLine.matched_to.like(f"% {ref}"),
            StatementLine.matched_to.like(f"% {ref} %"),
        ]
    found: set[str] = set()
    for text in session.scalars(
        select(StatementLine.matched_to).where(
            StatementLine.source == "bank",
            StatementLine.status.in_(("matched", "confirmed")),
            or_(*clauses),
        )
    ):
        found.update(set(text.split()) & wanted)
    return found


# --- differences ------------------------------------------------------------------------------


def difference(line: StatementLine, items: Sequence[LedgerItem]) -> int | None:
    """Line amount minus what ``items`` expected; None when there is nothing to compare (a
    pledge takes the line's amount; a Stripe entry is checked by the Stripe rules)."""
    if not items or any(i.expected is None for i in items):
        return None
    if any(i.currency != line.currency for i in items):
        return None
    return line.amount - sum(i.expected for i in items)


__all__ = [
    "PAGE_SIZES",
    "STATUS_FILTERS",
    "LedgerItem",
    "LineFilter",
    "LinePage",
    "QueueLine",
    "conditions",
    "count",
    "counts",
    "decode_cursor",
    "describe",
    "difference",
    "encode_cursor",
    "linked_items",
    "page_of_lines",
    "queue_line",
    "recent_decisions",
    "run_findings",
    "search_items",
]
