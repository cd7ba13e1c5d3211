"""Reconciliation rules, pure: statement lines and expected items in, proposals out.

Nothing here reads or writes the database and nothing is mutated, so every run is a dry run;
the DB layer fills the plain dataclasses below, shows the proposals, and records the ones a
fund manager accepts (or the ones above a confidence it trusts).

Bank lines are matched to candidates by these rules, in this order, each working on what
the earlier ones left:

1. ``virtual_account``: the line carries a pledge's 虛擬帳號 (exact). Several lines may pay
   one pledge (instalments); partial and over-payments are matched and said so.
2. ``reference``: the memo carries a candidate's exact id (a Stripe ``po_...``).
3. ``amount_date``: same amount (within ``amount_tolerance`` for bank fees) and date within
   ``date_tolerance_days``, one line to one candidate.
4. ``one_to_many``: one line covers several candidates of the same counterparty whose sum
   equals the line within tolerance (bounded search).

Ambiguity never auto-matches: two equally good candidates (or lines) become a
``Suggestion`` listing the options for a person to choose.

The second half checks Stripe: balance transactions against ledger records, and each
payout against the sum of its transactions.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.money import format_money
from ledger.reconciliation.bank_files import ParsedLine

RULES = ("virtual_account", "reference", "amount_date", "one_to_many")

#: What a candidate can be; the kind only shapes the reasons shown to people.
CANDIDATE_KINDS = (
    "pledge",
    "donation",
    "stripe_payout",
    "disbursement",
    "revenue_return",
    "other",
)

#: The kinds in words (a reason is prose, never ``stripe_payout``)
_KIND_EN = {
    "pledge": "pledge",
    "donation": "donation",
    "stripe_payout": "Stripe payout",
    "disbursement": "disbursement",
    "revenue_return": "revenue return",
    "other": "item",
}

_KIND_ZH = {
    "pledge": "認捐",
    "donation": "捐款",
    "stripe_payout": "Stripe 撥款",
    "disbursement": "撥付",
    "revenue_return": "收益回流",
    "other": "項目",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """Something the fund expects to see on the bank statement.

    ``amount`` is signed as it should appear on the statement, in minor units: positive for
    money coming in (a pledge's outstanding amount, a Stripe payout, a revenue return),
    negative for money going out (a paid disbursement). ``date`` is the expected date (due
    date, payout arrival date, payment date). ``counterparty`` groups candidates for the
    one-to-many rule (e.g. the company id, or ``"stripe"`` for payouts).
    """

    kind: str
    id: int | str
    amount: int
    currency: str
    date: dt.date
    virtual_account: str | None = None
    reference: str | None = None
    counterparty: str | None = None
    #: What names it after its kind (a Stripe payout's po_ id); the id when empty
    label: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """Unique across kinds: ``("pledge", "42")``."""
        return (self.kind, str(self.id))

    def describe(self) -> str:
        """In words: "Stripe payout po_..." (the label names it; else the kind and id)."""
        return f"{_KIND_EN.get(self.kind, self.kind)} {self.label or self.id}"

    def describe_zh(self) -> str:
        return f"{_KIND_ZH.get(self.kind, self.kind)} {self.label or self.id}"


@dataclass(frozen=True)
class ReconcileConfig:
    """Tolerances and search bounds for the matching rules."""

    date_tolerance_days: int = 3
    #: Bank fees deducted in transit (minor units); 0 means amounts must be equal.
    amount_tolerance: int = 0
    #: One-to-many: most candidates one line may cover, and the candidates per line searched.
    max_parts: int = 6
    max_group_candidates: int = 12
    #: Candidates looked at around one line's date (nearest first) in the fuzzy rules.
    window_cap: int = 48
    #: Subset-sum nodes per line before the search gives up (then nothing auto-matches).
    search_budget: int = 20_000


@dataclass(frozen=True)
class Match:
    """A proposed match: one line to one or more candidates, with the rule and why."""

    rule: str
    line: ParsedLine
    candidates: tuple[Candidate, ...]
    confidence: float
    reason: str
    reason_zh: str

    @property
    def difference(self) -> int:
        """Line amount minus what the candidates expected (e.g. a bank fee, a part payment)."""
        return self.line.amount - sum(c.amount for c in self.candidates)


@dataclass(frozen=True)
class Suggestion:
    """Something a person must decide: each option is a tuple of candidates (may be none)."""

    rule: str
    line: ParsedLine | None
    options: tuple[tuple[Candidate, ...], ...]
    reason: str
    reason_zh: str


@dataclass
class ReconcileResult:
    """Proposals only. Lines and candidates in suggestions are also listed as unmatched."""

    matches: list[Match] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    unmatched_lines: list[ParsedLine] = field(default_factory=list)
    unmatched_candidates: list[Candidate] = field(default_factory=list)

    def by_rule(self) -> dict[str, int]:
        counts = dict.fromkeys(RULES, 0)
        for m in self.matches:
            counts[m.rule] += 1
        return counts


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency)


# --- the rules -------------------------------------------------------------------------------


def reconcile_bank(
    lines: Sequence[ParsedLine],
    candidates: Sequence[Candidate],
    config: ReconcileConfig | None = None,
) -> ReconcileResult:
    """Propose matches of statement lines to candidates. Pure: mutates nothing.

    Runs the four rules in order (see the module docstring); returns the matches, the
    suggestions for ambiguous cases, and everything left unmatched, in input order.
    """
    cfg = config or ReconcileConfig()
    result = ReconcileResult()
    # Positions stand in for objects in the working sets (lines need not be hashable-unique).
    free_lines: dict[int, ParsedLine] = dict(enumerate(lines))
    free_cands: dict[int, Candidate] = dict(enumerate(candidates))
    # Lines and candidates a person must look at: later rules leave them alone.
    held_lines: set[int] = set()
    held_cands: set[int] = set()

    _rule_virtual_account(free_lines, free_cands, held_lines, held_cands, result)
    _rule_reference(free_lines, free_cands, held_lines, held_cands, cfg, result)
    _rule_amount_date(free_lines, free_cands, held_lines, held_cands, cfg, result)
    _rule_one_to_many(free_lines, free_cands, held_lines, held_cands, cfg, result)

    result.matches.sort(key=lambda m: m.line.line)
    result.unmatched_lines = list(free_lines.values())
    result.unmatched_candidates = list(free_cands.values())
    return result


def _rule_virtual_account(free_lines, free_cands, held_lines, held_cands, result) -> None:
    by_ref: dict[str, list[int]] = defaultdict(list)
    for i, c in free_cands.items():
        if c.virtual_account:
            by_ref[c.virtual_account].append(i)
    if not any(line.virtual_accounts for line in free_lines.values()):
        return
    received: dict[int, int] = defaultdict(int)
    taken: set[int] = set()
    # Chronological, so "second instalment" and "now fully paid" read in the right order.
    order = sorted(
        (i for i, line in free_lines.items() if line.virtual_accounts),
        key=lambda i: (free_lines[i].date, free_lines[i].line),
    )
    for i in order:
        line = free_lines[i]
        refs = line.virtual_accounts
        known = [ci for ref in refs for ci in by_ref.get(ref, ())]
        if len(refs) > 1 or len(known) > 1:
            held_lines.add(i)
            held_cands.update(known)
            result.suggestions.append(
                Suggestion(
                    "virtual_account",
                    line,
                    tuple((free_cands[ci],) for ci in known),
                    f"line {line.line} carries several virtual accounts: {', '.join(refs)}",
                    f"第 {line.line} 行含有多個虛擬帳號：{'、'.join(refs)}",
                )
            )
            continue
        if not known:
            # A valid fund number with nothing open behind it: an overpayment or a pledge
            # already settled. Matching it by amount to someone else would be wrong.
            held_lines.add(i)
            result.suggestions.append(
                Suggestion(
                    "virtual_account",
                    line,
                    (),
                    f"line {line.line}: virtual account {refs[0]} has no open pledge",
                    f"第 {line.line} 行：虛擬帳號 {refs[0]} 沒有未結清的認捐",
                )
            )
            continue
        ci = known[0]
        cand = free_cands[ci]
        if line.amount <= 0 or line.currency != cand.currency:
            held_lines.add(i)
            result.suggestions.append(
                Suggestion(
                    "virtual_account",
                    line,
                    ((cand,),),
                    f"line {line.line}: virtual account of {cand.describe()} on a "
                    f"{'withdrawal' if line.amount <= 0 else line.currency + ' line'}",
                    f"第 {line.line} 行：{cand.describe_zh()} 的虛擬帳號出現在"
                    f"{'支出' if line.amount <= 0 else line.currency + ' 交易'}",
                )
            )
            continue
        before = received[ci]
        received[ci] = after = before + line.amount
        paid = _money(line.amount, line.currency)
        due = _money(cand.amount, cand.currency)
        if after == cand.amount and before == 0:
            conf, note, note_zh = 1.0, "", ""
        elif after == cand.amount:
            conf = 1.0
            note, note_zh = "; now fully paid", "；已全數繳清"
        elif after < cand.amount:
            conf = 0.95
            note = f"; part payment, {_money(cand.amount - after, cand.currency)} still due"
            note_zh = f"；部分繳款，尚欠 {_money(cand.amount - after, cand.currency)}"
        else:
            conf = 0.9
            note = f"; overpaid by {_money(after - cand.amount, cand.currency)}"
            note_zh = f"；溢繳 {_money(after - cand.amount, cand.currency)}"
        result.matches.append(
            Match(
                "virtual_account",
                line,
                (cand,),
                conf,
                f"virtual account {refs[0]} belongs to {cand.describe()}: {paid} of {due}{note}",
                f"虛擬帳號 {refs[0]} 屬於{cand.describe_zh()}：繳 {paid}，應繳 {due}{note_zh}",
            )
        )
        taken.add(ci)
        del free_lines[i]
    for ci in taken:
        free_cands.pop(ci, None)


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{3,}")


def _rule_reference(free_lines, free_cands, held_lines, held_cands, cfg, result) -> None:
    exact: dict[str, list[int]] = defaultdict(list)
    folded: dict[str, list[int]] = defaultdict(list)
    for i, c in free_cands.items():
        if c.reference:
            exact[c.reference].append(i)
            folded[c.reference.lower()].append(i)
    if not exact:
        return
    for i in list(free_lines):
        if i in held_lines:
            continue
        line = free_lines[i]
        found: list[int] = []
        caseless = False
        tokens = _TOKEN.findall(f"{line.memo} {line.counterparty}")
        # "STRIPE-po_123" is one token; its dash-separated parts are tried as well.
        tokens += [part for token in tokens if "-" in token for part in token.split("-")]
        for token in tokens:
            hits = exact.get(token)
            if hits is None:
                # Some banks upper-case memos; a Stripe id folded to one case is still
                # unique in practice, but we say so and lower the confidence.
                hits = folded.get(token.lower())
                caseless = caseless or bool(hits)
            for ci in hits or ():
                if ci not in found and ci in free_cands and ci not in held_cands:
                    found.append(ci)
        if not found:
            continue
        cands = tuple(free_cands[ci] for ci in found)
        total = sum(c.amount for c in cands)
        diff = line.amount - total
        names = ", ".join(c.describe() for c in cands)
        names_zh = "、".join(c.describe_zh() for c in cands)
        same_currency = all(c.currency == line.currency for c in cands)
        if same_currency and abs(diff) <= cfg.amount_tolerance and (total > 0) == (line.amount > 0):
            conf = (1.0 if diff == 0 else 0.95) - (0.05 if caseless else 0.0)
            fee = "" if diff == 0 else f" (difference {_money(diff, line.currency)})"
            fee_zh = "" if diff == 0 else f"（差額 {_money(diff, line.currency)}）"
            result.matches.append(
                Match(
                    "reference",
                    line,
                    cands,
                    conf,
                    f"memo names {names} and the amount agrees{fee}",
                    f"摘要載明{names_zh}，金額相符{fee_zh}",
                )
            )
            del free_lines[i]
            for ci in found:
                del free_cands[ci]
        else:
            held_lines.add(i)
            held_cands.update(found)
            result.suggestions.append(
                Suggestion(
                    "reference",
                    line,
                    (cands,),
                    f"memo names {names} but the line is {_money(line.amount, line.currency)} "
                    f"and {'they expect' if len(cands) > 1 else 'it expects'} "
                    f"{_money(total, cands[0].currency)}",
                    f"摘要載明{names_zh}，但本行金額 {_money(line.amount, line.currency)}，"
                    f"預期 {_money(total, cands[0].currency)}",
                )
            )


def _nearest(dates: list[int], day: int, tol: int, cap: int) -> list[int]:
    """Indexes into sorted ``dates`` within ``tol`` of ``day``, nearest first, at most ``cap``."""
    right = bisect.bisect_left(dates, day)
    left = right - 1
    out: list[int] = []
    n = len(dates)
    while len(out) < cap:
        dl = day - dates[left] if left >= 0 else tol + 1
        dr = dates[right] - day if right < n else tol + 1
        if dl > tol and dr > tol:
            break
        if dl <= dr:
            out.append(left)
            left -= 1
        else:
            out.append(right)
            right += 1
    return out


def _rule_amount_date(free_lines, free_cands, held_lines, held_cands, cfg, result) -> None:
    tol_days, tol_amount = cfg.date_tolerance_days, cfg.amount_tolerance
    # Index: (currency, amount) -> candidates sorted by date; sorted amounts per currency
    # so a tolerance range is one bisect, not a scan.
    buckets: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for ci, c in free_cands.items():
        if ci not in held_cands:
            buckets[(c.currency, c.amount)].append((c.date.toordinal(), ci))
    amounts: dict[str, list[int]] = defaultdict(list)
    dates: dict[tuple[str, int], list[int]] = {}
    for (cur, amount), items in buckets.items():
        items.sort()
        amounts[cur].append(amount)
        dates[(cur, amount)] = [d for d, _ in items]
    for values in amounts.values():
        values.sort()

    per_line = 8  # the best few per line are enough for a greedy one-to-one assignment
    pairs: list[tuple[int, int, int, int]] = []  # (amount diff, day diff, line idx, cand idx)
    for li, line in free_lines.items():
        if li in held_lines or line.amount == 0:
            continue
        values = amounts.get(line.currency)
        if not values:
            continue
        day = line.date.toordinal()
        lo = bisect.bisect_left(values, line.amount - tol_amount)
        hi = bisect.bisect_right(values, line.amount + tol_amount)
        found: list[tuple[int, int, int, int]] = []
        for amount in values[lo:hi]:
            if (amount > 0) != (line.amount > 0):
                continue
            key = (line.currency, amount)
            items = buckets[key]
            for k in _nearest(dates[key], day, tol_days, cfg.window_cap):
                d, ci = items[k]
                found.append((abs(line.amount - amount), abs(d - day), li, ci))
        if len(found) > per_line:
            found.sort()
            # Keep every pair tied with the last kept one, so ties are still seen as ties.
            cut = per_line
            while cut < len(found) and found[cut][:2] == found[per_line - 1][:2]:
                cut += 1
            found = found[:cut]
        pairs.extend(found)

    pairs.sort()
    matched_lines: set[int] = set()
    matched_cands: set[int] = set()
    blocked_lines: set[int] = set()
    blocked_cands: set[int] = set()
    start = 0
    while start < len(pairs):
        score = pairs[start][:2]
        end = start
        while end < len(pairs) and pairs[end][:2] == score:
            end += 1
        group = [
            (li, ci)
            for _, _, li, ci in pairs[start:end]
            if li not in matched_lines
            and ci not in matched_cands
            and li not in blocked_lines
            and ci not in blocked_cands
        ]
        start = end
        line_count: dict[int, int] = defaultdict(int)
        cand_count: dict[int, int] = defaultdict(int)
        for li, ci in group:
            line_count[li] += 1
            cand_count[ci] += 1
        contested: dict[int, list[int]] = defaultdict(list)
        for li, ci in group:
            if line_count[li] == 1 and cand_count[ci] == 1:
                matched_lines.add(li)
                matched_cands.add(ci)
                line, cand = free_lines[li], free_cands[ci]
                result.matches.append(_amount_date_match(line, cand, score))
            else:
                contested[li].append(ci)
        for li, cis in contested.items():
            blocked_lines.add(li)
            blocked_cands.update(cis)
        for li, cis in contested.items():
            line = free_lines[li]
            # Every candidate any contested line could take at this score is an option.
            result.suggestions.append(
                Suggestion(
                    "amount_date",
                    line,
                    tuple((free_cands[ci],) for ci in cis),
                    f"line {line.line}: {len(cis)} equally good candidates "
                    f"({_money(line.amount, line.currency)} on {line.date.isoformat()}); "
                    "choose one",
                    f"第 {line.line} 行：有 {len(cis)} 個同樣符合的項目"
                    f"（{line.date.isoformat()} {_money(line.amount, line.currency)}），請選擇",
                )
                if len(cis) > 1
                else Suggestion(
                    "amount_date",
                    line,
                    ((free_cands[cis[0]],),),
                    f"line {line.line}: {free_cands[cis[0]].describe()} fits this line and "
                    "another one equally well; choose",
                    f"第 {line.line} 行：{free_cands[cis[0]].describe_zh()} "
                    "同樣符合本行與另一行，請選擇",
                )
            )
    held_lines |= blocked_lines
    held_cands |= blocked_cands
    for li in matched_lines:
        del free_lines[li]
    for ci in matched_cands:
        del free_cands[ci]


def _amount_date_match(line: ParsedLine, cand: Candidate, score: tuple[int, int]) -> Match:
    amount_diff, days = score
    conf = max(0.5, 0.9 - 0.05 * days - (0.1 if amount_diff else 0.0))
    when = "the same day" if days == 0 else f"{days} day{'s' if days > 1 else ''} apart"
    when_zh = "同日" if days == 0 else f"相差 {days} 天"
    fee = f", {_money(line.amount - cand.amount, line.currency)} difference" if amount_diff else ""
    fee_zh = f"，差額 {_money(line.amount - cand.amount, line.currency)}" if amount_diff else ""
    return Match(
        "amount_date",
        line,
        (cand,),
        round(conf, 2),
        f"{_money(line.amount, line.currency)} matches {cand.describe()} "
        f"({_money(cand.amount, cand.currency)}, {when}{fee})",
        f"{_money(line.amount, line.currency)} 與{cand.describe_zh()}相符"
        f"（{_money(cand.amount, cand.currency)}，{when_zh}{fee_zh}）",
    )


def _reachable(values: list[int], low: int, high: int) -> bool:
    """Whether some non-empty subset of ``values`` (positive) can sum into [low, high].

    A quick necessary test run before the subset search: a bitset of reachable sums in a
    Python int, in units of the values' gcd (100 for whole-dollar TWD), so most lines with
    no solution are dismissed in microseconds. Too wide a range skips the test (True).
    """
    unit = 0
    for v in values:
        unit = math.gcd(unit, v)
    top = high // unit
    if top > 1 << 22:
        return True
    start = max(1, -(-low // unit))
    if start > top:
        return False
    mask = (1 << (top + 1)) - 1
    bits = 1
    for v in values:
        bits |= (bits << (v // unit)) & mask
    return bits >> start != 0


def _subsets(
    values: list[int], target: int, tol: int, max_parts: int, budget: int
) -> tuple[list[tuple[int, ...]], int]:
    """Index tuples of ``values`` (positive, sorted descending) summing to target +- tol.

    Stops at two solutions (one is a match, two is ambiguous) or when ``budget`` nodes are
    spent; returns the solutions and the nodes used (more than ``budget``: incomplete).
    """
    n = len(values)
    prefix = [0] * (n + 1)
    for k, v in enumerate(values):
        prefix[k + 1] = prefix[k] + v
    negated = [-v for v in values]  # ascending, for bisect
    found: list[tuple[int, ...]] = []
    nodes = 0
    chosen: list[int] = []

    def walk(start: int, total: int) -> None:
        nonlocal nodes
        high, low = target + tol - total, target - tol - total
        slots = max_parts - len(chosen)
        # Skip straight to the first value that still fits.
        for k in range(bisect.bisect_left(negated, -high, start), n):
            if len(found) >= 2 or nodes > budget:
                return
            nodes += 1
            # The most this branch can reach: values[k] plus the next largest that fit in
            # the remaining slots. Values only shrink from here, so if that falls short,
            # every later k does too.
            if prefix[min(k + slots, n)] - prefix[k] < low:
                return
            chosen.append(k)
            if values[k] >= low and len(chosen) >= 2:
                found.append(tuple(chosen))
            elif slots > 1:
                walk(k + 1, total + values[k])
            chosen.pop()

    walk(0, 0)
    return found, nodes


def _rule_one_to_many(free_lines, free_cands, held_lines, held_cands, cfg, result) -> None:
    per_currency: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for ci, c in free_cands.items():
        if ci not in held_cands and c.counterparty is not None:
            per_currency[c.currency].append((c.date.toordinal(), ci))
    if not per_currency:
        return
    dates: dict[str, list[int]] = {}
    for cur, items in per_currency.items():
        items.sort()
        dates[cur] = [d for d, _ in items]
    taken: set[int] = set()
    order = sorted(
        (li for li in free_lines if li not in held_lines),
        key=lambda li: (free_lines[li].date, free_lines[li].line),
    )
    for li in order:
        line = free_lines[li]
        items = per_currency.get(line.currency)
        if not items or line.amount == 0:
            continue
        sign = 1 if line.amount > 0 else -1
        target = abs(line.amount)
        groups: dict[str, list[int]] = defaultdict(list)
        near = _nearest(
            dates[line.currency], line.date.toordinal(), cfg.date_tolerance_days, cfg.window_cap
        )
        for k in near:
            ci = items[k][1]
            c = free_cands[ci]
            if ci in taken or c.amount * sign <= 0 or abs(c.amount) > target + cfg.amount_tolerance:
                continue
            group = groups[c.counterparty]
            if len(group) < cfg.max_group_candidates:  # nearest first, so these are the best
                group.append(ci)
        solutions: list[tuple[int, ...]] = []
        budget = cfg.search_budget  # shared by all groups of this line
        for members in groups.values():
            if len(members) < 2:
                continue
            if sum(abs(free_cands[ci].amount) for ci in members) < target - cfg.amount_tolerance:
                continue
            members.sort(key=lambda ci: -abs(free_cands[ci].amount))
            values = [abs(free_cands[ci].amount) for ci in members]
            # Small groups are cheaper to search than to filter.
            if len(values) > 6 and not _reachable(
                values, target - cfg.amount_tolerance, target + cfg.amount_tolerance
            ):
                continue
            found, used = _subsets(values, target, cfg.amount_tolerance, cfg.max_parts, budget)
            budget -= used
            solutions.extend(tuple(members[k] for k in sol) for sol in found)
            if len(solutions) >= 2 or budget < 0:
                break
        complete = budget >= 0
        if not solutions:
            continue
        options = tuple(tuple(free_cands[ci] for ci in sol) for sol in solutions)
        if len(solutions) == 1 and complete:
            cands = options[0]
            diff = line.amount - sum(c.amount for c in cands)
            names = ", ".join(c.describe() for c in cands)
            names_zh = "、".join(c.describe_zh() for c in cands)
            fee = f" (difference {_money(diff, line.currency)})" if diff else ""
            fee_zh = f"（差額 {_money(diff, line.currency)}）" if diff else ""
            result.matches.append(
                Match(
                    "one_to_many",
                    line,
                    cands,
                    0.8 if diff == 0 else 0.75,
                    f"{_money(line.amount, line.currency)} is the sum of {len(cands)} items of "
                    f"{cands[0].counterparty}: {names}{fee}",
                    f"{_money(line.amount, line.currency)} 為 {cands[0].counterparty} 的 "
                    f"{len(cands)} 筆合計：{names_zh}{fee_zh}",
                )
            )
            taken.update(solutions[0])
            del free_lines[li]
        else:
            held_lines.add(li)
            why = "several combinations fit" if len(solutions) > 1 else "search was cut short"
            why_zh = "有多種組合相符" if len(solutions) > 1 else "搜尋未完成"
            result.suggestions.append(
                Suggestion(
                    "one_to_many",
                    line,
                    options,
                    f"line {line.line}: {why}; choose the items this transfer covers",
                    f"第 {line.line} 行：{why_zh}，請選擇此筆轉帳涵蓋的項目",
                )
            )
    for ci in taken:
        del free_cands[ci]


# --- balances --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceCheck:
    """Opening + lines = closing, or by how much it is off."""

    opening: int
    deposits: int
    withdrawals: int
    computed_closing: int
    stated_closing: int

    @property
    def difference(self) -> int:
        """Stated minus computed: what is missing from (positive) or extra in the lines."""
        return self.stated_closing - self.computed_closing

    @property
    def ok(self) -> bool:
        return self.difference == 0

    def message(self, currency: str = "TWD") -> tuple[str, str]:
        """(English, zh-TW) one-line summary for people."""
        if self.ok:
            text = _money(self.stated_closing, currency)
            return f"closing balance {text} agrees", f"期末餘額 {text} 相符"
        c, s = _money(self.computed_closing, currency), _money(self.stated_closing, currency)
        d = _money(self.difference, currency)
        return (
            f"closing balance {s} stated but lines give {c} (difference {d})",
            f"對帳單期末餘額 {s}，但逐筆計算為 {c}（差額 {d}）",
        )


def check_closing_balance(
    opening: int, lines: Iterable[ParsedLine | int], stated_closing: int
) -> BalanceCheck:
    """Check that opening balance plus every line's signed amount equals the stated closing."""
    deposits = withdrawals = 0
    for item in lines:
        amount = item if isinstance(item, int) else item.amount
        if amount >= 0:
            deposits += amount
        else:
            withdrawals += amount
    return BalanceCheck(
        opening=opening,
        deposits=deposits,
        withdrawals=withdrawals,
        computed_closing=opening + deposits + withdrawals,
        stated_closing=stated_closing,
    )


def running_balance_breaks(lines: Sequence[ParsedLine]) -> list[int]:
    """Line numbers whose printed balance does not follow from the previous line's.

    ``lines`` in chronological order (``ParsedStatement.chronological()``). A break means a
    line is missing from the file or the bank's order is not what it seems.
    """
    breaks: list[int] = []
    prev: int | None = None
    for line in lines:
        if line.balance is None:
            prev = None if prev is None else prev + line.amount
            continue
        if prev is not None and prev + line.amount != line.balance:
            breaks.append(line.line)
        prev = line.balance
    return breaks


# --- Stripe ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """A Stripe balance transaction (``txn_...``), amounts in minor units of ``currency``.

    ``amount`` and ``net`` are signed as Stripe signs them (payouts and refunds negative);
    ``fee`` is Stripe's fee (positive). ``source`` is the object that caused it (``ch_``,
    ``re_``, ``dp_``, ``po_`` ...); ``payout`` is the payout that settled it, which Stripe
    gives by listing balance transactions with ``?payout=po_...``.
    """

    id: str
    type: str
    amount: int
    fee: int
    net: int
    currency: str
    source: str | None = None
    payout: str | None = None
    created: dt.datetime | None = None
    payment_intent: str | None = None

    @classmethod
    def from_stripe(cls, obj: Mapping, payout: str | None = None) -> BalanceTransaction:
        """Build from Stripe's JSON (a dict; ``source`` may be an id or an expanded object)."""
        source = obj.get("source")
        payment_intent = None
        if isinstance(source, Mapping):
            pi = source.get("payment_intent")
            payment_intent = pi.get("id") if isinstance(pi, Mapping) else pi
            source = source.get("id")
        created = obj.get("created")
        return cls(
            id=obj["id"],
            type=obj["type"],
            amount=int(obj["amount"]),
            fee=int(obj.get("fee") or 0),
            net=int(obj["net"]),
            currency=str(obj["currency"]).upper(),
            source=source,
            payout=payout or obj.get("payout"),
            created=dt.datetime.fromtimestamp(created, dt.UTC) if created is not None else None,
            payment_intent=payment_intent,
        )


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """What the ledger recorded for a Stripe movement, as the DB layer reads it.

    ``amount`` and ``fee`` are unsigned, in the settlement currency (what landed in the
    Stripe balance), as the ledger stores them; the Stripe type gives the direction.
    ``fee`` None means the ledger does not track a fee for this record. Any of the Stripe
    ids may be None; the more are filled in, the surer the match.
    """

    id: int | str
    kind: str
    amount: int
    currency: str
    fee: int | None = None
    balance_transaction: str | None = None
    charge: str | None = None
    payment_intent: str | None = None
    refund: str | None = None
    dispute: str | None = None
    payout: str | None = None


