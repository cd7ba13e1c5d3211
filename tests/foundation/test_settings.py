"""Settings: bank transfers and receipts (demo defaults, and a bad value stops startup with
one line naming its variable), and the signing key without SECRET_KEY (made once in the
instance folder, mode 600, the same for every app built from it; with SECRET_KEY, that key)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from foundation.settings import Settings, instance_secret_key
from placefund.app import create_app

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
    assert result.exit_code == 2 and started == []
    assert result.output.strip().splitlines() == [
        "Error: PLACEFUND_BANK_CODE must be the bank's 3-digit code (e.g. 004), not '4'."
    ]


def test_the_instance_key_is_made_once_with_mode_600(tmp_path):
    key = instance_secret_key(tmp_path / "instance")
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and int(key, 16) >= 0
    assert instance_secret_key(tmp_path / "instance") == key
    assert [p.name for p in (tmp_path / "instance").iterdir()] == ["secret_key"]


def test_an_unusable_key_file_is_refused_with_its_fix(tmp_path):
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(ValueError, match="delete it to have a new one made, or set SECRET_KEY"):
        instance_secret_key(tmp_path)


def test_apps_without_secret_key_sign_with_the_instance_key(tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEFUND_INSTANCE", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'fund.db'}"
    first = create_app(Settings(database_url=url, secret_key=None))
    second = create_app(Settings(database_url=url, secret_key=None))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()
    given = create_app(Settings(database_url=url, secret_key="k" * 40))
    assert given.config["SECRET_KEY"] == "k" * 40
    for app in (first, second, given):
        app.extensions["placefund.db"].engine.dispose()


@pytest.mark.parametrize("value", ["-1", "two", "11", ""])
def test_proxy_hops_setting_is_refused_unless_a_small_whole_number(value):
    from foundation.settings import Settings

    with pytest.raises(ValueError, match="PLACEFUND_PROXY_HOPS"):
        Settings.from_env({"PLACEFUND_PROXY_HOPS": value})
    assert Settings.from_env({"PLACEFUND_PROXY_HOPS": "2"}).proxy_hops == 2
    assert Settings.from_env({}).proxy_hops == 0
