"""Where the CPU of one API donation goes, part by part, and what group commit would save.

    python bench/api_budget.py [--requests 3000]

1,000 donations/s on 2 cores leaves 2 ms of CPU per request for everything: the HTTP
server, the app, PostgreSQL, the sealer and the load generator. This script measures the
parts one at a time on a quiet connection (no contention, so each figure is a floor; under
load every part costs more), on PostgreSQL in a private schema:

1. the whole request in-process (the WSGI app called directly: Flask, the token check from
   the cache, flask-smorest parsing, the service, the posting, the response), Python CPU;
2. the same request with the service replaced by a ready-made donation (no database): what
   the framework and the API's own code around the service cost, less what an empty Flask
   view costs (bench/floor_app.py, called the same way: that part is in the HTTP floor);
3. PostgreSQL's CPU per donation posted the way the API posts it (one round trip with
   COMMIT), read from the backend's /proc entry, and the client's CPU for it;
4. the same with K donations per transaction (K = 2, 4): what application-level group
   commit could save at best, were concurrent requests combined into one transaction.

The HTTP floor (gunicorn and an empty Flask view, with the client) comes from
bench/api_bench.py. Asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_bench import sa_url, seed  # noqa: E402
from bench.ledger_bench import create_schema, drop_schema, engine_for  # noqa: E402
from foundation.db import as_loaded, make_session_factory, utcnow  # noqa: E402
from foundation.pgwire import Batch  # noqa: E402
from ledger.books.legs import request_hash  # noqa: E402
from ledger.books.posting import _PG, Companion, _CompanionInsert, _postings_sql  # noqa: E402
from ledger.fund.models import Donation  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wsgi_caller(app, token: str, expect: str = "201"):
    body = json.dumps({"amount": 100_000, "bank_reference": "budget"}).encode()
    statuses = []

    def start_response(status, _headers, _exc=None):
        statuses.append(status)

    def call():
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/donations",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex,
        }
        out = app(environ, start_response)
        b"".join(out)
        getattr(out, "close", lambda: None)()
        if not statuses[-1].startswith(expect):
            raise SystemExit(f"unexpected answer: {statuses[-1]}")

    return call


def per_call(fn, n: int) -> float:
    """Python CPU of this thread per call, in ms."""
    for _ in range(max(50, n // 10)):
        fn()
    start = time.thread_time()
    for _ in range(n):
        fn()
    return (time.thread_time() - start) * 1000 / n


def donation_values(day: dt.date) -> dict:
    """A bank-transfer donation's columns, as record_donation gives them to its posting."""
    return {
        "company_id": None,
        "pledge_id": None,
        "channel": "bank_transfer",
        "gross_amount": 100_000,
        "currency": "TWD",
        "settlement_currency": "TWD",
        "settlement_gross": 100_000,
        "fee_amount": 0,
        "net_amount": 100_000,
        "restriction": None,
        "received_on": day,
    }


def group_commit(schema: str, n: int) -> list[tuple[int, float, float]]:
    """(K, PostgreSQL us, client us) per donation with K donations per transaction."""
    engine = engine_for(schema, pool_size=1, max_overflow=0)
    day = dt.date.today()
    legs = sorted([("assets:bank:main", 100_000, "TWD"), ("income:donations", -100_000, "TWD")])
    counter = iter(range(10**9))

    def add(batch: Batch) -> None:
        k = next(counter)
        digest = request_hash("donation", {"k": k})
        entry = ("donation", day, "budget", f"gc:{k}", digest, None, None, None, "", utcnow())
        batch.add(_PG["entry"], entry)
        batch.add(_postings_sql(len(legs), True), [day, *[v for leg in legs for v in leg]])
        companion = _CompanionInsert(Companion(Donation, donation_values(day)))
        batch.add(companion.claimed, companion.params)
        for code, amount, currency in legs:
            batch.add(_PG["apply_or_refuse"], (amount, code, currency, amount, day))

    out = []
    with make_session_factory(engine)() as session:
        driver = session.connection().connection.driver_connection
        pid = driver.pgconn.backend_pid
        for k in (1, 2, 4):
            rounds = max(1, n // k)

            def one_round(k=k):
                batch = Batch(driver)
                for _ in range(k):
                    add(batch)
                batch.run(commit=True)

            for _ in range(50):
                one_round()
            pg0, c0 = backend_cpu(pid), time.process_time()
            for _ in range(rounds):
                one_round()
            done = rounds * k
            out.append(
                (
                    k,
                    (backend_cpu(pid) - pg0) * 1e6 / done,
                    (time.process_time() - c0) * 1e6 / done,
                )
            )
        session.rollback()
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()

    schema, admin = create_schema("apibudget")
    try:
        token = seed(schema)
        os.environ["DATABASE_URL"] = f"{sa_url()}?options={quote(f'-csearch_path={schema}')}"
        import api.donations
        from foundation.settings import Settings
        from placefund.app import create_app

        app = create_app(Settings.from_env())
        call = wsgi_caller(app, token)
        whole = per_call(call, args.requests)
        cache = app.extensions.get("placefund.token_cache")

        # 2. The service replaced by a ready-made donation: no database at all
        ready = {
            **donation_values(dt.date.today()),
            "id": 1,
            "refunded_amount": 0,
            "entry_id": 1,
            "created_at": utcnow(),
        }
        real_write = api.donations.write
        api.donations.write = lambda _service, **_kw: as_loaded(Donation, dict(ready))
        try:
            framework = per_call(call, args.requests)
        finally:
            api.donations.write = real_write
        if cache is not None:
            cache.close()
        from bench.floor_app import app as floor_app

        # What an empty Flask view costs in-process: already inside the HTTP floor
        empty = per_call(wsgi_caller(floor_app, token), args.requests)

        print(f"API CPU budget: PostgreSQL, one request at a time, {args.requests:,} requests")
        print()
        print(f"whole request in-process (Python)                 {whole:6.3f} ms")
        print(f"  an empty Flask view (inside the HTTP floor)     {empty:6.3f} ms")
        print(f"  framework and API code around the service       {framework - empty:6.3f} ms")
        print(f"  the service, its posting and the driver         {whole - framework:6.3f} ms")
        print()
        print("PostgreSQL per donation, K donations per transaction (one round trip each):")
        for k, pg_us, client_us in group_commit(schema, args.requests):
            print(f"  K={k}: PostgreSQL {pg_us:4.0f} us, client (driver) {client_us:4.0f} us")
        print()
        print("1,000/s on 2 cores leaves 2.0 ms per request for all of it, the HTTP floor")
        print("(bench/api_bench.py: gunicorn and an empty Flask view with the client) and the")
        print("sealer included.")
    finally:
        drop_schema(schema, admin)


if __name__ == "__main__":
    main()
