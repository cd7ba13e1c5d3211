"""API benchmark on PostgreSQL: bank-transfer donations recorded per second through HTTP.

    python bench/api_bench.py [--seconds 10] [--clients 8] [--workers 2] [--threads 2]

gunicorn (``placefund serve``) in front of a private PostgreSQL schema; N client threads
with keep-alive connections POST /api/v1/donations as a fund manager, each request with its
own Idempotency-Key. Prints requests per second with p50 and p99 latency, next to the
ledger benchmark's service figure (``post_entry`` on the same hot pair of accounts, from
bench/ledger_bench.py) and ``record_donation`` called directly, both measured in this run
with as many writer processes as there are clients, and the HTTP floor: the same clients
against a Flask view that does nothing (bench/floor_app.py) behind the same gunicorn layout.
Asserts nothing.

DSN: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ledger_bench import (  # noqa: E402
    create_schema,
    drop_schema,
    engine_for,
    libpq_dsn,
    pct,
    run_writers,
    sa_url,
    service_writer,
)
from foundation.db import make_session_factory  # noqa: E402
from foundation.transactions import UnitOfWork  # noqa: E402
from ledger.fund import donations as fund_donations  # noqa: E402
from placefund.migrate import upgrade  # noqa: E402


def donation_writer(schema, _shape, writer, seconds, start_at, out):
    """record_donation through the ledger service, as the API view calls it (no HTTP)."""
    engine = engine_for(schema, pool_size=1, max_overflow=0)
    sessions = make_session_factory(engine)
    while time.time() < start_at:
        time.sleep(0.001)
    deadline, n, latencies = start_at + seconds, 0, []
    while time.time() < deadline:
        t0 = time.perf_counter()
        with sessions() as s, UnitOfWork(s, commit_with_posting=True) as uow:
            # As foundation.transactions.write runs it: the posting commits in its round trip
            fund_donations.record_donation(
                s, key=f"svc:{writer}:{n}", channel="bank_transfer", amount=100_000, uow=uow
            )
        latencies.append(time.perf_counter() - t0)
        n += 1
    out.put((n, latencies))
    engine.dispose()


CLK_TCK = os.sysconf("SC_CLK_TCK")


def backend_pids(application_name: str) -> set[int]:
    """PostgreSQL backends serving the benchmark's server (by their application_name)."""
    conn = psycopg.connect(libpq_dsn(), autocommit=True)
    try:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def cpu_by_group(server_pid: int, backends: set[int]) -> dict[str, float]:
    """CPU seconds used so far by the server's process tree, its PostgreSQL backends and
    this process (the clients).

    Read from /proc, so the figures hold even when other work shares the machine: they say
    what one request costs, where throughput alone would also measure the neighbours.
    """
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    server = {server_pid}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _cpu) in stats.items():
            if ppid in server and pid not in server:
                server.add(pid)
                changed = True
    sealers = {pid for pid in server if stats[pid][0] == server_pid and _is_sealer(pid)}
    groups = {"server": 0, "sealer": 0, "postgres": 0}
    for pid, (_ppid, cpu) in stats.items():
        if pid in sealers:
            groups["sealer"] += cpu
        elif pid in server:
            groups["server"] += cpu
        elif pid in backends:
            groups["postgres"] += cpu
    times = os.times()
    out = {k: v / CLK_TCK for k, v in groups.items()}
    out["client"] = times.user + times.system
    return out


