"""``POST /api/v1/payments`` (+ confirm) against a running ``payment-service serve`` on PostgreSQL.

One run, all on loopback:

1. a fresh PostgreSQL database, and ``python -m payment_http serve`` on it (the real process:
   API key auth, idempotency keys, JSON access log, background work on unless
   ``--no-workers``), waited for on ``/health/ready``;
2. **maximum rate** (closed loop, ``--connections`` keep-alive connections, each sending its
   next request as soon as the previous answer is in): create-payment alone, then
   create + confirm pairs;
3. **latency at half load** (open loop): requests are *scheduled* at 50 % of the measured
   maximum, each on a free connection (a new one when none is free), and latency is counted
   from the scheduled time, so a stall shows up in p99 instead of silently slowing the sender
   (no coordinated omission): p50, p99, p99.9 and the error count;
4. **pgbench** with ``bench/db.py``'s script for the same create transaction on the same server
   (same database), for the ratio;
5. the server's **RSS**, sampled from ``/proc`` every half second over the whole run: peak, and
   the first and last minute of the soak (``--soak`` seconds of half load) to show it is flat.

The load generator is a minimal HTTP/1.1 client on raw asyncio streams (on uvloop): a few
microseconds per request, so on a 2-core machine most of the CPU is left to the server.

    .venv/bin/python bench/http.py [--seconds 10] [--soak 300] [--connections 32]
"""

# ruff: noqa: E402 - sys.path is fixed (see below) before anything else is imported
from __future__ import annotations

import sys
from pathlib import Path

# This file is called http.py: with its folder first on sys.path, ``import http`` (which the
# standard library and httpx do) would find it instead of the standard library's package.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from payment_adapters.crypto import generate_key
from payment_adapters.sqlalchemy.testing import create_database, drop_database, server_url

API_KEY = "bench-key"


def load_db_bench() -> ModuleType:
    """bench/db.py (its pgbench script for the same create transaction)."""
    spec = importlib.util.spec_from_file_location("bench_db", BENCH / "db.py")
    if spec is None or spec.loader is None:
        raise SystemExit("bench/db.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TARGETS = {"ratio": 0.35, "p99_ms": 15.0, "rss_mb": 200.0}


# ------------------------------------------------------------------ a minimal HTTP/1.1 client
class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {API_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        self.writer.close()


def create_body() -> bytes:
    return json.dumps(
        {
            "booking_id": str(uuid.uuid4()),
            "guest_id": str(uuid.uuid4()),
            "amount": 12500,
            "currency": "EUR",
            "payment_method": "pm_card_visa",
            "description": "Room 12, 2 nights",
            "metadata": {"channel": "web", "room": "12"},
        }
    ).encode()


async def create(conn: Connection) -> tuple[int, str | None]:
    status, payload = await conn.request("POST", "/api/v1/payments", create_body())
    return status, (json.loads(payload)["id"] if status == 201 else None)


async def create_and_confirm(conn: Connection) -> int:
    status, payment_id = await create(conn)
    if payment_id is None:
        return status
    status, _ = await conn.request("POST", f"/api/v1/payments/{payment_id}/confirm")
    return status


Operation = Callable[[Connection], Awaitable[Any]]


ERRORS: dict[str, int] = {}


def ok(result: Any) -> bool:
    status = result[0] if isinstance(result, tuple) else result
    if status in (200, 201):
        return True
    ERRORS[f"HTTP {status}"] = ERRORS.get(f"HTTP {status}", 0) + 1
    return False


# ------------------------------------------------------------------ closed loop: the maximum
async def max_rate(
    port: int, operation: Operation, connections: int, seconds: float
) -> tuple[float, int]:
    """Operations per second with ``connections`` clients back to back; and the errors."""
    conns = [await Connection.open(port) for _ in range(connections)]
    done = errors = 0
    stop = time.perf_counter() + seconds

    async def loop(conn: Connection) -> None:
        nonlocal done, errors
        while time.perf_counter() < stop:
            result = await operation(conn)
            if ok(result):
                done += 1
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in conns))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    return done / elapsed, errors