@dataclass(frozen=True, slots=True)
class StripeDifference:
    """A balance transaction and its ledger record that disagree."""

    transaction: BalanceTransaction
    record: LedgerRecord
    field: str  # "amount", "currency" or "fee"
    stripe_value: int | str
    ledger_value: int | str


@dataclass
class StripeReconciliation:
    matched: list[tuple[BalanceTransaction, LedgerRecord]] = field(default_factory=list)
    missing_in_ledger: list[BalanceTransaction] = field(default_factory=list)
    missing_in_stripe: list[LedgerRecord] = field(default_factory=list)
    amount_mismatch: list[StripeDifference] = field(default_factory=list)
    fee_mismatch: list[StripeDifference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.missing_in_ledger
            or self.missing_in_stripe
            or self.amount_mismatch
            or self.fee_mismatch
        )


def reconcile_stripe(
    transactions: Iterable[BalanceTransaction],
    records: Iterable[LedgerRecord],
    *,
    ignore_types: Iterable[str] = (),
) -> StripeReconciliation:
    """Classify Stripe balance transactions against ledger records. Pure, O(n) with dicts.

    A transaction finds its record by the ``txn_`` id first, then by its source id (charge,
    refund, dispute or payout id), then by payment intent; each record pairs once. Pairs
    whose amount (or currency) differ are amount mismatches; otherwise differing fees are
    fee mismatches. Types in ``ignore_types`` are left out entirely.
    """
    ignored = set(ignore_types)
    records = list(records)
    by_txn: dict[str, int] = {}
    by_ref: dict[str, int] = {}
    by_pi: dict[str, int] = {}
    for ri, rec in enumerate(records):
        if rec.balance_transaction:
            by_txn.setdefault(rec.balance_transaction, ri)
        for ref in (rec.charge, rec.refund, rec.dispute, rec.payout):
            if ref:
                by_ref.setdefault(ref, ri)
        if rec.payment_intent:
            by_pi.setdefault(rec.payment_intent, ri)
    used: set[int] = set()
    out = StripeReconciliation()
    for txn in transactions:
        if txn.type in ignored:
            continue
        ri = None
        for index, key in ((by_txn, txn.id), (by_ref, txn.source), (by_pi, txn.payment_intent)):
            if key is not None:
                found = index.get(key)
                if found is not None and found not in used:
                    ri = found
                    break
        if ri is None:
            out.missing_in_ledger.append(txn)
            continue
        used.add(ri)
        rec = records[ri]
        if rec.currency.upper() != txn.currency:
            out.amount_mismatch.append(
                StripeDifference(txn, rec, "currency", txn.currency, rec.currency)
            )
        elif abs(txn.amount) != rec.amount:
            out.amount_mismatch.append(StripeDifference(txn, rec, "amount", txn.amount, rec.amount))
        elif rec.fee is not None and txn.fee != rec.fee:
            out.fee_mismatch.append(StripeDifference(txn, rec, "fee", txn.fee, rec.fee))
        else:
            out.matched.append((txn, rec))
    out.missing_in_stripe = [rec for ri, rec in enumerate(records) if ri not in used]
    return out


