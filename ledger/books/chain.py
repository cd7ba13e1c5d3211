"""Tamper evidence: a SHA-256 hash chain over every entry, and the verifier that re-derives it.

Entries are sealed after they commit, in the order the sealer sees them (``ledger_unsealed``
is filled by a database trigger in the same transaction as the entry). Sealing is one short
transaction under an advisory lock on PostgreSQL, so it never sits on the posting path and
never becomes the throughput bottleneck; a posting that arrives while another process is
sealing is picked up by the next call.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, exists, func, insert, select, text
from sqlalchemy.orm import Session

from foundation.db import utcnow
from ledger.books.legs import GENESIS_HASH, entry_hash
from ledger.books.models import Account, Entry, Posting, Seal, Unsealed

#: Arbitrary constant naming the sealer's PostgreSQL advisory lock.
SEAL_LOCK = 0x504C4644  # "PLFD"

log = logging.getLogger("placefund.sealer")


@dataclass(frozen=True)
class Backlog:
    """Committed entries waiting to be sealed, and when the oldest of them was written."""

    entries: int
    oldest_at: dt.datetime | None

    def age_seconds(self, now: dt.datetime | None = None) -> float:
        if self.oldest_at is None:
            return 0.0
        return max(0.0, ((now or utcnow()) - self.oldest_at).total_seconds())


def unsealed_backlog(session: Session) -> Backlog:
    row = session.execute(
        select(
            func.count(Unsealed.entry_id), func.min(Entry.created_at, type_=Entry.created_at.type)
        )
        .select_from(Unsealed)
        .join(Entry, Entry.id == Unsealed.entry_id)
    ).one()
    return Backlog(int(row[0] or 0), row[1])


def seal_continuously(
    sessions: Callable[[], Session],
    *,
    interval: float = 1.0,
    max_backoff: float = 30.0,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Seal new entries every ``interval`` seconds until ``stop()``; never gives up.

    A failed round (the database restarted, the connection dropped, a statement timed out)
    is logged and tried again after a growing, jittered wait of up to ``max_backoff``
    seconds; the pool then replaces the broken connection. Sealing catches up from
    ``ledger_unsealed`` whenever the database is back, so nothing is lost meanwhile, and
    the readiness endpoint reports the backlog while it grows.
    """
    failures = 0
    while not stop():
        try:
            with sessions() as session, session.begin():
                # Several servers may run a sealer; the advisory lock lets one seal while
                # the others skip the round.
                count = seal_pending(session, wait=False)
        except Exception as error:
            failures += 1
            delay = min(max_backoff, interval * 2**failures) * (0.5 + random.random() / 2)
            # The exception on the same line (exc_type, exc_message, exc: foundation/logs.py)
            log.warning(
                "sealing failed; trying again",
                exc_info=True,
                extra={"error": type(error).__name__, "failures": failures, "retry_in": delay},
            )
        else:
            if failures:
                log.info("sealing resumed", extra={"after_failures": failures})
            failures = 0
            delay = interval
            if count:
                log.info("sealed", extra={"entries": count})
        sleep(delay)


def _entry_fields(row, entry_id: int | None = None) -> dict[str, object]:
    return {
        "id": row.id if entry_id is None else entry_id,
        "kind": row.kind,
        "date": row.entry_date.isoformat(),
        "memo": row.memo,
        "key": row.idempotency_key,
        "reverses": row.reverses_entry_id,
        "related": row.related_entry_id,
        "refs": row.source_refs,
    }


_ENTRY_COLUMNS = (
    Entry.id,
    Entry.kind,
    Entry.entry_date,
    Entry.memo,
    Entry.idempotency_key,
    Entry.reverses_entry_id,
    Entry.related_entry_id,
    Entry.source_refs,
)


def seal_pending(session: Session, *, batch: int = 5000, wait: bool = False) -> int:
    """Seal committed entries that are not yet in the chain. Returns how many were sealed.

    Call it in its own transaction after commits. With ``wait=False`` it returns 0 at once
    when another process holds the sealer lock (that process will seal our entries).
    """
    if session.get_bind().dialect.name == "postgresql":
        if wait:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEAL_LOCK})
        elif not session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEAL_LOCK}):
            return 0
    head = session.execute(select(Seal.seq, Seal.hash).order_by(Seal.seq.desc()).limit(1)).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    total = 0
    while True:
        ids = session.scalars(
            select(Unsealed.entry_id).order_by(Unsealed.entry_id).limit(batch)
        ).all()
        if not ids:
            return total
        postings = defaultdict(list)
        for p in session.execute(
            select(Posting.entry_id, Account.code, Posting.amount, Posting.currency)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_(ids))
            .order_by(Posting.id)
        ):
            postings[p.entry_id].append((p.code, p.amount, p.currency))
        rows = session.execute(
            select(*_ENTRY_COLUMNS).where(Entry.id.in_(ids)).order_by(Entry.id)
        ).all()
        seals = []
        now = utcnow()
        for row in rows:
            seq += 1
            digest = entry_hash(prev, seq, _entry_fields(row), postings[row.id])
            seals.append(
                {
                    "seq": seq,
                    "entry_id": row.id,
                    "prev_hash": prev,
                    "hash": digest,
                    "sealed_at": now,
                }
            )
            prev = digest
        session.execute(insert(Seal), seals)
        session.execute(delete(Unsealed).where(Unsealed.entry_id.in_(ids)))
        total += len(seals)


