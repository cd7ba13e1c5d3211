def test_world_builds(world):
    r = world.call("company_a", "GET", "/api/v1/me")
    assert r.status_code == 200, r.json
    assert r.json["organisation_id"] == world.ids["company_a"]