def _is_sealer(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
            # `placefund worker` (gunicorn's own workers run the server's command line)
            return b"seal" in args or b"worker" in args
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(schema: str) -> str:
    """A manager and a company; returns the manager's API token."""
    from foundation.ubn import complete_ubn
    from identity.models import Organisation, User
    from identity.tokens import issue_token

    engine = engine_for(schema)
    upgrade(engine)
    with make_session_factory(engine)() as s, s.begin():
        ndc = Organisation(kind="institution", name="國發會", institution_code="NDC")
        company = Organisation(kind="company", name="壓測公司", ubn=complete_ubn("2459061"))
        s.add_all([ndc, company])
        s.flush()
        manager = User(
            email="bench@ndc.example.tw", name="壓測", role="fund_manager", organisation_id=ndc.id
        )
        s.add(manager)
        s.flush()
        _row, token = issue_token(s, manager, name="bench")
    engine.dispose()
    return token


class Client:
    """A minimal HTTP/1.1 keep-alive client: the request bytes built by hand, the response
    read by its Content-Length. http.client spent about 0.25 ms of CPU per request, an
    eighth of what 1,000 requests/s leave per request on 2 cores; the load generator shares
    the machine with the server, so it should cost as little as it can (wrk's reason for
    being written in C)."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.head = (
            "POST /api/v1/donations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.body = json.dumps({"amount": 100_000, "bank_reference": "bench"}).encode()
        self.length = f"Content-Length: {len(self.body)}\r\n\r\n".encode()
        self.sock = None
        self.buffer = b""

    def connect(self) -> None:
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def post(self, key: str) -> int:
        """Send one donation; return the response status."""
        if self.sock is None:
            self.connect()
        self.sock.sendall(
            self.head + f"Idempotency-Key: {key}\r\n".encode() + self.length + self.body
        )
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._read_more()
        self.buffer = rest[length:]
        if b"connection: close" in head.lower():
            self.close()
        return status

    def _read(self) -> None:
        self.buffer += self._read_more()

    def _read_more(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk


def client_loop(port, token, run_id, client, deadline, latencies, errors, start_at):
    conn = Client(port, token)
    n = 0
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < deadline:
        t0 = time.perf_counter()
        try:
            ok = conn.post(f"{run_id}-{client}-{n}") == 201
        except OSError:
            conn.close()
            ok = False
        elapsed = time.perf_counter() - t0
        if ok:
            latencies.append(elapsed)
        else:
            errors.append(elapsed)
        n += 1
    conn.close()


def http_run(port, token, clients, seconds, run_id):
    latencies: list[float] = []
    errors: list[float] = []
    start_at = time.time() + 0.5
    deadline = start_at + seconds
    threads = [
        threading.Thread(
            target=client_loop,
            args=(port, token, run_id, c, deadline, latencies, errors, start_at),
        )
        for c in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / seconds, sorted(latencies), len(errors)


def wait_until_up(port: int, path: str, status: int | None = None) -> None:
    """Until ``GET path`` answers (with ``status`` when given); 20 s at most."""
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            response = c.getresponse()
            response.read()
            if status is None or response.status == status:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def floor_run(args, token: str) -> tuple[float, list[float], dict[str, float]]:
    """The same clients against a Flask view that does nothing (bench/floor_app.py) behind
    the same gunicorn layout: requests per second and CPU per request (server, client)."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            "bench.floor_app:app",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port, "/")
        http_run(port, token, args.clients, 1.0, "floor-warmup")
        before = cpu_by_group(server.pid, set())
        rate, lat, errors = http_run(port, token, args.clients, args.seconds, "floor")
        after = cpu_by_group(server.pid, set())
        requests = max(1, len(lat) + errors)
        cpu = {k: (after[k] - before[k]) * 1000 / requests for k in ("server", "client")}
        return rate, lat, cpu
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    schema, admin = create_schema("apibench")
    server = None
    try:
        token = seed(schema)
        port = free_port()
        env = dict(os.environ)
        env["DATABASE_URL"] = (
            f"{sa_url()}?options={quote(f'-csearch_path={schema}')}&application_name={schema}"
        )
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "placefund"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--no-access-log",
                # The worker child seals the entries the requests post (its CPU is the
                # "sealer" group: in this benchmark sealing is all it does)
                "--with-worker",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_up(port, "/healthz", 200)

        http_run(port, token, args.clients, 2.0, "warmup")
        backends = backend_pids(schema)
        before = cpu_by_group(server.pid, backends)
        rate, lat, errors = http_run(port, token, args.clients, args.seconds, "run")
        after = cpu_by_group(server.pid, backends)
        requests = max(1, len(lat) + errors)
        cpu_ms = {k: (after[k] - before[k]) * 1000 / requests for k in after}
        server.terminate()
        server.wait(timeout=30)
        server = None

        svc_rate, svc_lat, _ = run_writers(
            donation_writer, schema, "hot", args.clients, args.seconds
        )
        ledger_rate, ledger_lat, _ = run_writers(
            service_writer, schema, "hot", args.clients, args.seconds
        )
        floor_rate, floor_lat, floor_cpu = floor_run(args, token)

        print(
            f"API benchmark: PostgreSQL, gunicorn {args.workers} workers x {args.threads} "
            f"threads, {args.clients} concurrent clients, {args.seconds:.0f} s, "
            f"{os.cpu_count()} cores"
        )
        print()
        print(f"{'path':<44}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}")
        rows = [
            ("HTTP POST /api/v1/donations (bank transfer)", rate, lat),
            ("record_donation service, 8 processes", svc_rate, svc_lat),
            ("ledger_bench post_entry (hot), 8 processes", ledger_rate, ledger_lat),
            ("HTTP floor: a Flask view doing nothing", floor_rate, floor_lat),
        ]
        for name, r, ls in rows:
            print(f"{name:<44}{r:>9,.0f}{pct(ls, 0.5):>9.2f}{pct(ls, 0.99):>9.2f}")
        print()
        print(f"HTTP errors (non-201 or connection): {errors}")
        print(
            f"HTTP / record_donation service: {rate / svc_rate:.2f}; "
            f"HTTP / ledger post_entry: {rate / ledger_rate:.2f}"
        )
        print(
            "CPU per HTTP request: "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in cpu_ms.items())
            + f", total {sum(cpu_ms.values()):.2f} ms "
            f"({os.cpu_count()} cores allow {os.cpu_count() * 1000 / sum(cpu_ms.values()):,.0f}/s)"
        )
        print(
            "CPU per request of the floor (same gunicorn layout and clients): "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in floor_cpu.items())
        )
        print("Target: >= 1,000 donations/s with p99 < 50 ms")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_schema(schema, admin)


if __name__ == "__main__":
    main()