@dataclass
class VerifyReport:
    entries: int = 0
    postings: int = 0
    unsealed: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_entry: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    session: Session,
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = 20000,
) -> VerifyReport:
    """Recompute the chain, each entry's balance per currency, and every account balance.

    Reads the chain in sequence order with keyset pagination (bounded memory); reports the
    first entry whose stored content no longer matches its seal, or whose chain link breaks.
    """
    report = VerifyReport()
    codes = dict(session.execute(select(Account.id, Account.code)).all())
    prev = GENESIS_HASH
    expected_seq = 0
    last_seq = 0
    sums: dict[int, int] = defaultdict(int)

    def bad(entry_id: int, message: str) -> None:
        if report.first_bad_entry is None:
            report.first_bad_entry = entry_id
        report.problems.append(message)

    while True:
        # Keyset pagination over the chain; entries and postings come by join on the same
        # seq range, so the database never sees a long IN list.
        seals = session.execute(
            select(Seal.seq, Seal.entry_id, Seal.prev_hash, Seal.hash, *_ENTRY_COLUMNS[1:])
            .join(Entry, Entry.id == Seal.entry_id, isouter=True)
            .where(Seal.seq > last_seq)
            .order_by(Seal.seq)
            .limit(chunk)
        ).all()
        if not seals:
            break
        top = seals[-1].seq
        postings: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
        for entry_id, account_id, amount, currency in session.execute(
            select(Posting.entry_id, Posting.account_id, Posting.amount, Posting.currency)
            .join(Seal, Seal.entry_id == Posting.entry_id)
            .where(Seal.seq > last_seq, Seal.seq <= top)
            .order_by(Posting.id)
        ):
            postings[entry_id].append((codes[account_id], amount, currency))
            sums[account_id] += amount
        for s in seals:
            expected_seq += 1
            report.entries += 1
            lines = postings.get(s.entry_id, [])
            report.postings += len(lines)
            if s.seq != expected_seq:
                bad(s.entry_id, f"chain gap: seal {s.seq} found where {expected_seq} was expected")
                expected_seq = s.seq
            if s.prev_hash != prev:
                bad(s.entry_id, f"entry {s.entry_id}: chain link broken at seal {s.seq}")
            if s.kind is None:
                bad(s.entry_id, f"entry {s.entry_id}: sealed at {s.seq} but missing")
            else:
                fields = _entry_fields(s, entry_id=s.entry_id)
                digest = entry_hash(s.prev_hash, s.seq, fields, lines)
                if digest != s.hash:
                    bad(s.entry_id, f"entry {s.entry_id}: content does not match its seal {s.seq}")
            per_currency: dict[str, int] = defaultdict(int)
            for _, amount, currency in lines:
                per_currency[currency] += amount
            if len(lines) < 2 or any(per_currency.values()):
                bad(s.entry_id, f"entry {s.entry_id}: postings do not balance")
            prev = s.hash
        last_seq = top
        if progress:
            progress(len(seals))

    report.unsealed = session.scalar(select(func.count()).select_from(Unsealed))
    if report.unsealed:
        # Unsealed entries are not covered by the chain yet; their postings still count
        # towards balances, so add them before comparing.
        for account_id, amount in session.execute(
            select(Posting.account_id, func.sum(Posting.amount))
            .join(Unsealed, Unsealed.entry_id == Posting.entry_id)
            .group_by(Posting.account_id)
        ):
            sums[account_id] += amount
    # NOT EXISTS (an anti-join), never NOT IN: NOT IN over a large subquery degrades to a
    # nested loop on PostgreSQL once the subquery no longer fits in work_mem.
    orphan = session.scalar(
        select(func.count(Entry.id)).where(
            ~exists().where(Seal.entry_id == Entry.id),
            ~exists().where(Unsealed.entry_id == Entry.id),
        )
    )
    if orphan:
        report.problems.append(f"{orphan} entries are neither sealed nor queued for sealing")
    for account_id, code, stored in session.execute(
        select(Account.id, Account.code, Account.balance)
    ):
        if sums.get(account_id, 0) != stored:
            report.problems.append(
                f"account {code}: stored balance {stored} "
                f"but postings sum to {sums.get(account_id, 0)}"
            )
    return report


def chain_head(session: Session) -> tuple[int, str, dt.datetime | None]:
    head = session.execute(
        select(Seal.seq, Seal.hash, Seal.sealed_at).order_by(Seal.seq.desc()).limit(1)
    ).first()
    return (head.seq, head.hash, head.sealed_at) if head else (0, GENESIS_HASH, None)
