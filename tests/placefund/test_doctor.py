"""`placefund doctor`: each problem one line with its fix, exit status 1 when there is any."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from foundation.settings import Settings
from placefund import doctor
from placefund.app import Database
from placefund.cli import main
from placefund.migrate import upgrade

STRIPE = ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in (*STRIPE, "SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLACEFUND_INSTANCE", str(tmp_path / "instance"))


def _settings(url: str, secret_key: str | None = None) -> Settings:
    return Settings(database_url=url, secret_key=secret_key)


@pytest.fixture
def migrated_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'fund.db'}"
    database = Database(url)
    upgrade(database.engine)
    database.engine.dispose()
    return url


def test_a_migrated_database_is_ready(migrated_url):
    assert doctor.check_database(_settings(migrated_url)) == []


def test_a_database_without_schema_says_to_upgrade(tmp_path):
    (problem,) = doctor.check_database(_settings(f"sqlite:///{tmp_path / 'new.db'}"))
    assert problem.endswith("has no schema yet: run `placefund db upgrade`.")


def test_a_database_behind_the_code_says_which_revisions(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    database = Database(url)
    upgrade(database.engine, "0007")
    database.engine.dispose()
    (problem,) = doctor.check_database(_settings(url))
    assert "is at revision 0007, this code needs" in problem
    assert problem.endswith("run `placefund db upgrade`.")


def test_an_unreachable_database_is_one_line():
    (problem,) = doctor.check_database(_settings("postgresql+psycopg://fund@127.0.0.1:1/fund"))
    assert problem.startswith("Cannot use the database at postgresql+psycopg://fund@127.0.0.1:1")
    assert "\n" not in problem


def test_the_receipt_font_is_found_by_fontconfig_as_weasyprint_finds_it():
    # The machine is prepared for the suite (scripts/prepare-machine installs the fonts)
    assert doctor.check_receipt_font(_settings("sqlite://")) == []


def test_a_machine_without_the_cjk_font_is_told_how_to_install_it(monkeypatch, tmp_path):
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir>'
        f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    problems = doctor.check_receipt_font(_settings("sqlite://"))
    assert problems == [
        "No Noto Sans CJK TC font: PDF receipts cannot draw Chinese; apt-get install "
        "fonts-noto-cjk (or scripts/prepare-machine run)."
    ]


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, []),
        (
            {"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_PUBLISHABLE_KEY": "pk_test_1",
             "STRIPE_WEBHOOK_SECRET": "whsec_1"},
            [],
        ),
        (
            {"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"},
            ["STRIPE_PUBLISHABLE_KEY is not set"],
        ),
        (
            {"STRIPE_PUBLISHABLE_KEY": "pk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"},
            ["STRIPE_SECRET_KEY is not set"],
        ),
        (
            {"STRIPE_SECRET_KEY": "sk_live_1", "STRIPE_PUBLISHABLE_KEY": "pk_test_1",
             "STRIPE_WEBHOOK_SECRET": "whsec_1"},
            ["different modes"],
        ),
        (
            {"STRIPE_SECRET_KEY": "pk_test_1", "STRIPE_PUBLISHABLE_KEY": "sk_test_1",
             "STRIPE_WEBHOOK_SECRET": "sk_test_1"},
            ["is not a secret key", "is not a publishable key", "is not a webhook secret"],
        ),
        (
            {"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_PUBLISHABLE_KEY": "pk_test_1"},
            ["STRIPE_WEBHOOK_SECRET is not set"],
        ),
        (
            {"STRIPE_SECRET_KEY": "sk_live_1", "STRIPE_PUBLISHABLE_KEY": "pk_live_1",
             "STRIPE_WEBHOOK_SECRET": "whsec_1", "STRIPE_API_BASE": "http://localhost:8420"},
            ["STRIPE_API_BASE sends the live key to http://localhost:8420"],
        ),
    ],
)  # fmt: skip
def test_stripe_settings_are_coherent(env, says):
    problems = doctor.check_stripe(Settings.from_env({"DATABASE_URL": "sqlite://", **env}))
    assert len(problems) == len(says), problems
    for problem, said in zip(problems, says, strict=True):
        assert said in problem


def test_the_secret_key_is_required_where_several_servers_may_share_the_database():
    assert doctor.check_secret_key(_settings("sqlite:///instance/placefund.db")) == []
    (problem,) = doctor.check_secret_key(_settings("postgresql+psycopg://fund@db/fund"))
    assert problem.startswith("SECRET_KEY is not set: sessions are signed with ")
    assert "set SECRET_KEY on every server" in problem
    (short,) = doctor.check_secret_key(_settings("postgresql+psycopg://fund@db/fund", "abc"))
    assert short.startswith("SECRET_KEY is shorter than 32 characters")
    assert doctor.check_secret_key(_settings("postgresql+psycopg://f@db/f", "k" * 32)) == []


def _run_doctor(url: str, **env):
    return CliRunner().invoke(main, ["doctor"], env={"DATABASE_URL": url, **env})


def test_doctor_exits_0_and_says_ready_when_nothing_is_wrong(migrated_url):
    result = _run_doctor(migrated_url)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "Ready."


def test_doctor_prints_each_problem_on_one_line_and_exits_1(tmp_path):
    result = _run_doctor(f"sqlite:///{tmp_path / 'new.db'}", STRIPE_SECRET_KEY="sk_test_1")
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("PROBLEM")]
    assert problems == [
        "PROBLEM  database: The database at sqlite:///"
        f"{tmp_path / 'new.db'} has no schema yet: run `placefund db upgrade`.",
        "PROBLEM  stripe: STRIPE_PUBLISHABLE_KEY is not set: the donation page cannot take "
        "cards; set it to the same account's pk_... key.",
        "PROBLEM  stripe: STRIPE_WEBHOOK_SECRET is not set: Stripe's webhooks are refused and "
        "payments wait for `placefund stripe sync`; set it to the endpoint's whsec_... secret.",
    ]
    assert "ok       receipt font" in result.output
    assert "3 problems found." in result.output
