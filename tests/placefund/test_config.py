"""Settings for bank transfers and receipts: demo defaults, and a bad value stops startup
with one line naming its variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from placefund.config import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def test_the_demo_defaults_give_a_complete_bank_account_and_issuer():
    settings = Settings.from_env({})
    assert (settings.bank.name, settings.bank.code, settings.bank.branch) == (
        "臺灣銀行", "004", "營業部",
    )  # fmt: skip
    assert settings.bank.account_name == settings.fund_name
    issuer = settings.receipt_issuer
    assert issuer.ubn == "12345675" and issuer.address and issuer.legal_basis
    assert issuer.seal_path is None
    # The account name and the issuer follow the fund's name unless set on their own
    named = Settings.from_env({"PLACEFUND_FUND_NAME": "竹山鎮地方創生基金"})
    assert named.bank.account_name == named.receipt_issuer.name == "竹山鎮地方創生基金"


def test_values_from_the_environment(tmp_path):
    seal = tmp_path / "seal.png"
    seal.write_bytes(PNG)
    settings = Settings.from_env(
        {
            "PLACEFUND_BANK_NAME": "臺灣土地銀行",
            "PLACEFUND_BANK_CODE": " 005 ",
            "PLACEFUND_BANK_BRANCH": "館前分行",
            "PLACEFUND_BANK_ACCOUNT_NAME": "地方創生基金專戶",
            "PLACEFUND_ISSUER_NAME": "國家發展委員會",
            "PLACEFUND_ISSUER_UBN": "04595257",
            "PLACEFUND_ISSUER_ADDRESS": "臺北市中正區寶慶路3號",
            "PLACEFUND_RECEIPT_LEGAL_BASIS": "依所得稅法第三十六條規定辦理。",
            "PLACEFUND_RECEIPT_SEAL": str(seal),
        }
    )
    assert settings.bank.code == "005" and settings.bank.branch == "館前分行"
    assert settings.receipt_issuer.name == "國家發展委員會"
    assert settings.receipt_issuer.seal_path == seal.resolve()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PLACEFUND_BANK_CODE", "04"),
        ("PLACEFUND_BANK_CODE", "0004"),
        ("PLACEFUND_BANK_CODE", "abc"),
        ("PLACEFUND_BANK_NAME", "   "),
        ("PLACEFUND_BANK_BRANCH", "x" * 81),
        ("PLACEFUND_BANK_ACCOUNT_NAME", "兩\n行"),
        ("PLACEFUND_ISSUER_UBN", "12345678"),  # a wrong check digit
        ("PLACEFUND_ISSUER_UBN", "1234567"),
        ("PLACEFUND_ISSUER_NAME", ""),
        ("PLACEFUND_ISSUER_ADDRESS", ""),
        ("PLACEFUND_RECEIPT_LEGAL_BASIS", ""),
        ("PLACEFUND_RECEIPT_SEAL", "/no/such/seal.png"),
        ("PLACEFUND_RECEIPT_SEAL", str(Path(__file__))),  # not an image
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(variable, value):
    with pytest.raises(ValueError, match=variable) as refused:
        Settings.from_env({variable: value})
    assert "\n" not in str(refused.value).replace(repr(value), "")


def test_serve_stops_on_a_bad_bank_code_with_one_line(monkeypatch):
    from placefund import server
    from placefund.cli import main

    started = []
    monkeypatch.setattr(server, "run", lambda **kw: started.append(kw))
    monkeypatch.setenv("PLACEFUND_BANK_CODE", "4")
    result = CliRunner().invoke(main, ["serve", "--port", "5099"])
    assert result.exit_code == 1 and started == []
    assert result.output.strip().splitlines() == [
        "Error: PLACEFUND_BANK_CODE must be the bank's 3-digit code (e.g. 004), not '4'."
    ]
