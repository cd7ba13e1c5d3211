"""The command line as a user meets it: every group under ``python -m placefund``, any valid
SQLAlchemy URL in every command, and one line with exit status 2 for a database it cannot use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from placefund.app import Database
from placefund.cli import main
from placefund.migrate import current_revision, head_revision

GROUPS = ("db", "demo", "doctor", "serve", "token", "ledger", "stripe", "reconcile", "match")


def _python_m(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_python_m_placefund_runs_the_cli_with_every_command_group():
    result = _python_m("placefund", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: placefund ")
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line}
    assert set(GROUPS) <= listed


@pytest.mark.parametrize("module", ["placefund", "placefund.cli"])
def test_the_match_group_is_there_however_the_cli_is_started(module):
    result = _python_m(module, "match", "--help")
    assert result.returncode == 0, result.stderr
    assert {"run", "solve"} <= set(result.stdout.split())


def _cli(url: str, *args: str, **env):
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": url, **env})


def test_a_percent_sign_in_the_url_reaches_every_command(tmp_path):
    # "%" is where Alembic's configparser used to refuse the URL ("invalid interpolation")
    folder = tmp_path / "100% local"
    folder.mkdir()
    url = f"sqlite:///{folder / 'placefund.db'}"
    upgraded = _cli(url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    database = Database(url)
    assert current_revision(database.engine) == head_revision(database.engine)
    database.engine.dispose()
    verified = _cli(url, "ledger", "verify")
    assert verified.exit_code == 0, verified.output
    assert "Ledger verified" in verified.output


def _one_line_exit_2(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("command", [("db", "upgrade"), ("ledger", "verify"), ("demo",)])
def test_an_unreachable_server_is_one_line_and_exit_status_2(command):
    # Port 1 on loopback: nothing listens, the connection is refused at once
    line = _one_line_exit_2(_cli("postgresql://fund:s%40cret@127.0.0.1:1/fund", *command))
    assert line.startswith("Error: Cannot use the database at postgresql+psycopg://fund:***@")
    assert "Connection refused" in line
    assert "s@cret" not in line and "s%40cret" not in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "DATABASE_URL is not a database URL"),
        ("postgresql://fund@127.0.0.1:notaport/fund", "DATABASE_URL is not a database URL"),
        ("oracle+nodriver://fund@db/fund", "names a database this service does not speak"),
    ],
)
def test_a_bad_url_is_one_line_and_exit_status_2(url, says):
    assert says in _one_line_exit_2(_cli(url, "db", "upgrade"))


def test_a_database_without_schema_is_one_line_and_exit_status_2(tmp_path):
    line = _one_line_exit_2(_cli(f"sqlite:///{tmp_path / 'new.db'}", "ledger", "verify"))
    assert line.endswith("has no schema yet: run `placefund db upgrade`.")


@pytest.fixture
def pg_url():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    return url


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_one_line_and_exit_status_2(pg_url):
    from sqlalchemy import make_url

    missing = f"pf_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).set(database=missing).render_as_string(hide_password=False)
    line = _one_line_exit_2(_cli(url, "ledger", "verify"))
    assert f'database "{missing}" does not exist' in line


@pytest.mark.postgres
def test_a_socket_path_and_percent_encoded_password_and_options(pg_url):
    """``?host=/socket``, a password with "@" and "/", and a percent-encoded option: what
    a PostgreSQL URL looks like in production, through `db upgrade` and `ledger verify`."""
    from sqlalchemy import make_url

    base = make_url(pg_url)
    schema = f"pf_cli_{uuid.uuid4().hex[:8]}"
    admin = Database(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        # trust authentication here: the password is parsed and sent, not checked
        url = (
            f"postgresql://{base.username}:p%40ss%2Fword@/{base.database}"
            f"?host=/var/run/postgresql&options=-csearch_path%3D{schema}"
        )
        upgraded = _cli(url, "db", "upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        with admin.engine.connect() as conn:
            tables = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            ).scalar()
        assert tables > 10
        verified = _cli(url, "ledger", "verify", "--no-seal")
        assert verified.exit_code == 0, verified.output
    finally:
        with admin.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.engine.dispose()


def test_serve_refuses_a_bad_proxy_setting_with_a_message_before_starting(monkeypatch):
    from click.testing import CliRunner

    from placefund import server
    from placefund.cli import main

    started = []
    monkeypatch.setattr(server, "run", lambda **kw: started.append(kw))
    monkeypatch.setenv("PLACEFUND_PROXY_HOPS", "two")
    result = CliRunner().invoke(main, ["serve", "--port", "5099"])
    assert result.exit_code == 2
    assert "PLACEFUND_PROXY_HOPS must be a whole number" in result.output
    assert "Traceback" not in result.output
    assert started == []
    monkeypatch.setenv("PLACEFUND_PROXY_HOPS", "1")
    assert CliRunner().invoke(main, ["serve", "--port", "5099"]).exit_code == 0
    assert started and started[0]["port"] == 5099
