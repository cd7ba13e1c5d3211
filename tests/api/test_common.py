"""api/common.py: what every view shares, here the cursor pagination of lists."""

from __future__ import annotations

from tests.api.conftest import V1, new_key


def test_cursor_pagination_walks_every_item_once(world):
    for _ in range(5):
        world.call("ndc", "POST", f"{V1}/donations", json={"amount": 100_000}, key=new_key())
    seen, cursor = [], None
    while True:
        path = f"{V1}/donations?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = world.call("ndc", "GET", path).json
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7 and seen == sorted(seen, reverse=True)
    bad = world.call("ndc", "GET", f"{V1}/donations?cursor=abc")
    assert bad.status_code == 422 and "query.cursor" in bad.json["errors"]
