"""Stripe's jobs (jobs/kinds/stripe.py) with signed, real-shaped fixtures and the real SDK.

The webhook stores the event and queues a ``stripe_event`` job without calling Stripe; the
job fetches the object (no transaction open) and applies it in a short one; Stripe down ->
the job waits its backoff and succeeds later; a refused effect -> the event needs a person
and the job fails without retry; the ten-minute ``stripe_sync`` picks up what no webhook
delivered; ``stripe_import`` imports once even when run again. Jobs run through the
worker's own Runner (tests.job_helpers); huey's storage is the real one.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from sqlalchemy import func, select, update

from foundation.db import utcnow
from foundation.settings import Settings
from jobs import records
from jobs.kinds import stripe as stripe_jobs
from jobs.models import Job
from ledger.books.models import Entry
from ledger.fund.models import Donation
from ledger.payments.models import StripeEvent
from ledger.payments.stripe_gateway import StripeSettings
from ledger.reconciliation.models import StatementImport
from placefund.app import create_app
from tests.api.test_webhooks import (  # noqa: F401  (stripe_world_pg: a fixture)
    FINAL,
    IN_ORDER,
    build_stripe_world,
    stripe_world_pg,
)
from tests.job_helpers import run_jobs, unscheduled_minute, worker_for
from tests.localstripe_server import WEBHOOK_SECRET, free_port, load_scenario, sign


@pytest.fixture
def world(database, app, client):
    return build_stripe_world(database, app, client)


def _count(database, model, *where) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _jobs(database, kind: str) -> list[Job]:
    with database.session() as s:
        return list(s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def _event(database, event_id: str) -> StripeEvent:
    with database.session() as s:
        return s.scalars(select(StripeEvent).where(StripeEvent.event_id == event_id)).one()


def _with_queue(app, act):
    """Do something with a worker's queue, then close huey's own connection to it."""
    queue, runner = worker_for(app)
    try:
        return act(queue, runner)
    finally:
        queue.close()


def _sweep(app, now: dt.datetime | None = None) -> list[int]:
    # Without a time: now, or the next minute with nothing scheduled, so the count of what
    # it hands out is the test's own jobs whatever the clock says
    when = now or unscheduled_minute()
    return _with_queue(app, lambda queue, _runner: queue.sweep(when))


def _enqueue(app, job_id: int) -> None:
    _with_queue(app, lambda queue, _runner: queue.enqueue(job_id))


def _make_due(database, job_id: int) -> None:
    """Move a waiting retry's time forward (its backoff is minutes), as if it had passed,
    and let the sweep hand it out again, as a worker's minute's sweep would."""
    past = utcnow() - dt.timedelta(minutes=5)
    with database.session() as s, s.begin():
        s.execute(update(Job).where(Job.id == job_id).values(run_after=past, enqueued_at=past))


# --- the webhook: verify, store, enqueue ---------------------------------------------------------


def test_the_webhook_stores_and_queues_without_calling_stripe(database):
    # The gateway points at a port where nothing listens: any Stripe call would fail
    unreachable = StripeSettings(
        secret_key="sk_test_unreachable",
        publishable_key="pk_test_unreachable",
        webhook_secret=WEBHOOK_SECRET,
        api_base=f"http://127.0.0.1:{free_port()}",
        max_retries=0,
        timeout=2,
    )
    settings = Settings(database_url=str(database.engine.url), secret_key="t", stripe=unreachable)
    app = create_app(settings, database=database)
    event = next(e for e in load_scenario()["events"] if e["id"] == "evt_1QxFx01")
    payload = json.dumps(event).encode()
    response = app.test_client().post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": sign(payload)},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "status": "received"}
    stored = _event(database, "evt_1QxFx01")
    assert (stored.status, stored.object_id) == ("received", "pi_3QxFx1")
    [job] = _jobs(database, "stripe_event")
    assert job.status == "queued"
    assert json.loads(job.params) == {"event_id": "evt_1QxFx01"}
    assert job.dedupe_key == "stripe_event:evt_1QxFx01"
    # The worker is the one that calls Stripe: unreachable, so it waits and tries again
    run_jobs(app)
    [job] = _jobs(database, "stripe_event")
    assert (job.status, job.attempts, job.error_code) == ("queued", 1, "StripeDown")
    assert job.run_after > utcnow()
    assert _event(database, "evt_1QxFx01").status == "received"


def test_the_job_applies_the_effect_and_running_it_again_changes_nothing(world, database, app):
    assert world.deliver("evt_1QxFx01").get_json()["status"] == "received"
    assert world.gateway.calls == []  # the webhook read nothing from Stripe
    assert _count(database, Donation) == 0
    assert run_jobs(app) == 1
    assert world.gateway.calls  # the job did
    [job] = _jobs(database, "stripe_event")
    assert job.status == "succeeded"
    result = json.loads(job.result)["event"]
    assert result["applied_now"] is True and result["status"] == "applied"
    assert "pi_3QxFx1 recorded as donation" in result["detail"]
    assert _count(database, Donation) == 1
    state, entries = world.state(), _count(database, Entry)

    # A duplicate delivery: 200, nothing stored, no job
    assert world.deliver("evt_1QxFx01").get_json()["status"] == "duplicate"
    assert len(_jobs(database, "stripe_event")) == 1
    # The same job's message delivered again: the finished job is not run again
    assert _with_queue(app, lambda _queue, runner: runner.run(job.id)) is None
    # A second job for the same event (a retry by hand, a second worker): changes nothing
    with database.session() as s, s.begin():
        again, created = records.submit(
            s,
            "stripe_event",
            params={"event_id": "evt_1QxFx01"},
            dedupe_key=stripe_jobs.event_key("evt_1QxFx01"),
        )
        assert created  # the first job's key was released when it finished
        again_id = again.id
    _enqueue(app, again_id)
    run_jobs(app)
    with database.session() as s:
        second = s.get(Job, again_id)
        assert second.status == "succeeded"
        assert json.loads(second.result)["event"]["applied_now"] is False
    assert world.state() == state
    assert _count(database, Entry) == entries


def test_stripe_down_the_job_waits_and_succeeds_later(world, database, app):
    world.gateway.down = True
    assert world.deliver("evt_1QxFx01").status_code == 200
    run_jobs(app)
    [job] = _jobs(database, "stripe_event")
    assert (job.status, job.phase, job.attempts) == ("queued", "waiting", 1)
    assert job.error_code == "StripeDown"
    assert job.run_after > utcnow()
    assert _event(database, "evt_1QxFx01").status == "received"
    assert _count(database, Donation) == 0
    # Not due yet: running the queue now does nothing
    run_jobs(app)
    assert _jobs(database, "stripe_event")[0].attempts == 1
    # Stripe is back; the backoff passes and the sweep hands the job out again
    world.gateway.down = False
    _make_due(database, job.id)
    assert job.id in _sweep(app)
    run_jobs(app)
    [job] = _jobs(database, "stripe_event")
    assert (job.status, job.attempts, job.error_code) == ("succeeded", 2, None)
    assert _event(database, "evt_1QxFx01").status == "applied"
    assert _count(database, Donation) == 1


def test_stripe_down_on_the_last_attempt_leaves_the_event_for_a_person(world, database, app):
    world.gateway.down = True
    world.deliver("evt_1QxFx01")
    with database.session() as s, s.begin():
        s.execute(update(Job).values(max_attempts=1))
    run_jobs(app)
    [job] = _jobs(database, "stripe_event")
    assert (job.status, job.attempts) == ("failed", 1)
    event = _event(database, "evt_1QxFx01")
    assert event.status == "needs_attention"
    assert "StripeUnavailable" in event.detail
    # Stripe's redelivery queues it again, and now it applies
    world.gateway.down = False
    assert world.deliver("evt_1QxFx01").get_json()["status"] == "received"
    run_jobs(app)
    assert _event(database, "evt_1QxFx01").status == "applied"


def test_a_refused_effect_needs_a_person_and_fails_the_job_without_retry(world, database, app):
    # A payout before the charges it settles: the clearing account cannot go negative
    world.deliver("evt_1QxFx04")
    run_jobs(app)
    [job] = _jobs(database, "stripe_event")
    assert (job.status, job.attempts, job.run_after) == ("failed", 1, None)
    assert job.error_code != "StripeDown"
    event = _event(database, "evt_1QxFx04")
    assert event.status == "needs_attention" and event.entry_id is None
    assert _count(database, Entry, Entry.idempotency_key == "stripe:payout:po_1QxFxPayout") == 0


def test_events_that_arrived_while_no_worker_ran_are_applied_when_one_starts(world, database, app):
    for event_id in IN_ORDER[:3]:
        assert world.deliver(event_id).get_json()["status"] == "received"
    # Their messages were lost too (the queue's file was wiped, say): the rows remain
    _with_queue(app, lambda queue, _runner: queue.huey.flush())
    assert run_jobs(app) == 0
    for job in _jobs(database, "stripe_event"):
        _make_due(database, job.id)
    # A worker sweeps when it starts
    assert len(_sweep(app)) == 3
    assert run_jobs(app) == 3
    assert {_event(database, e).status for e in IN_ORDER[:3]} == {"applied"}


# --- the ten-minute sync ---------------------------------------------------------------------


def _recent(world) -> None:
    """Stripe's events as if created in the last few minutes (the sync reads from then)."""
    now = int(time.time())
    for n, event in enumerate(world.gateway.events):
        event["created"] = now - 600 + n
        world.events[event["id"]]["created"] = event["created"]


