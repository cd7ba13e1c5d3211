"""Property test: random sequences of operations keep every ledger invariant.

Each entry balances per currency, stored balances equal the sum of postings, restricted
buckets and accounts that may not go negative never do, and the sealed chain verifies.
Operations that the rules refuse (overdraft, bad state) must change nothing.
"""

import shutil
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from foundation.errors import LedgerError
from ledger.books.chain import seal_pending, verify
from ledger.books.models import Account, Entry, Posting
from ledger.fund import disbursements as fund_disbursements
from ledger.fund import donations as fund_donations
from ledger.fund import pledges as fund_pledges
from ledger.fund.models import Disbursement, Donation
from placefund.app import Database
from tests import factories as f

PURPOSES = [None, "county:10008", "township:10008040", "priority:agricultural"]
amounts = st.integers(min_value=1, max_value=50).map(lambda n: n * 10_000)

operation = st.one_of(
    st.tuples(st.just("donate"), amounts, st.sampled_from(PURPOSES), st.booleans()),
    st.tuples(st.just("pledge"), amounts, st.sampled_from(PURPOSES), st.booleans()),
    st.tuples(st.just("pay_pledge"), amounts, st.integers(0, 5), st.booleans()),
    st.tuples(st.just("propose"), amounts, st.sampled_from(PURPOSES), st.booleans()),
    st.tuples(st.just("approve_pay"), st.integers(0, 5), st.none(), st.booleans()),
    st.tuples(st.just("void"), st.integers(0, 5), st.none(), st.booleans()),
    st.tuples(st.just("refund"), amounts, st.integers(0, 5), st.booleans()),
    st.tuples(st.just("payout"), amounts, st.none(), st.booleans()),
)


def _check_invariants(session):
    sums = defaultdict(int)
    per_entry = defaultdict(lambda: defaultdict(int))
    for p in session.scalars(select(Posting)):
        sums[p.account_id] += p.amount
        per_entry[p.entry_id][p.currency] += p.amount
    assert session.scalar(select(func.count(Entry.id))) == len(per_entry)
    for entry_id, totals in per_entry.items():
        assert all(v == 0 for v in totals.values()), f"entry {entry_id} unbalanced"
    for account in session.scalars(select(Account)):
        assert account.balance == sums.get(account.id, 0), account.code
        if not account.allow_negative:
            assert account.natural_balance >= 0, account.code
        if account.code.startswith("net_assets:restricted:"):
            assert account.natural_balance >= 0


def _run(session, world, ops):
    pledges, donations, disbursements = [], [], []
    for n, (kind, a, b, flag) in enumerate(ops):
        key = f"op{n}"
        try:
            with f.tx(session):
                if kind == "donate":
                    donations.append(
                        fund_donations.record_donation(
                            session,
                            key=key,
                            channel="stripe" if flag else "bank_transfer",
                            amount=a,
                            fee=a // 50 if flag else 0,
                            company_id=world["company"].id,
                            restriction=b,
                        )
                    )
                elif kind == "pledge":
                    pledges.append(
                        fund_pledges.record_pledge(
                            session,
                            key=key,
                            company_id=world["company"].id,
                            amount=a,
                            restriction=b,
                            instalments=2,
                        )
                    )
                elif kind == "pay_pledge" and pledges:
                    pledge = pledges[b % len(pledges)]
                    donations.append(
                        fund_donations.record_donation(
                            session, key=key, channel="bank_transfer", amount=a, pledge_id=pledge.id
                        )
                    )
                elif kind == "propose":
                    disbursements.append(
                        fund_disbursements.propose_disbursement(
                            session,
                            key=key,
                            actor=world["ndc"],
                            kind="grant" if flag else "investment",
                            project_id=world["project"].id,
                            amount=a,
                            funding=b,
                        )
                    )
                elif kind == "approve_pay" and disbursements:
                    d = disbursements[a % len(disbursements)]
                    if len(session.get(Disbursement, d.id).approvals) < 2:
                        fund_disbursements.approve_disbursement(
                            session, disbursement_id=d.id, actor=world["moea"]
                        )
                    fund_disbursements.pay_disbursement(
                        session, key=key, disbursement_id=d.id, actor=world["moea"]
                    )
                elif kind == "void" and disbursements:
                    d = disbursements[a % len(disbursements)]
                    fund_disbursements.void_disbursement(
                        session, key=key, disbursement_id=d.id, actor=world["ndc"], reason="test"
                    )
                elif kind == "refund" and donations:
                    d = session.get(Donation, donations[b % len(donations)].id)
                    fund_donations.record_refund(session, key=key, donation_id=d.id, amount=a)
                elif kind == "payout":
                    fund_donations.record_payout(session, key=key, amount=a)
        except LedgerError:
            pass  # refused by a rule; the invariants below prove it changed nothing
        session.expire_all()
        _check_invariants(session)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_random_operations_keep_every_invariant(sqlite_template, tmp_path, ops):
    path = tmp_path / "prop.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    try:
        with database.session() as session:
            with f.tx(session):
                world = {
                    "company": f.organisation(session, "company"),
                    "project": f.project(
                        session,
                        town_code="10008040",
                        county_code="10008",
                        priority_type="agricultural",
                    ),
                    "ndc": f.manager(session, "NDC"),
                    "moea": f.manager(session, "MOEA"),
                }
            _run(session, world, ops)
            with f.tx(session):
                seal_pending(session)
            report = verify(session)
            assert report.ok, report.problems
    finally:
        database.engine.dispose()
        path.unlink()
