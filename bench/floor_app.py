"""The HTTP floor for bench/api_bench.py: a Flask view that does no work behind the same
gunicorn layout. It answers POST /api/v1/donations with a fixed 201 body the size of a real
donation, without authentication, parsing or a database, so the benchmark can show what the
server and the client cost before the API does anything."""

from __future__ import annotations

from flask import Flask

app = Flask("floor")
BODY = {"id": 1, "channel": "bank_transfer", "amount": {"amount": 100000, "currency": "TWD"}}
BODY["padding"] = "x" * 380  # about the length of a DonationSchema response


@app.post("/api/v1/donations")
def donation():
    return BODY, 201