def _slot_minute() -> dt.datetime:
    """The next minute the sync is scheduled for (every tenth)."""
    when = utcnow().replace(second=0, microsecond=0)
    return when + dt.timedelta(minutes=(10 - when.minute % 10) % 10)


def test_the_scheduled_sync_applies_events_no_webhook_delivered(world, database, app):
    _recent(world)
    world.deliver_all(IN_ORDER[:2])  # only two webhooks arrived
    world.refund_status("failed")  # as Stripe has the refund by now
    handed_out = _sweep(app, _slot_minute())
    [sync] = _jobs(database, "stripe_sync")
    assert sync.id in handed_out  # the slot's job, made and handed out by the sweep
    assert sync.dedupe_key.startswith("slot:stripe_sync@")
    run_jobs(app)
    [sync] = _jobs(database, "stripe_sync")
    assert sync.status == "succeeded", sync.error_detail
    result = json.loads(sync.result)["sync"]
    assert result["events_seen"] == len(IN_ORDER)
    assert result["duplicates"] == 2 and result["needs_attention"] == 0, result["problems"]
    assert result["since"] <= min(e["created"] for e in world.gateway.events)
    state = world.state()
    assert {k: state[k] for k in FINAL} == FINAL and state["balanced"]
    assert _event(database, "evt_1QxFx03").via == "sync"
    assert _event(database, "evt_1QxFx01").via == "webhook"
    # The next sync reads from where this one began, less the overlap; nothing changes
    with database.session() as s, s.begin():
        following, _ = records.submit(s, "stripe_sync")
        following_id = following.id
    _enqueue(app, following_id)
    run_jobs(app)
    with database.session() as s:
        again = json.loads(s.get(Job, following_id).result)["sync"]
    assert again["since"] == result["cursor"] - int(stripe_jobs.SYNC_OVERLAP.total_seconds())
    assert again["duplicates"] == len(IN_ORDER) and again["objects_applied"] == 0
    assert world.state() == state


