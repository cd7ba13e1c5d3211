"""A client generated from the OpenAPI document (openapi-python-client, as the README shows)
carries a pledge to its donation against the app served on loopback.

The generated functions are named after the operationIds (``create_pledge``,
``record_donation``), and its typed models parse what the server answers.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def generated_client(client, tmp_path, monkeypatch):
    """The package ``placefund_client`` generated from this app's own document."""
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(client.get("/api/v1/openapi.json").json), encoding="utf-8")
    config = tmp_path / "config.yaml"
    # No formatting hooks: the test reads the code's behaviour, not its layout
    config.write_text("package_name_override: placefund_client\npost_hooks: []\n")
    out = tmp_path / "client" / "placefund_client"
    subprocess.run(
        [GENERATOR, "generate", "--path", spec, "--output-path", out, "--meta", "none",
         "--config", config],
        check=True,
        capture_output=True,
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(out.parent))
    yield importlib.import_module("placefund_client")
    for name in [m for m in sys.modules if m.split(".")[0] == "placefund_client"]:
        del sys.modules[name]


@pytest.fixture
def base_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def test_a_pledge_and_its_donation_through_the_generated_client(world, generated_client, base_url):
    from placefund_client.api.donations import record_donation
    from placefund_client.api.pledges import create_pledge, get_pledge, list_pledges
    from placefund_client.models import DonationIn, PledgeIn

    def as_(actor):
        return generated_client.AuthenticatedClient(base_url=base_url, token=world.tokens[actor])

    company, manager = as_("company_a"), as_("ndc")
    pledge = create_pledge.sync(
        client=company, body=PledgeIn(amount=300_000, instalments=3), idempotency_key="gen-p"
    )
    assert pledge.status == "open"
    assert (pledge.amount.amount, pledge.amount.currency) == (300_000, "TWD")

    donation = record_donation.sync(
        client=manager,
        body=DonationIn(amount=300_000, pledge_id=pledge.id),
        idempotency_key="gen-d",
    )
    assert (donation.pledge_id, donation.amount.amount) == (pledge.id, 300_000)

    paid = get_pledge.sync(client=company, pledge_id=pledge.id)
    assert (paid.status, paid.paid.amount, paid.outstanding.amount) == ("paid", 300_000, 0)
    page = list_pledges.sync(client=company, status="paid")
    assert pledge.id in [p.id for p in page.items]
    for c in (company, manager):
        c.get_httpx_client().close()
