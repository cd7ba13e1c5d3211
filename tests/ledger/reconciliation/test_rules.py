"""Matching rules for bank lines, balance checks, and Stripe reconciliation."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.fund.virtual_accounts import VirtualAccountScheme, generate
from ledger.reconciliation.bank_files import TW_BANK, ParsedLine, parse_statement
from ledger.reconciliation.rules import (
    BalanceTransaction,
    Candidate,
    LedgerRecord,
    ReconcileConfig,
    _reachable,
    check_closing_balance,
    check_payouts,
    reconcile_bank,
    reconcile_stripe,
    running_balance_breaks,
)

FIXTURES = Path(__file__).parents[2] / "fixtures"
SCHEME = VirtualAccountScheme("95123")
DAY = dt.date(2026, 11, 26)


def line(n, amount, *, day=0, memo="", va=(), counterparty="", balance=None, currency="TWD"):
    return ParsedLine(
        line=n,
        date=DAY + dt.timedelta(days=day),
        amount=amount,
        currency=currency,
        memo=memo,
        counterparty=counterparty,
        balance=balance,
        virtual_accounts=tuple(va),
        fingerprint=f"fp{n}",
    )


def cand(kind, id_, amount, *, day=0, va=None, ref=None, party=None, currency="TWD"):
    return Candidate(
        kind=kind,
        id=id_,
        amount=amount,
        currency=currency,
        date=DAY + dt.timedelta(days=day),
        virtual_account=va,
        reference=ref,
        counterparty=party,
    )


def keys(match):
    return [c.key for c in match.candidates]


# --- rule 1: virtual account -----------------------------------------------------------------


def test_virtual_account_exact_match():
    va = generate(42, SCHEME)
    r = reconcile_bank(
        [line(2, 100000_00, va=[va], day=5)],
        [cand("pledge", 42, 100000_00, va=va), cand("pledge", 43, 100000_00)],
    )
    (m,) = r.matches
    assert m.rule == "virtual_account" and keys(m) == [("pledge", "42")]
    assert m.confidence == 1.0 and m.difference == 0
    assert va in m.reason and "虛擬帳號" in m.reason_zh
    # Date is irrelevant for this rule, and the other pledge is untouched.
    assert [c.id for c in r.unmatched_candidates] == [43]


def test_virtual_account_instalments_and_overpayment():
    va = generate(42, SCHEME)
    lines = [
        line(3, 40000_00, va=[va], day=2),
        line(2, 60000_00, va=[va], day=1),
        line(4, 5000_00, va=[va], day=3),
    ]
    r = reconcile_bank(lines, [cand("pledge", 42, 100000_00, va=va)])
    by_line = {m.line.line: m for m in r.matches}
    assert "part payment" in by_line[2].reason and "尚欠" in by_line[2].reason_zh
    assert by_line[2].confidence == 0.95
    assert "fully paid" in by_line[3].reason
    assert "overpaid" in by_line[4].reason and by_line[4].confidence == 0.9
    assert r.unmatched_lines == [] and r.unmatched_candidates == []


def test_unknown_virtual_account_is_held_not_matched_by_amount():
    va = generate(99, SCHEME)
    r = reconcile_bank([line(2, 1000_00, va=[va])], [cand("pledge", 1, 1000_00)])
    assert r.matches == []
    (s,) = r.suggestions
    assert s.rule == "virtual_account" and s.options == () and "no open pledge" in s.reason
    assert len(r.unmatched_lines) == 1 and len(r.unmatched_candidates) == 1


def test_line_with_two_virtual_accounts_is_a_suggestion():
    a, b = generate(1, SCHEME), generate(2, SCHEME)
    r = reconcile_bank(
        [line(2, 2000_00, va=[a, b])],
        [cand("pledge", 1, 1000_00, va=a), cand("pledge", 2, 1000_00, va=b)],
    )
    assert r.matches == []
    assert len(r.suggestions) == 1 and len(r.suggestions[0].options) == 2


def test_virtual_account_on_a_withdrawal_is_a_suggestion():
    va = generate(1, SCHEME)
    r = reconcile_bank([line(2, -1000_00, va=[va])], [cand("pledge", 1, 1000_00, va=va)])
    assert r.matches == [] and r.suggestions[0].rule == "virtual_account"


# --- rule 2: exact reference -----------------------------------------------------------------


def test_payout_reference_in_memo():
    payout = cand("stripe_payout", "po_1QxTest123", 31500_00, day=-4, ref="po_1QxTest123")
    other = cand("stripe_payout", "po_other", 31500_00, ref="po_other")
    r = reconcile_bank([line(2, 31500_00, memo="STRIPE PAYOUT po_1QxTest123")], [payout, other])
    (m,) = r.matches
    assert m.rule == "reference" and keys(m) == [("stripe_payout", "po_1QxTest123")]
    assert m.confidence == 1.0


def test_upper_cased_memo_still_matches_with_lower_confidence():
    payout = cand("stripe_payout", "po_1QxTest123", 31500_00, ref="po_1QxTest123")
    r = reconcile_bank([line(2, 31500_00, memo="STRIPE PO_1QXTEST123")], [payout])
    assert r.matches[0].rule == "reference" and r.matches[0].confidence == 0.95


def test_reference_glued_to_other_text_by_a_dash():
    payout = cand("stripe_payout", "po_1Qx", 31500_00, ref="po_1Qx")
    assert reconcile_bank([line(2, 31500_00, memo="STRIPE-po_1Qx")], [payout]).matches


def test_reference_with_bank_fee_within_tolerance():
    payout = cand("stripe_payout", "po_A", 31500_00, ref="po_A")
    cfg = ReconcileConfig(amount_tolerance=30_00)
    r = reconcile_bank([line(2, 31485_00, memo="po_A")], [payout], cfg)
    assert r.matches[0].difference == -15_00 and r.matches[0].confidence == 0.95
    assert "difference" in r.matches[0].reason


def test_reference_with_wrong_amount_is_a_suggestion_and_held():
    payout = cand("stripe_payout", "po_A", 31500_00, ref="po_A")
    decoy = cand("donation", 5, 20000_00)
    r = reconcile_bank([line(2, 20000_00, memo="po_A")], [payout, decoy])
    assert r.matches == []
    (s,) = r.suggestions
    assert s.rule == "reference" and s.options == ((payout,),)
    assert "NT$20,000" in s.reason and "NT$31,500" in s.reason
    # The line is held for a person, so the decoy of the same amount is not matched either.
    assert [c.id for c in r.unmatched_candidates] == ["po_A", 5]


# --- rule 3: amount and date -----------------------------------------------------------------


def test_amount_and_date_one_to_one():
    r = reconcile_bank(
        [line(2, 1000_00, day=1), line(3, -200000_00, day=0)],
        [
            cand("donation", 1, 1000_00),
            cand("disbursement", 9, -200000_00, day=-2),
            cand("donation", 2, 1000_00, day=10),
        ],
    )
    assert {(m.line.line, keys(m)[0]) for m in r.matches} == {
        (2, ("donation", "1")),
        (3, ("disbursement", "9")),
    }
    assert all(m.rule == "amount_date" for m in r.matches)
    assert [c.id for c in r.unmatched_candidates] == [2]
    first = next(m for m in r.matches if m.line.line == 2)
    assert (
        first.confidence == 0.85
        and "1 day apart" in first.reason
        and "相差 1 天" in (first.reason_zh)
    )


def test_outside_date_tolerance_stays_unmatched():
    lines, cands = [line(2, 1000_00, day=4)], [cand("donation", 1, 1000_00)]
    r = reconcile_bank(lines, cands)
    assert r.matches == [] and len(r.unmatched_lines) == 1
    wider = reconcile_bank(lines, cands, ReconcileConfig(date_tolerance_days=5))
    assert len(wider.matches) == 1


def test_amount_tolerance_for_bank_fees():
    lines = [line(2, 99985_00)]
    cands = [cand("revenue_return", 3, 100000_00)]
    assert reconcile_bank(lines, cands).matches == []
    (m,) = reconcile_bank(lines, cands, ReconcileConfig(amount_tolerance=30_00)).matches
    assert m.difference == -15_00 and m.confidence == 0.8


def test_closest_date_wins():
    r = reconcile_bank(
        [line(2, 1000_00)],
        [cand("donation", 1, 1000_00, day=2), cand("donation", 2, 1000_00, day=-1)],
    )
    assert keys(r.matches[0]) == [("donation", "2")]


def test_two_equally_good_candidates_do_not_auto_match():
    r = reconcile_bank(
        [line(2, 1000_00)],
        [cand("donation", 1, 1000_00, day=1), cand("donation", 2, 1000_00, day=-1)],
    )
    assert r.matches == []
    (s,) = r.suggestions
    assert s.rule == "amount_date" and {o[0].id for o in s.options} == {1, 2}
    assert "equally good" in s.reason and "請選擇" in s.reason_zh
    assert len(r.unmatched_candidates) == 2


def test_two_lines_for_one_candidate_do_not_auto_match():
    r = reconcile_bank(
        [line(2, 1000_00, day=1), line(3, 1000_00, day=-1)], [cand("donation", 1, 1000_00)]
    )
    assert r.matches == [] and len(r.suggestions) == 2


def test_greedy_assignment_resolves_chains():
    # Line 2 is closest to A; line 3 then takes B even though A is nearer to it too.
    r = reconcile_bank(
        [line(2, 1000_00, day=0), line(3, 1000_00, day=1)],
        [cand("donation", "A", 1000_00, day=0), cand("donation", "B", 1000_00, day=3)],
    )
    assert {(m.line.line, m.candidates[0].id) for m in r.matches} == {(2, "A"), (3, "B")}


def test_currency_must_agree():
    r = reconcile_bank([line(2, 1000_00, currency="USD")], [cand("donation", 1, 1000_00)])
    assert r.matches == []


# --- rule 4: one line for several candidates -------------------------------------------------


def test_one_line_covers_several_candidates_of_one_counterparty():
    cands = [
        cand("pledge", 1, 30000_00, party="company:7"),
        cand("pledge", 2, 50000_00, party="company:7", day=1),
        cand("pledge", 3, 20000_00, party="company:7"),
        cand("pledge", 4, 70000_00, party="company:8"),
        cand("pledge", 5, 30000_00, party="company:8"),
    ]
    r = reconcile_bank([line(2, 80000_00)], cands)
    (m,) = r.matches
    assert m.rule == "one_to_many"
    # 30k+50k (company 7) and 50k+30k... only company 7 has 30k+50k; company 8 has 70+30=100.
    assert sorted(c.id for c in m.candidates) == [1, 2]
    assert "company:7" in m.reason and m.confidence == 0.8


def test_one_to_many_ambiguity_is_a_suggestion():
    cands = [
        cand("pledge", 1, 30000_00, party="c"),
        cand("pledge", 2, 50000_00, party="c"),
        cand("pledge", 3, 40000_00, party="c"),
        cand("pledge", 4, 40000_00, party="c"),
    ]
    r = reconcile_bank([line(2, 80000_00)], cands)
    assert r.matches == []
    assert r.suggestions[0].rule == "one_to_many" and len(r.suggestions[0].options) == 2


def test_one_to_many_never_mixes_counterparties():
    cands = [cand("pledge", 1, 30000_00, party="a"), cand("pledge", 2, 50000_00, party="b")]
    assert reconcile_bank([line(2, 80000_00)], cands).matches == []


def test_stripe_payouts_landing_as_one_transfer():
    cands = [
        cand("stripe_payout", "po_1", 1200_00, party="stripe", day=-1),
        cand("stripe_payout", "po_2", 800_00, party="stripe"),
    ]
    r = reconcile_bank([line(2, 2000_00, memo="STRIPE")], cands)
    assert r.matches[0].rule == "one_to_many"


def test_one_to_many_in_a_large_group():
    # Powers of two: every subset has its own sum, so a match is unique.
    amounts = [1000 * 2**k for k in range(9)]
    cands = [cand("pledge", a, a * 100, party="c") for a in amounts]
    (m,) = reconcile_bank([line(2, (1000 + 4000 + 64000) * 100)], cands).matches
    assert sorted(c.id for c in m.candidates) == [1000, 4000, 64000]
    # Nothing sums to NT$1,500: the quick filter dismisses the line.
    r = reconcile_bank([line(2, 1500_00)], cands)
    assert r.matches == [] and r.suggestions == []


@given(st.lists(st.integers(1, 60), min_size=1, max_size=8), st.integers(0, 200), st.integers(0, 5))
def test_reachable_filter_agrees_with_brute_force(values, target, tol):
    sums = {
        sum(v for bit, v in enumerate(values) if mask >> bit & 1)
        for mask in range(1, 1 << len(values))
    }
    expected = any(target - tol <= s <= target + tol for s in sums)
    assert _reachable([v * 100 for v in values], (target - tol) * 100, (target + tol) * 100) == (
        expected
    )


def test_one_to_many_search_is_bounded():
    # 40 equal candidates: a huge number of subsets sum to the line; the search must stop.
    cands = [cand("pledge", i, 1000_00, party="c") for i in range(40)]
    cfg = ReconcileConfig(max_group_candidates=40, search_budget=500)
    r = reconcile_bank([line(2, 5000_00)], cands, cfg)
    assert r.matches == [] and r.suggestions[0].rule == "one_to_many"


# --- the whole pass --------------------------------------------------------------------------


def test_rules_run_in_order_and_nothing_is_mutated():
    va = generate(42, SCHEME)
    lines = [
        line(2, 100000_00, va=[va]),
        line(3, 31500_00, memo="po_X"),
        line(4, -200000_00),
        line(5, 5000_00),
        line(6, 7_00),
    ]
    cands = [
        cand("pledge", 42, 100000_00, va=va),
        cand("stripe_payout", "po_X", 31500_00, ref="po_X"),
        cand("disbursement", 9, -200000_00),
        cand("revenue_return", 1, 2000_00, party="biz"),
        cand("revenue_return", 2, 3000_00, party="biz"),
        cand("donation", 77, 100000_00),  # same amount as line 2, but the VA wins
    ]
    before = (copy.deepcopy(lines), copy.deepcopy(cands))
    r = reconcile_bank(lines, cands)
    assert (lines, cands) == before
    assert [(m.line.line, m.rule) for m in r.matches] == [
        (2, "virtual_account"),
        (3, "reference"),
        (4, "amount_date"),
        (5, "one_to_many"),
    ]
    assert [x.line for x in r.unmatched_lines] == [6]
    assert [c.id for c in r.unmatched_candidates] == [77]
    assert r.by_rule() == {
        "virtual_account": 1,
        "reference": 1,
        "amount_date": 1,
        "one_to_many": 1,
    }
    # Running it again proposes exactly the same (a dry run has no side effects).
    assert reconcile_bank(lines, cands) == r


def test_end_to_end_with_the_big5_fixture():
    data = (FIXTURES / "bank" / "tw_bank_big5.csv").read_bytes()
    statement = parse_statement(data, TW_BANK, account="A", scheme=SCHEME)
    cands = [
        cand("pledge", 42, 100000_00, va=generate(42, SCHEME)),
        cand("pledge", 43, 50000_00, va=generate(43, SCHEME)),
        cand("disbursement", 3, -200000_00, day=-21),
    ]
    cfg = ReconcileConfig(date_tolerance_days=30)
    r = reconcile_bank(statement.importable(), cands, cfg)
    assert [(m.line.line, m.rule) for m in r.matches] == [
        (5, "virtual_account"),
        (6, "virtual_account"),
        (7, "amount_date"),
    ]
    assert "part payment" in r.matches[1].reason
    check = check_closing_balance(
        statement.opening_balance, statement.chronological(), statement.closing_balance
    )
    assert check.ok


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 5), st.integers(-3, 3)), max_size=12),
    st.lists(
        st.tuples(st.integers(1, 5), st.integers(-3, 3), st.sampled_from(["a", "b", None])),
        max_size=12,
    ),
)
def test_every_line_and_candidate_is_accounted_for_once(line_specs, cand_specs):
    lines = [line(i + 2, a * 100_00, day=d) for i, (a, d) in enumerate(line_specs)]
    cands = [
        cand("donation", i, a * 100_00, day=d, party=p) for i, (a, d, p) in enumerate(cand_specs)
    ]
    r = reconcile_bank(lines, cands)
    matched_lines = [m.line.line for m in r.matches]
    matched_cands = [c.id for m in r.matches for c in m.candidates]
    assert len(matched_lines) == len(set(matched_lines))
    assert len(matched_cands) == len(set(matched_cands))
    assert sorted(matched_lines + [x.line for x in r.unmatched_lines]) == [x.line for x in lines]
    assert sorted(matched_cands + [c.id for c in r.unmatched_candidates]) == list(range(len(cands)))
    for m in r.matches:
        assert abs(m.difference) == 0  # no amount tolerance configured
        assert m.reason and m.reason_zh and 0 < m.confidence <= 1


# --- balances --------------------------------------------------------------------------------


def test_closing_balance_check():
    lines = [line(2, 500_00), line(3, -200_00)]
    ok = check_closing_balance(1000_00, lines, 1300_00)
    assert ok.ok and ok.deposits == 500_00 and ok.withdrawals == -200_00
    assert ok.message() == ("closing balance NT$1,300 agrees", "期末餘額 NT$1,300 相符")
    bad = check_closing_balance(1000_00, [500_00, -200_00], 1250_00)
    assert not bad.ok and bad.difference == -50_00
    assert "difference -NT$50" in bad.message()[0] and "差額" in bad.message()[1]


def test_running_balance_breaks():
    lines = [
        line(2, 500_00, balance=1500_00),
        line(3, -200_00, balance=1300_00),
        line(4, 100_00),
        line(5, 100_00, balance=1600_00),  # 1300 + 100 + 100 = 1500: a line is missing
    ]
    assert running_balance_breaks(lines) == [5]


# --- Stripe ----------------------------------------------------------------------------------


def txn(id_, type_, amount, fee=0, *, source=None, payout=None, currency="TWD"):
    return BalanceTransaction(
        id=id_,
        type=type_,
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency=currency,
        source=source,
        payout=payout,
    )


def test_stripe_classification():
    txns = [
        txn("txn_1", "charge", 100000, 3200, source="ch_1"),  # matched by txn id
        txn("txn_2", "charge", 50000, 1600, source="ch_2"),  # matched by charge id
        txn("txn_3", "refund", -20000, source="re_3"),  # amount mismatch
        txn("txn_4", "charge", 30000, 1000, source="ch_4"),  # fee mismatch
        txn("txn_5", "stripe_fee", -500),  # missing in ledger
        txn("txn_6", "charge", 1000, 30, source="ch_6", currency="USD"),  # currency mismatch
        txn("txn_7", "payout", -200000, source="po_7"),  # matched by payout id
    ]
    records = [
        LedgerRecord(1, "donation", 100000, "TWD", fee=3200, balance_transaction="txn_1"),
        LedgerRecord(2, "donation", 50000, "TWD", fee=1600, charge="ch_2"),
        LedgerRecord(3, "refund", 25000, "TWD", refund="re_3"),
        LedgerRecord(4, "donation", 30000, "TWD", fee=900, charge="ch_4"),
        LedgerRecord(5, "donation", 9900, "TWD", charge="ch_lost"),  # missing in Stripe
        LedgerRecord(6, "donation", 1000, "TWD", charge="ch_6"),
        LedgerRecord(7, "payout", 200000, "TWD", payout="po_7"),
    ]
    out = reconcile_stripe(txns, records)
    assert [(t.id, r.id) for t, r in out.matched] == [("txn_1", 1), ("txn_2", 2), ("txn_7", 7)]
    assert [(d.transaction.id, d.field) for d in out.amount_mismatch] == [
        ("txn_3", "amount"),
        ("txn_6", "currency"),
    ]
    assert [(d.stripe_value, d.ledger_value) for d in out.fee_mismatch] == [(1000, 900)]
    assert [t.id for t in out.missing_in_ledger] == ["txn_5"]
    assert [r.id for r in out.missing_in_stripe] == [5]
    assert not out.ok
    assert not reconcile_stripe(txns, records, ignore_types=["stripe_fee"]).missing_in_ledger


def test_stripe_each_record_pairs_once():
    txns = [
        txn("txn_a", "adjustment", -100000, source="dp_1"),
        txn("txn_b", "adjustment", 100000, source="dp_1"),  # dispute won: money back
    ]
    out = reconcile_stripe(txns, [LedgerRecord(1, "dispute", 100000, "TWD", dispute="dp_1")])
    assert [t.id for t, _ in out.matched] == ["txn_a"]
    assert [t.id for t in out.missing_in_ledger] == ["txn_b"]


def test_payout_sums():
    txns = [
        txn("txn_1", "charge", 100000, 3200, source="ch_1", payout="po_A"),
        txn("txn_2", "refund", -20000, source="re_2", payout="po_A"),
        txn("txn_po", "payout", -76800, source="po_A", payout="po_A"),
        txn("txn_3", "charge", 50000, 1600, source="ch_3", payout="po_B"),
        txn("txn_pob", "payout", -50000, source="po_B"),
        txn("txn_poc", "payout", -1000, source="po_C"),  # a manual payout: nothing listed
    ]
    checks = {c.payout: c for c in check_payouts(txns)}
    assert checks["po_A"].ok and checks["po_A"].transaction_count == 2
    assert checks["po_B"].difference == 1600 and not checks["po_B"].ok
    assert not checks["po_C"].ok and checks["po_C"].transaction_count == 0
    given_amounts = check_payouts(txns, {"po_B": (48400, "TWD")})
    assert next(c for c in given_amounts if c.payout == "po_B").ok


def test_stripe_fixture_round_trip():
    data = json.loads((FIXTURES / "stripe" / "balance_transactions.json").read_text())
    txns = [BalanceTransaction.from_stripe(obj, payout=data["payout"]) for obj in data["data"]]
    assert {t.currency for t in txns} == {"USD"}
    assert txns[0].created == dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
    assert txns[0].payment_intent == "pi_3QxFx1"  # from the expanded source
    (check,) = check_payouts(txns)
    assert check.ok and check.payout == data["payout"]
    records = [
        LedgerRecord(1, "donation", 3150, "USD", fee=121, payment_intent="pi_3QxFx1"),
        LedgerRecord(2, "donation", 6300, "USD", fee=213, charge="ch_3QxFx2"),
        LedgerRecord(3, "refund", 3150, "USD", refund="re_3QxFx3"),
        LedgerRecord(4, "payout", 5966, "USD", payout=data["payout"]),
    ]
    out = reconcile_stripe(txns, records)
    assert out.ok, out