@dataclass(frozen=True, slots=True)
class PayoutCheck:
    """One payout against the net of the balance transactions it settled."""

    payout: str
    currency: str
    amount: int | None
    transactions_net: int
    transaction_count: int
    currencies: tuple[str, ...]

    @property
    def difference(self) -> int | None:
        return None if self.amount is None else self.amount - self.transactions_net

    @property
    def ok(self) -> bool:
        return (
            self.amount is not None
            and self.transaction_count > 0
            and self.currencies == (self.currency,)
            and self.difference == 0
        )


def check_payouts(
    transactions: Iterable[BalanceTransaction],
    payouts: Mapping[str, tuple[int, str]] | None = None,
) -> list[PayoutCheck]:
    """Per payout, does the sum of its transactions' ``net`` equal the payout amount?

    Payout amounts come from ``payouts`` (``{"po_...": (amount, currency)}``) or else from
    the payout's own balance transaction (type ``payout``, source ``po_...``, amount
    negative). The payout's own transaction is not counted among those it settles. A payout
    with no transactions listed (a manual payout) is reported, never silently ok.
    """
    amounts: dict[str, tuple[int, str]] = dict(payouts or {})
    nets: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    currencies: dict[str, set[str]] = defaultdict(set)
    for txn in transactions:
        if txn.type == "payout" and txn.source and txn.source.startswith("po_"):
            amounts.setdefault(txn.source, (-txn.amount, txn.currency))
            if txn.payout in (None, txn.source):
                continue
        if txn.payout and txn.payout != txn.source:
            nets[txn.payout] += txn.net
            counts[txn.payout] += 1
            currencies[txn.payout].add(txn.currency)
    checks = []
    for po in sorted(set(amounts) | set(nets)):
        amount, currency = amounts.get(po, (None, ""))
        curs = tuple(sorted(currencies.get(po, ())))
        checks.append(
            PayoutCheck(
                payout=po,
                currency=currency or (curs[0] if curs else ""),
                amount=amount,
                transactions_net=nets.get(po, 0),
                transaction_count=counts.get(po, 0),
                currencies=curs,
            )
        )
    return checks
