"""A match run as a job: bad parameters refused before anything is queued, a refusal of the
matcher fails the job at once with its code, a stop request stops the solve, and a run
stored by an attempt that died before finishing is not made twice."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from jobs.kinds import matching as match_jobs
from jobs.models import Job
from jobs.runner import JobCancelled, JobContext, Runner
from matching.models import MatchRun
from placefund.app import job_services
from tests.api.conftest import World, build_world
from tests.api.test_matching import start_run
from tests.job_helpers import run_jobs


@pytest.fixture
def world(database, client) -> World:
    """The API tests' world: managers, companies, businesses and their tokens."""
    with database.session() as s, s.begin():
        tokens, ids = build_world(s)
    return World(client, tokens, ids)


def offer_and_request(world: World) -> None:
    for actor, path, body in (
        ("company_a", "/api/v1/match/offers", {"kinds": ["sponsorship"], "budget": 500_000}),
        (
            "business_x",
            "/api/v1/match/requests",
            {"kind": "sponsorship", "amount": 200_000, "industry": "A", "town_code": "10008040"},
        ),
    ):
        assert world.call(actor, "POST", path, json=body).status_code == 201


def runs(world: World) -> int:
    database = world.client.application.extensions["placefund.db"]
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(MatchRun))


def test_bad_parameters_are_refused_and_nothing_is_queued(world: World):
    bad = world.call(
        "ndc", "POST", "/api/v1/match/runs", json={"params": {"k": 0, "min_priority_share": "x"}}
    )
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert set(bad.get_json()["errors"]) == {"params.k", "params.min_priority_share"}
    listed = world.call("ndc", "GET", "/api/v1/jobs").get_json()
    assert listed["items"] == []
    assert world.call("company_a", "POST", "/api/v1/match/runs", json={}).status_code == 403


def test_an_infeasible_run_fails_at_once_with_the_matchers_reason(world: World):
    offer_and_request(world)
    run = start_run(world, {"k": 5})
    world.call("ndc", "POST", f"/api/v1/match/runs/{run['id']}/publish")
    path = f"/api/v1/match/proposals/{run['proposals'][0]['id']}/response"
    for actor in ("company_a", "business_x"):
        world.call(actor, "POST", path, json={"decision": "accept"})
    # The accepted pair is fixed and outside any priority area: 100% cannot be met
    started = world.call(
        "ndc", "POST", "/api/v1/match/runs", json={"params": {"min_priority_share": "1"}}
    )
    assert started.status_code == 202
    run_jobs(world.client.application)
    job = world.call("ndc", "GET", started.headers["Location"]).get_json()
    assert job["status"] == "failed" and job["attempts"] == 1  # not tried again
    assert job["error"]["code"] == "infeasible"
    assert "min_priority_share" in job["error"]["detail"]
    assert runs(world) == 1


def _context(app, job_id: int) -> JobContext:
    database = app.extensions["placefund.db"]
    runner = Runner(database, job_services(app.config["SETTINGS"]))
    with database.session() as s:
        return JobContext(runner, s.get(Job, job_id))


def test_a_stop_request_stops_the_solve_and_stores_nothing(world: World):
    offer_and_request(world)
    started = world.call("ndc", "POST", "/api/v1/match/runs", json={"params": {"k": 5}})
    context = _context(world.client.application, started.get_json()["id"])
    context.stop.set()  # what the heartbeat does when a manager cancels
    with pytest.raises(JobCancelled):
        match_jobs.match_run(context)
    assert runs(world) == 0


def test_a_run_stored_by_an_attempt_that_died_is_not_made_again(world: World):
    offer_and_request(world)
    first = start_run(world, {"k": 5})
    app = world.client.application
    started = world.call("ndc", "POST", "/api/v1/match/runs", json={"params": {"k": 5}})
    job_id = started.get_json()["id"]
    # As if an attempt stored run ``first`` with this job, then died before finishing
    database = app.extensions["placefund.db"]
    earlier = {"match_run_id": first["id"], "proposals": 1}
    with database.session() as s, s.begin():
        s.execute(update(Job).where(Job.id == job_id).values(result=json.dumps(earlier)))
    assert match_jobs.match_run(_context(app, job_id)) == earlier
    assert runs(world) == 1
