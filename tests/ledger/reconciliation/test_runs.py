"""Reconciliation, database side: bank statement imports, runs, decisions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from foundation.errors import InvalidState, ValidationError
from ledger.books.models import Entry
from ledger.fund import donations, pledges
from ledger.fund.models import Donation
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.bank_files import StatementHasErrors
from ledger.reconciliation.models import ReconciliationResult, StatementLine
from tests import factories
from tests.factories import tx

BANK = Path(__file__).parents[2] / "fixtures" / "bank"


def _lines(session, **where):
    q = select(StatementLine)
    for k, v in where.items():
        q = q.where(getattr(StatementLine, k) == v)
    return session.scalars(q.order_by(StatementLine.id)).all()


def test_big5_and_utf8_statements_import_once(session):
    with tx(session):
        big5 = reconciliation_runs.import_bank_statement(
            session, (BANK / "tw_bank_big5.csv").read_bytes(), mapping="tw_bank", name="big5"
        )
        utf8 = reconciliation_runs.import_bank_statement(
            session, (BANK / "generic_utf8.csv").read_bytes(), mapping="generic"
        )
    assert big5.lines_new == big5.lines_read > 0
    assert utf8.lines_new == utf8.lines_read == 5
    with tx(session):
        again = reconciliation_runs.import_bank_statement(
            session, (BANK / "generic_utf8_bom.csv").read_bytes(), mapping="generic"
        )
        same = reconciliation_runs.import_bank_statement(
            session, (BANK / "tw_bank_big5.csv").read_bytes(), mapping="tw_bank"
        )
    assert same.lines_new == 0 and same.duplicates == big5.lines_read
    assert again.lines_new == 0  # the same statement with a BOM: same fingerprints
    total = session.scalar(select(func.count()).select_from(StatementLine))
    assert total == big5.lines_read + utf8.lines_read
    # The VA on the UTF-8 statement was read off the memo (pledge 42 under prefix 95123)
    assert any(ln.virtual_accounts == "95123000000428" for ln in _lines(session))


def test_malformed_lines_import_nothing_until_the_manager_chooses(session):
    data = (BANK / "tw_bank_malformed_big5.csv").read_bytes()
    with pytest.raises(StatementHasErrors) as caught, tx(session):
        reconciliation_runs.import_bank_statement(session, data, mapping="tw_bank")
    assert session.scalar(select(func.count()).select_from(StatementLine)) == 0
    lines = sorted(int(k.split()[1]) for k in caught.value.fields)
    assert lines == [3, 4, 5, 6, 7, 8, 9]
    with tx(session):
        report = reconciliation_runs.import_bank_statement(
            session, data, mapping="tw_bank", skip_bad_lines=True
        )
    assert (report.lines_new, len(report.errors)) == (2, 7)


def test_an_import_stores_the_reading_it_is_given_without_parsing_again(session, monkeypatch):
    data = (BANK / "tw_bank_malformed_big5.csv").read_bytes()
    parsed = reconciliation_runs.read_bank_statement(data, "tw_bank")
    assert (len(parsed.lines), len({e.line for e in parsed.errors})) == (2, 7)
    with pytest.raises(StatementHasErrors), tx(session):  # the reading's bad lines refuse
        reconciliation_runs.import_bank_statement(session, data, mapping="tw_bank", parsed=parsed)

    def parse_again(*_args, **_kwargs):
        raise AssertionError("the file was parsed a second time")

    monkeypatch.setattr(reconciliation_runs, "parse_statement", parse_again)
    with tx(session):
        report = reconciliation_runs.import_bank_statement(
            session, data, mapping="tw_bank", skip_bad_lines=True, parsed=parsed
        )
    assert (report.lines_read, report.lines_new, len(report.errors)) == (2, 2, 7)
    stored = _lines(session)
    assert sorted(ln.fingerprint for ln in stored) == sorted(ln.fingerprint for ln in parsed.lines)
    monkeypatch.undo()
    # The same file imported the usual way later finds the very same lines
    with tx(session):
        again = reconciliation_runs.import_bank_statement(
            session, data, mapping="tw_bank", skip_bad_lines=True
        )
    assert (again.lines_new, again.duplicates) == (0, 2)


def test_a_reading_for_another_account_is_refused(session):
    data = (BANK / "generic_utf8.csv").read_bytes()
    parsed = reconciliation_runs.read_bank_statement(data, "generic", account="1102")
    with pytest.raises(ValueError), tx(session):
        reconciliation_runs.import_bank_statement(session, data, mapping="generic", parsed=parsed)
    assert _lines(session) == []


def test_custom_mapping_from_a_dict():
    mapping = reconciliation_runs.mapping_from(
        {"date": "日期", "deposit": ["存入", "收入"], "withdrawal": "支出", "memo": ["摘要"]}
    )
    assert mapping.deposit == ("存入", "收入") and mapping.memo == ("摘要",)
    with pytest.raises(ValidationError):
        reconciliation_runs.mapping_from({"date": "x", "amount": "y", "colour": "z"})
    with pytest.raises(ValidationError):
        reconciliation_runs.mapping_from("nonexistent")


@pytest.fixture
def bank_world(session):
    return make_bank_world(session)


def make_bank_world(session):
    with tx(session):
        manager = factories.manager(session, "NDC")
        company = factories.organisation(session, "company")
        pledge = pledges.record_pledge(
            session,
            key="p",
            company_id=company.id,
            amount=1_000_000,
            pledged_on=dt.date(2026, 11, 1),
        )
        direct = donations.record_donation(
            session,
            key="d",
            channel="bank_transfer",
            amount=300_000,
            company_id=company.id,
            received_on=dt.date(2026, 11, 3),
        )
        donations.record_donation(
            session,
            key="s",
            channel="stripe",
            amount=600_000,
            company_id=company.id,
            received_on=dt.date(2026, 11, 1),
        )
        payout = donations.record_payout(
            session,
            key="po",
            amount=500_000,
            paid_on=dt.date(2026, 11, 5),
            stripe_payout_id="po_1QxTest123",
        )
    va = pledge.virtual_account
    csv = (
        "date,description,amount,balance\n"
        f'2026-11-02,跨行轉入 {va[:4]}-{va[4:8]}-{va[8:]} 甲公司,"10,000","10,000"\n'
        '115/11/04,ATM 轉入,"3,000","13,000"\n'
        '2026/11/06,STRIPE PAYOUT po_1QxTest123,"5,000","18,000"\n'
        '2026-11-07,手續費,-15,"17,985"\n'
    ).encode()
    return {
        "manager": manager,
        "pledge": pledge,
        "direct": direct,
        "payout": payout,
        "csv": csv,
    }


def test_bank_run_matches_by_virtual_account_amount_date_and_reference(session, bank_world):
    w = bank_world
    with tx(session):
        imported = reconciliation_runs.import_bank_statement(
            session, w["csv"], mapping="generic", name="nov.csv"
        )
    # A dry run stores its findings and changes nothing else
    with tx(session):
        dry = reconciliation_runs.run_bank(
            session, import_id=imported.import_id, dry_run=True, actor=w["manager"]
        )
    assert json.loads(dry.summary)["matched"] == 3
    assert {ln.status for ln in _lines(session)} == {"unmatched"}
    assert pledges.pledge_paid(session, w["pledge"].id) == 0

    with tx(session):
        run = reconciliation_runs.run_bank(
            session, import_id=imported.import_id, actor=w["manager"]
        )
    summary = json.loads(run.summary)
    assert summary["by_rule"] == {
        "virtual_account": 1,
        "reference": 1,
        "amount_date": 1,
        "one_to_many": 0,
    }
    assert summary["donations_recorded"] == 1
    lines = {ln.line_no: ln for ln in _lines(session)}
    va_line, atm, stripe_line, fee = (lines[n] for n in sorted(lines))
    assert va_line.status == "confirmed" and va_line.matched_to.startswith("donation:")
    assert atm.status == "matched" and atm.matched_to == f"donation:{w['direct'].id}"
    assert stripe_line.matched_to == f"stripe_payout:{w['payout'].id}"
    assert fee.status == "unmatched"
    # The virtual-account line paid the pledge: a bank-transfer donation with the line's id
    assert pledges.pledge_paid(session, w["pledge"].id) == 1_000_000
    donation = session.get(Donation, int(va_line.matched_to.split(":")[1]))
    assert session.get(Entry, donation.entry_id).refs == {"bank_line": va_line.fingerprint}
    # Closing balance asserted against the ledger: the bank fee is not booked yet
    assert (run.stated_closing, run.ledger_closing) == (1_798_500, 1_800_000)
    assert not run.ok
    outcomes = session.scalars(
        select(ReconciliationResult.outcome).where(ReconciliationResult.run_id == run.id)
    ).all()
    assert sorted(outcomes) == ["matched", "matched", "matched", "unmatched_line"]

    # Decisions: confirm, ignore the fee with a reason, unmatch and re-confirm by hand
    with tx(session):
        reconciliation_runs.confirm_line(session, line_id=atm.id, actor=w["manager"])
        with pytest.raises(ValidationError):
            reconciliation_runs.ignore_line(session, line_id=fee.id, reason=" ", actor=w["manager"])
    with tx(session):
        reconciliation_runs.ignore_line(
            session, line_id=fee.id, reason="銀行手續費", actor=w["manager"]
        )
        reconciliation_runs.unmatch_line(
            session, line_id=stripe_line.id, reason="check", actor=w["manager"]
        )
    with tx(session), pytest.raises(InvalidState):
        reconciliation_runs.confirm_line(
            session,
            line_id=stripe_line.id,
            targets=[f"donation:{w['direct'].id}"],  # already on the ATM line
            actor=w["manager"],
        )
    with tx(session):
        line = reconciliation_runs.confirm_line(
            session,
            line_id=stripe_line.id,
            targets=[f"stripe_payout:{w['payout'].id}"],
            reason="payout po_1QxTest123",
            actor=w["manager"],
        )
    assert (line.status, line.match_rule) == ("confirmed", "manual")
    assert fee.status == "ignored" and fee.reason == "銀行手續費"
    # Importing the same statement again adds nothing; a new run finds nothing left
    with tx(session):
        again = reconciliation_runs.import_bank_statement(session, w["csv"], mapping="generic")
        rerun = reconciliation_runs.run_bank(session, actor=w["manager"])
    assert again.lines_new == 0
    assert json.loads(rerun.summary)["lines"] == 0


def test_cli_reconcile_bank(database, monkeypatch):
    from click.testing import CliRunner

    from placefund.cli import main

    monkeypatch.setenv("DATABASE_URL", str(database.engine.url))
    runner = CliRunner()
    bad = runner.invoke(main, ["reconcile", "bank", str(BANK / "tw_bank_malformed_big5.csv")])
    assert bad.exit_code == 2
    assert "line 3" in bad.output and "Nothing imported" in bad.output
    ok = runner.invoke(
        main, ["reconcile", "bank", str(BANK / "generic_utf8.csv"), "--mapping", "generic"]
    )
    assert ok.exit_code == 0, ok.output
    assert "Imported 5 new lines of 5" in ok.output
    dry = runner.invoke(
        main,
        ["reconcile", "bank", str(BANK / "tw_bank_big5.csv"), "--encoding", "big5", "--dry-run"],
    )
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output


@pytest.mark.postgres
def test_bank_run_on_postgresql(pg):
    with pg.session() as session:
        test_bank_run_matches_by_virtual_account_amount_date_and_reference(
            session, make_bank_world(session)
        )


def test_cli_takes_a_twd_amount_tolerance_in_whole_dollars_only(database, monkeypatch):
    from click.testing import CliRunner

    from placefund.cli import main

    monkeypatch.setenv("DATABASE_URL", str(database.engine.url))
    csv = str(BANK / "generic_utf8.csv")
    args = ["reconcile", "bank", csv, "--mapping", "generic", "--dry-run"]
    cents = CliRunner().invoke(main, [*args, "--amount-tolerance", "50"])
    assert cents.exit_code == 2
    assert "--amount-tolerance" in cents.output and "multiple of 100" in cents.output
    whole = CliRunner().invoke(main, [*args, "--amount-tolerance", "100"])
    assert whole.exit_code == 0, whole.output
