"""The signing key without SECRET_KEY: made once in the instance folder (mode 600), the
same for every app built from it; with SECRET_KEY, that key."""

from __future__ import annotations

import stat

import pytest

from placefund.app import create_app
from placefund.config import Settings, instance_secret_key


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