# ------------------------------------------------------------------ open loop: latency
class Pool:
    """Idle connections; a new one whenever none is free (open-loop senders never wait).

    A connection idle for longer than the server keeps it (uvicorn: 5 s) is dropped rather
    than reused, as any HTTP client pool does.
    """

    MAX_IDLE = 4.0

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[Connection, float]] = []
        self.opened = 0

    async def get(self) -> Connection:
        now = time.monotonic()
        while self.idle:
            conn, since = self.idle.pop()
            if now - since < self.MAX_IDLE:
                return conn
            conn.close()
        self.opened += 1
        return await Connection.open(self.port)

    def put(self, conn: Connection) -> None:
        self.idle.append((conn, time.monotonic()))

    def close(self) -> None:
        for conn, _ in self.idle:
            conn.close()


async def paced(
    port: int,
    operation: Operation,
    rate: float,
    seconds: float,
    sample: Callable[[float], None] | None = None,
) -> tuple[list[float], int, int]:
    """Latencies (s, from the *scheduled* send time), errors and connections opened."""
    pool = Pool(port)
    latencies: list[float] = []
    errors = 0
    interval = 1.0 / rate
    tasks: set[asyncio.Task[None]] = set()

    async def one(scheduled: float) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            result = await operation(conn)
        except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
            errors += 1
            name = type(exc).__name__
            ERRORS[name] = ERRORS.get(name, 0) + 1
            conn.close()
            return
        latencies.append(time.perf_counter() - scheduled)
        if not ok(result):
            errors += 1
        pool.put(conn)

    start = time.perf_counter()
    n = 0
    while True:
        scheduled = start + n * interval
        if scheduled - start >= seconds:
            break
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
        if sample is not None and n % max(1, int(rate)) == 0:
            sample(time.perf_counter() - start)
    await asyncio.gather(*tasks)
    pool.close()
    return latencies, errors, pool.opened


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


# ------------------------------------------------------------------ the server
class Server:
    """``python -m payment_http serve`` with its RSS sampled from /proc."""

    def __init__(self, database_url: str, workdir: Path, *, workers: bool, log_level: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "API_KEYS": API_KEY,
            "ENCRYPTION_KEYS": generate_key("bench"),
            "LOG_LEVEL": log_level,
            # Sized to the load (32 connections and the background work), as docs/operations.md
            # advises: overflow connections are opened and closed per use.
            "DB_POOL_SIZE": os.environ.get("BENCH_DB_POOL_SIZE", "40"),
        }
        env.pop("RABBITMQ_URL", None)
        args = [
            sys.executable,
            "-m",
            "payment_http",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        if not workers:
            args.append("--no-workers")
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=self.log
        )
        self.rss: list[tuple[float, float]] = []
        self._sampler: asyncio.Task[None] | None = None

    async def ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("the server exited at start; see server.log")
            try:
                conn = await Connection.open(self.port)
                status, _ = await conn.request("GET", "/health/ready")
                conn.close()
                if status == 200:
                    self._sampler = asyncio.create_task(self._sample())
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise SystemExit("the server was not ready in time")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    async def _sample(self) -> None:
        started = time.monotonic()
        while self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.rss.append((time.monotonic() - started, self.rss_mb()))
            await asyncio.sleep(0.5)

    async def stop(self) -> int:
        if self._sampler is not None:
            self._sampler.cancel()
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(self.process.wait, 60)
        self.log.close()
        return code


