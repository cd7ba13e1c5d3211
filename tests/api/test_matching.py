"""The matching workflow over HTTP: offer, request, run, publish, answer, partnership."""

from tests.api.conftest import World
from tests.job_helpers import run_jobs


def start_run(world: World, params: dict) -> dict:
    """Start a run as a manager: 202 with the job, which the worker solves; the run."""
    started = world.call("ndc", "POST", "/api/v1/match/runs", json={"params": params})
    assert started.status_code == 202, started.get_json()
    job = started.get_json()
    assert job["kind"] == "match_run" and job["status"] == "queued"
    assert started.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert run_jobs(world.client.application) >= 1
    done = world.call("ndc", "GET", started.headers["Location"]).get_json()
    assert done["status"] == "succeeded", done
    run = world.call("ndc", "GET", f"/api/v1/match/runs/{done['result']['match_run_id']}")
    assert run.status_code == 200
    return run.get_json()


def test_matching_workflow_over_http(world: World):
    offer = world.call(
        "company_a",
        "POST",
        "/api/v1/match/offers",
        json={"kinds": ["sponsorship"], "budget": 500_000, "regions": ["central"]},
    )
    assert offer.status_code == 201, offer.get_json()
    request = world.call(
        "business_x",
        "POST",
        "/api/v1/match/requests",
        json={"kind": "sponsorship", "amount": 200_000, "industry": "A", "town_code": "10008040"},
    )
    assert request.status_code == 201, request.get_json()
    bad = world.call(
        "business_x",
        "POST",
        "/api/v1/match/requests",
        json={"kind": "sponsorship", "amount": 1, "industry": "A", "town_code": "99999999"},
    )
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"

    run = start_run(world, {"k": 5})
    assert run["status"] == "reviewing" and len(run["proposals"]) == 1
    proposal = run["proposals"][0]
    assert proposal["explanation"]["components"]
    assert world.call("company_a", "GET", "/api/v1/match/proposals").get_json()["items"] == []

    assert world.call("ndc", "POST", f"/api/v1/match/runs/{run['id']}/publish").status_code == 200
    mine = world.call("company_a", "GET", "/api/v1/match/proposals").get_json()["items"]
    assert [p["id"] for p in mine] == [proposal["id"]]
    assert world.call("company_b", "GET", "/api/v1/match/proposals").get_json()["items"] == []
    path = f"/api/v1/match/proposals/{proposal['id']}"
    assert world.call("company_b", "GET", path).status_code == 404

    for actor in ("company_a", "business_x"):
        answer = world.call(actor, "POST", f"{path}/response", json={"decision": "accept"})
        assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "accepted"
    assert len(world.call("business_x", "GET", "/api/v1/partnerships").get_json()["items"]) == 1
    assert world.call("business_y", "GET", "/api/v1/partnerships").get_json()["items"] == []


def test_a_proposal_says_who_is_still_to_answer_and_amounts_are_whole_dollars(world: World):
    for actor, path, body in (
        ("company_a", "/api/v1/match/offers", {"kinds": ["sponsorship"], "budget": 500_000}),
        (
            "business_x",
            "/api/v1/match/requests",
            {"kind": "sponsorship", "amount": 200_000, "industry": "A", "town_code": "10008040"},
        ),
    ):
        assert world.call(actor, "POST", path, json=body).status_code == 201
    cents = world.call(
        "business_x",
        "POST",
        "/api/v1/match/requests",
        json={"kind": "sponsorship", "amount": 100_050, "industry": "A", "town_code": "10008040"},
    )
    assert cents.status_code == 422
    assert cents.get_json()["errors"] == {"amount": ["must be a multiple of 100"]}
    run = start_run(world, {"k": 5})
    (proposal,) = run["proposals"]
    assert proposal["stage"] == "under_review"
    world.call("ndc", "POST", f"/api/v1/match/runs/{run['id']}/publish")
    path = f"/api/v1/match/proposals/{proposal['id']}"
    assert world.call("business_x", "GET", path).get_json()["stage"] == "awaiting_both"
    world.call("company_a", "POST", f"{path}/response", json={"decision": "accept"})
    seen = world.call("business_x", "GET", path).get_json()
    assert (seen["status"], seen["stage"]) == ("published", "awaiting_business")


