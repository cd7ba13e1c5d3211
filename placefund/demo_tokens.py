"""Demo API tokens: one per demo user, printed and written to instance/demo-tokens.json."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from identity.models import User
from identity.tokens import issue_token


def issue_demo_tokens(
    database, *, echo: Callable[[str], None] = print, path: Path
) -> list[dict[str, str]]:
    """Issue a token for every user and write them to ``path`` (the instance folder's
    demo-tokens.json, git-ignored) for trying the API."""
    tokens = []
    with database.session() as s, s.begin():
        for user in s.scalars(select(User).order_by(User.id)):
            _row, plain = issue_token(s, user, name="demo")
            tokens.append(
                {
                    "email": user.email,
                    "role": user.role,
                    "organisation": user.organisation.name,
                    "organisation_id": user.organisation_id,
                    "token": plain,
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file holds live secrets: readable by its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(tokens, fh, ensure_ascii=False, indent=2)
    echo("Demo API tokens (also in " + str(path) + "):")
    for t in tokens:
        echo(f"  {t['role']:<16} {t['email']:<34} {t['token']}")
    return tokens