# ------------------------------------------------------------------ main
async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="each measurement")
    parser.add_argument("--soak", type=float, default=60, help="half load for RSS (5 min: 300)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pgbench-clients", type=int, default=16)
    parser.add_argument("--no-workers", action="store_true", help="serve --no-workers")
    parser.add_argument("--log-level", default="INFO", help="the server's LOG_LEVEL")
    parser.add_argument("--server", default=server_url(), help="PostgreSQL maintenance URL")
    args = parser.parse_args()

    db_bench = load_db_bench()

    url = await create_database("payments_bench_http", server=args.server)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(url, Path(tmp), workers=not args.no_workers, log_level=args.log_level)
        try:
            await server.ready()
            await max_rate(server.port, create, args.connections, 2)  # warm up
            rss_start = server.rss_mb()

            create_rate, create_errors = await max_rate(
                server.port, create, args.connections, args.seconds
            )
            print(f"max create-payment:         {create_rate:8.0f} req/s   errors {create_errors}")
            pair_rate, pair_errors = await max_rate(
                server.port, create_and_confirm, args.connections, args.seconds
            )
            print(
                f"max create + confirm:       {pair_rate:8.0f} pairs/s ({2 * pair_rate:.0f} req/s)"
                f"   errors {pair_errors}"
            )

            half = create_rate / 2
            latencies, paced_errors, opened = await paced(server.port, create, half, args.seconds)
            p50, p99, p999 = (percentile(latencies, q) * 1000 for q in (50, 99, 99.9))
            print(
                f"create at {half:5.0f} req/s (50%): p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
                f"p99.9 {p999:6.2f} ms  errors {paced_errors}  connections {opened}"
            )

            half_pairs = pair_rate / 2
            pair_lat, pair_paced_errors, _ = await paced(
                server.port, create_and_confirm, half_pairs, args.seconds
            )
            q50, q99 = (percentile(pair_lat, q) * 1000 for q in (50, 99))
            print(
                f"create+confirm at {half_pairs:5.0f} pairs/s: p50 {q50:6.2f} ms  p99 {q99:6.2f} ms"
                f"  errors {pair_paced_errors}"
            )

            soak_rss: list[tuple[float, float]] = []
            soak_lat, soak_errors, _ = await paced(
                server.port,
                create,
                half,
                args.soak,
                sample=lambda t: soak_rss.append((t, server.rss_mb())),
            )
            soak_p99 = percentile(soak_lat, 99) * 1000
            print(
                f"soak {args.soak:.0f} s at {half:.0f} req/s: p99 {soak_p99:6.2f} ms"
                f"  errors {soak_errors}"
            )
        finally:
            code = await server.stop()

        script = Path(tmp) / "create_payment.sql"
        script.write_text(db_bench.pgbench_script())
        pgbench = await db_bench.run_pgbench(url, script, args.pgbench_clients, int(args.seconds))
    await drop_database(url, server=args.server)

    peak = max(r for _, r in server.rss)
    window = max(1, len(soak_rss) // 5)
    first = statistics.mean(r for _, r in soak_rss[:window]) if soak_rss else float("nan")
    last = statistics.mean(r for _, r in soak_rss[-window:]) if soak_rss else float("nan")
    ratio = create_rate / pgbench
    errors = create_errors + pair_errors + paced_errors + pair_paced_errors + soak_errors
    results.update(
        create_rate=create_rate,
        pair_rate=pair_rate,
        p50_ms=p50,
        p99_ms=p99,
        pgbench=pgbench,
        ratio=ratio,
        errors=errors,
        rss_peak_mb=peak,
        rss_start_mb=rss_start,
        rss_soak_first_mb=first,
        rss_soak_last_mb=last,
        exit_code=code,
    )
    print()
    print(f"pgbench, same transaction ({args.pgbench_clients} clients): {pgbench:8.0f} tx/s")
    print(f"ratio create-payment / pgbench: {ratio:.2f}   (target >= {TARGETS['ratio']})")
    print(f"p99 at half load: {p99:.2f} ms   (target <= {TARGETS['p99_ms']} ms)")
    print(f"errors: {errors}   (target 0)")
    print(
        f"server RSS: start {rss_start:.0f} MB, peak {peak:.0f} MB, soak first {first:.0f} MB"
        f" -> last {last:.0f} MB   (target < {TARGETS['rss_mb']:.0f} MB, flat)"
    )
    print(f"server exit code after SIGTERM: {code}")
    if ERRORS:
        print(f"errors by kind: {ERRORS}")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}))


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(main())
    else:
        uvloop.run(main())