def test_the_matching_lists_are_read_a_page_at_a_time_newest_first(world: World):
    made = []
    for budget in (100_000, 200_000, 300_000, 400_000, 500_000):
        offer = world.call(
            "company_a",
            "POST",
            "/api/v1/match/offers",
            json={"kinds": ["sponsorship"], "budget": budget},
        )
        made.append(offer.get_json()["id"])
    world.call(
        "company_b", "POST", "/api/v1/match/offers", json={"kinds": ["investment"], "budget": 1000}
    )

    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = world.call("company_a", "GET", f"/api/v1/match/offers{query}").get_json()
        assert len(page["items"]) <= 2
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Newest first, each once, and only company A's own
    assert seen == sorted(made, reverse=True)
    everything = world.call("ndc", "GET", "/api/v1/match/offers?limit=200").get_json()["items"]
    assert len(everything) == 6

    for path in ("/api/v1/match/offers", "/api/v1/match/proposals", "/api/v1/partnerships"):
        for query in ("?cursor=abc", "?limit=0", "?limit=201", "?cursor=" + "9" * 40):
            bad = world.call("ndc", "GET", path + query)
            assert bad.status_code in (400, 422), (path, query)
            assert bad.mimetype == "application/problem+json"
    far = world.call("ndc", "GET", "/api/v1/match/requests?cursor=999999999999999999")
    assert far.status_code == 200


def test_a_run_comes_with_a_page_of_its_proposals_and_the_rest_follow_by_cursor(world: World):
    for actor in ("company_a", "company_b"):
        made = world.call(
            actor, "POST", "/api/v1/match/offers", json={"kinds": ["sponsorship"], "capacity": 5}
        )
        assert made.status_code == 201, made.get_json()
    for actor in ("business_x", "business_y"):
        for amount in (100_000, 200_000):
            made = world.call(
                actor,
                "POST",
                "/api/v1/match/requests",
                json={
                    "kind": "sponsorship",
                    "amount": amount,
                    "industry": "A",
                    "town_code": "10008040",
                },
            )
            assert made.status_code == 201, made.get_json()
    run = start_run(world, {"k": 5})
    everything = world.call("ndc", "GET", f"/api/v1/match/runs/{run['id']}?limit=200").get_json()
    every_id = [p["id"] for p in everything["proposals"]]
    assert len(every_id) >= 3 and everything["next_cursor"] is None

    first = world.call("ndc", "GET", f"/api/v1/match/runs/{run['id']}?limit=2").get_json()
    seen, cursor = [p["id"] for p in first["proposals"]], first["next_cursor"]
    assert len(seen) == 2 and cursor is not None
    while cursor:
        more = world.call(
            "ndc", "GET", f"/api/v1/match/proposals?run_id={run['id']}&limit=2&cursor={cursor}"
        ).get_json()
        seen += [p["id"] for p in more["items"]]
        cursor = more["next_cursor"]
    # Newest first, each proposal once, none of another run
    assert seen == every_id == sorted(every_id, reverse=True)
    bad = world.call("ndc", "GET", f"/api/v1/match/runs/{run['id']}?limit=0")
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_an_offer_budget_of_nt0_is_refused_by_the_service_rule(world: World):
    """The console and the API call the same rule (matching.services): the same code and
    reason for a budget of NT$0 or less, and no offer stored."""
    for budget in (0, -100):
        r = world.call(
            "company_a", "POST", "/api/v1/match/offers",
            json={"kinds": ["sponsorship"], "budget": budget},
        )  # fmt: skip
        problem = r.get_json()
        assert r.status_code == 422 and list(problem["errors"]) == ["budget"], problem
        if budget == 0:  # the service's own rule and code; below 0 the schema's bound
            assert problem["code"] == "invalid_amount"
    listed = world.call("company_a", "GET", "/api/v1/match/offers").get_json()
    assert listed["items"] == []
    ok = world.call(
        "company_a", "POST", "/api/v1/match/offers",
        json={"kinds": ["sponsorship"], "budget": None},
    )  # fmt: skip
    assert ok.status_code == 201 and ok.get_json()["budget"] is None
