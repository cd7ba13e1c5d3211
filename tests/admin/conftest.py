"""Console fixtures: the API tests' small world, with a console password for every actor.

Argon2 runs with its cheapest parameters here (the parameters travel inside each hash, so
the code under test is the same); ``Console`` signs in and fills CSRF tokens like a browser.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from admin import two_factor
from foundation.db import utcnow
from identity import passwords
from identity.models import User
from tests.api.conftest import ACTORS, build_world

PASSWORD = "correct-horse-battery"
#: Every fund manager and admin of the console world is enrolled with this TOTP secret
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_KEY = re.compile(r'name="key" type="hidden" value="([^"]+)"')


class StepClock:
    """The two-factor check's clock: each code a test asks for belongs to a new 30-second
    step, so signing the same manager in twice within a real step is not refused as a
    replay (which the code under test does refuse)."""

    def __init__(self):
        self.t = float(int(time.time()) // 30 * 30)

    def __call__(self) -> float:
        return self.t

    def next_code(self, secret: str = TOTP_SECRET) -> str:
        self.t += 30
        return pyotp.TOTP(secret).at(self.t)


TOTP_CLOCK = StepClock()


@pytest.fixture(autouse=True)
def totp_clock(monkeypatch):
    monkeypatch.setattr(two_factor, "clock", TOTP_CLOCK)
    return TOTP_CLOCK


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(
        passwords, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    monkeypatch.setattr(passwords, "_DUMMY_HASH", None)


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def form_key(html: str) -> str:
    match = _KEY.search(html)
    assert match, "the form has no idempotency key"
    return match.group(1)


@dataclass
class ConsoleWorld:
    app: object
    database: object
    ids: dict[str, int]
    emails: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, actor: str | None = None):
        """A test client, signed in as ``actor`` when given."""
        c = self.app.test_client()
        if actor is not None:
            response = sign_in(c, self.emails[actor], PASSWORD)
            assert response.status_code == 302, response.text
        return c


def enrol_managers(database) -> None:
    """Give every fund manager and admin the world's TOTP secret (demo data enrols them
    with a key of its own)."""
    with database.session() as s, s.begin():
        for user in s.scalars(select(User)):
            if two_factor.required(user):
                user.totp_secret = TOTP_SECRET
                user.totp_enabled_at = utcnow()
                user.totp_last_step = None


def complete_two_factor(client, response):
    """After a manager's password: type the code, like a browser; other answers as they are."""
    if response.headers.get("Location") != "/console/sign-in/two-factor":
        return response
    form = client.get("/console/sign-in/two-factor")
    return client.post(
        "/console/sign-in/two-factor",
        data={"csrf_token": csrf_token(form.text), "code": TOTP_CLOCK.next_code()},
    )


def pass_two_factor(page) -> None:
    """In Chromium: a fund manager's or admin's second step, the code of the world's secret."""
    page.wait_for_load_state()
    if "/console/sign-in/two-factor" in page.url:
        page.locator("#code").fill(TOTP_CLOCK.next_code())
        page.locator("main form button[type=submit]").last.click()
        page.wait_for_load_state()


def sign_in(client, email: str, password: str, *, second_factor: bool = True):
    """Sign in like a browser; a fund manager or admin also types the code of the world's
    TOTP secret (unless ``second_factor`` is False: then the response is the redirect to the
    two-factor page)."""
    page = client.get("/console/sign-in")
    response = client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": password},
    )
    return complete_two_factor(client, response) if second_factor else response


def post_form(client, page_url: str, action: str, data: dict | None = None):
    """Open ``page_url``, take its CSRF token (and idempotency key) and post to ``action``."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    body = {"csrf_token": csrf_token(page.text)}
    key = _KEY.search(page.text)
    if key:
        body["key"] = key.group(1)
    body.update(data or {})
    return client.post(action, data=body)


def build_console_world(database) -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    """The API tests' world with a console password for everyone: ids, emails, API tokens."""
    with database.session() as s, s.begin():
        tokens, ids = build_world(s)
        emails = {}
        password_hash = passwords.hash_password(PASSWORD)
        for actor in ACTORS:
            user = s.get(User, ids[f"user_{actor}"])
            user.password_hash = password_hash
            if two_factor.required(user):
                user.totp_secret = TOTP_SECRET
                user.totp_enabled_at = utcnow()
            emails[actor] = user.email
        s.flush()
        assert len(s.scalars(select(User)).all()) == len(ACTORS)
    return ids, emails, tokens


@pytest.fixture
def console(app, database) -> ConsoleWorld:
    ids, emails, tokens = build_console_world(database)
    return ConsoleWorld(app, database, ids, emails, tokens)


def seed_published_proposal(database, ids) -> int:
    """Company A's offer and business X's request, matched by a run NDC published; the id
    of the published proposal."""
    from matching import services as matching

    with database.session() as s, s.begin():
        ndc = s.get(User, ids["user_ndc"])
        matching.save_offer(
            s,
            actor=s.get(User, ids["user_company_a"]),
            company_id=ids["company_a"],
            kinds=["sponsorship"],
            budget=500_000,
            regions=["central"],
        )
        matching.save_request(
            s,
            actor=s.get(User, ids["user_business_x"]),
            business_id=ids["business_x"],
            kind="sponsorship",
            amount=200_000,
            industry="A",
            town_code="10008040",
        )
        run = matching.start_run(s, actor=ndc, params={"k": 5})
        matching.publish_run(s, actor=ndc, run_id=run.id)
        (proposal,) = run.proposals
        return proposal.id


def bank_csv(*rows: tuple[str, str, str]) -> bytes:
    """A generic-layout bank CSV from (date, description, amount) rows."""
    lines = ["date,description,amount,balance,counterparty"]
    lines += [f'{d},{memo},"{amount}",,' for d, memo, amount in rows]
    return ("\n".join(lines) + "\n").encode()


def seed_bank_line_to_confirm(database, ids) -> int:
    """A bank statement whose line the rules match to donation A but a manager must confirm;
    the line's id."""
    from ledger.fund.models import Donation
    from ledger.reconciliation import runs as reconciliation_runs
    from ledger.reconciliation.models import StatementLine

    with database.session() as s, s.begin():
        donation = s.get(Donation, ids["donation_a"])
        data = bank_csv((donation.received_on.isoformat(), "甲公司 匯款", "5,000"))
        report = reconciliation_runs.import_bank_statement(s, data, mapping="generic")
        reconciliation_runs.run_bank(s, import_id=report.import_id)
        line = s.scalars(
            select(StatementLine).where(StatementLine.import_id == report.import_id)
        ).one()
        return line.id


def download_statement(app, client, url: str):
    """A company's yearly statement the way a reader gets one that is not kept yet: the
    download sends to the preparing page, a worker's run makes and keeps it, the download
    then serves it."""
    from tests.job_helpers import run_jobs

    first = client.get(url)
    if first.status_code != 303:
        return first  # kept already (or refused)
    assert "/jobs/" in first.headers["Location"]
    run_jobs(app)
    return client.get(url)