def test_the_sync_without_stripe_configured_does_nothing_and_succeeds(database, app):
    assert not app.extensions["placefund.stripe"].settings.secret_key
    with database.session() as s, s.begin():
        job, _ = records.submit(s, "stripe_sync")
        job_id = job.id
    _enqueue(app, job_id)
    run_jobs(app)
    with database.session() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.attempts) == ("succeeded", 1)
        assert "not configured" in json.loads(job.result)["sync"]["note"]
    assert _count(database, StripeEvent) == 0


# --- the import ----------------------------------------------------------------------------------


def test_an_import_run_again_after_a_crash_imports_nothing_twice(world, database, app):
    from identity.tokens import issue_token
    from tests import factories

    with database.session() as s, s.begin():
        token = issue_token(s, factories.manager(s, "NDC"), name="t")[1]
    auth = {"Authorization": f"Bearer {token}"}
    accepted = world.client.post(
        "/api/v1/reconciliation/stripe-imports", json={"from": "2026-11-01"}, headers=auth
    )
    assert accepted.status_code == 202
    job_id = accepted.json["id"]
    run_jobs(app)
    first = world.client.get(accepted.headers["Location"], headers=auth).json
    assert first["status"] == "succeeded" and first["result"]["lines_new"] == 8
    assert first["progress"] == {"done": 8, "total": 8}
    # The worker died after the import committed, before it said so: the job looks stale
    with database.session() as s, s.begin():
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status="running",
                worker="elsewhere:1:1",
                heartbeat_at=utcnow() - dt.timedelta(minutes=5),
            )
        )
    assert job_id in _sweep(app)
    run_jobs(app)
    second = world.client.get(accepted.headers["Location"], headers=auth).json
    assert second["status"] == "succeeded" and second["attempts"] == 2
    assert second["result"]["import_id"] == first["result"]["import_id"]
    assert _count(database, StatementImport) == 1


# --- the same on PostgreSQL (huey's tables there, the row locks real) ----------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "scenario",
    [
        test_the_job_applies_the_effect_and_running_it_again_changes_nothing,
        test_stripe_down_the_job_waits_and_succeeds_later,
        test_the_scheduled_sync_applies_events_no_webhook_delivered,
        test_an_import_run_again_after_a_crash_imports_nothing_twice,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_on_postgresql(stripe_world_pg, scenario):  # noqa: F811
    scenario(stripe_world_pg, stripe_world_pg.database, stripe_world_pg.app)


def test_a_sync_keeps_each_refusal_as_its_message_code_for_the_console(world, database, app):
    """A payout before the charges it settles is refused: the sync's result keeps it in
    English (``problems``, the API's) and as the refusal's message code and values, which
    the console says in the reader's language (admin/job_figures.py)."""
    from admin.error_messages import MESSAGES

    _recent(world)
    world.gateway.events = [e for e in world.gateway.events if e["id"] == "evt_1QxFx04"]
    with database.session() as s, s.begin():
        job, _ = records.submit(s, "stripe_sync")
        job_id = job.id
    _enqueue(app, job_id)
    run_jobs(app)
    with database.session() as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded", job.error_detail
        result = json.loads(job.result)["sync"]
    assert result["needs_attention"] == 1 and result["problems"]
    assert len(result["refusals"]) == len(result["problems"])
    first = result["refusals"][0]
    assert first["stripe_id"] == "evt_1QxFx04"
    assert first["message_code"].split(".", 1)[0] in MESSAGES
    assert isinstance(first["params"], dict)
