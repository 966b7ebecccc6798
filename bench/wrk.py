"""Create-payment side by side, in one run, with ``wrk``: pgbench, the peer, and ``serve``.

One run, all on loopback, each side on a fresh PostgreSQL database of its own:

1. **pgbench** of the peer's four inserts (``limit_create_payment.sql``: the database's own
   limit for what a create writes) and of our create statement (``bench/db.py``'s script);
2. **the peer** (``../shared/bench-peer``: FastAPI + SQLAlchemy ORM, ``uvicorn --workers 2``);
3. **ours**: ``serve --workers 1``, ``serve --workers 2`` and ``serve --no-workers --workers 2``
   with a ``payment-service worker`` beside it; API keys on, the access log at ``INFO`` (as
   shipped), RabbitMQ on (exchanges and queues of the run's own, deleted at the end).

Each HTTP side gets ``wrk -t2 -c16 -d<seconds>s --latency`` with the peer's
``create_payment.lua`` (a fresh payment and ``Idempotency-Key`` per request), then the same at
about half of the rate it just reached (``wrk`` has no rate option: each connection waits
``16 / (rate / 2)`` seconds between requests, so this is a closed loop with think time, not
an open loop). Printed: requests/s, p50, p99, errors (non-2xx and socket errors), and the
RSS of every process of the side after the run. ``wrk`` is installed with ``apt-get`` when
missing (as root).

    .venv/bin/python bench/wrk.py [--seconds 15] [--peer-python /tmp/peervenv/bin/python]
        [--skip-peer] [--only "serve --workers 2"] [--soak 300]
"""

# ruff: noqa: E402 - sys.path is fixed (see below) before anything else is imported
from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http package (see that file).
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from payment_adapters.crypto import generate_key
from payment_adapters.sqlalchemy.testing import create_database, drop_database, server_url

ROOT = Path(__file__).resolve().parent.parent
PEER = (ROOT / ".." / "shared" / "bench-peer").resolve()
if not PEER.is_dir():
    PEER = Path("/work/shared/bench-peer")
API_KEY = "bench-key"
RABBIT = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors}


def paced_script(directory: Path, rate: float) -> Path:
    """The peer's script with a pause per connection: about ``rate`` requests/s over 16."""
    paced = directory / "paced.lua"
    wait_ms = 16 / rate * 1000
    script = PEER / "create_payment.lua"
    paced.write_text(f'dofile("{script}")\ndelay = function() return {wait_ms:.1f} end\n')
    return paced


def soak(wrk: str, port: int, pid: int, seconds: int, rate: float) -> dict[str, Any]:
    """``seconds`` at about ``rate``, the RSS of every process of the side sampled 10 times."""
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        process = subprocess.Popen(
            [
                wrk,
                "-t2",
                "-c16",
                f"-d{seconds}s",
                "-s",
                str(paced_script(Path(tmp), rate)),
                "--latency",
                f"http://127.0.0.1:{port}",
            ],
            env={**os.environ, "ACC_KEY": API_KEY},
            stdout=subprocess.PIPE,
            text=True,
        )
        started = time.monotonic()
        while process.poll() is None:
            samples.append((time.monotonic() - started, rss_mb(pid)))
            time.sleep(max(1.0, seconds / 10))
        out = process.communicate()[0]
    result = parse_wrk(out)
    print(
        f"soak {seconds} s: {result['rps']:.0f} req/s p50 {result['p50']:.1f} ms "
        f"p99 {result['p99']:.1f} ms errors {result['errors']:.0f}",
        flush=True,
    )
    for at, sizes in samples:
        print(f"  at {at:5.0f} s RSS MB {', '.join(f'{m:.0f}' for m in sizes)}", flush=True)
    return {**result, "rss_samples": samples}


def run_wrk(wrk: str, port: int, seconds: int, *, rate: float | None = None) -> dict[str, float]:
    script = PEER / "create_payment.lua"
    with tempfile.TemporaryDirectory() as tmp:
        if rate is not None:
            script = paced_script(Path(tmp), rate)
        out = subprocess.run(
            [
                wrk,
                "-t2",
                "-c16",
                f"-d{seconds}s",
                "-s",
                str(script),
                "--latency",
                f"http://127.0.0.1:{port}",
            ],
            env={**os.environ, "ACC_KEY": API_KEY},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return parse_wrk(out)


def rss_mb(pid: int) -> list[float]:
    """RSS of ``pid`` and of its children, in MB."""
    pids = [pid] + [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _ppid(int(p.name)) == pid
    ]
    sizes = []
    for each in pids:
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
            sizes += [int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:")]
    return sizes


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def wait_ready(port: int, path: str, process: subprocess.Popen[bytes], *, after: float = 0) -> None:
    import httpx  # noqa: PLC0415

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"exited at start ({process.returncode})")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                time.sleep(after)  # the other processes of the side finish starting
                return
        time.sleep(0.2)
    raise SystemExit("not ready in time")


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def measure(wrk: str, name: str, port: int, pid: int, seconds: int) -> dict[str, Any]:
    full = run_wrk(wrk, port, seconds)
    half = run_wrk(wrk, port, seconds, rate=full["rps"] / 2)
    result = {
        "name": name,
        **full,
        "half_rps": half["rps"],
        "half_p50": half["p50"],
        "half_p99": half["p99"],
        "half_errors": half["errors"],
        "rss": rss_mb(pid),
    }
    print(
        f"{name}: {full['rps']:.0f} req/s p50 {full['p50']:.1f} ms p99 {full['p99']:.1f} ms "
        f"errors {full['errors']:.0f}; at {half['rps']:.0f} req/s p50 {half['p50']:.1f} ms "
        f"p99 {half['p99']:.1f} ms errors {half['errors']:.0f}; RSS MB "
        f"{', '.join(f'{m:.0f}' for m in result['rss'])}",
        flush=True,
    )
    return result


# ------------------------------------------------------------------ pgbench
def pgbench(url: str, script: Path, seconds: int) -> float:
    parsed = make_url(url)
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-c",
            "16",
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            str(script),
            "-h",
            parsed.host or "127.0.0.1",
            "-p",
            str(parsed.port or 5432),
            "-U",
            parsed.username or "postgres",
            parsed.database or "",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(re.search(r"tps = ([0-9.]+) \(without", out).group(1))  # type: ignore[union-attr]


def psql(url: str, *args: str) -> None:
    parsed = make_url(url)
    subprocess.run(
        [
            "psql",
            "-q",
            "-h",
            parsed.host or "127.0.0.1",
            "-p",
            str(parsed.port or 5432),
            "-U",
            parsed.username or "postgres",
            "-d",
            parsed.database or "",
            *args,
        ],
        check=True,
        capture_output=True,
    )


# ------------------------------------------------------------------ the sides
def peer(wrk: str, python: str, server: str, seconds: int) -> tuple[dict[str, Any], float]:
    url = asyncio.run(create_database("peer_bench", server=server))
    try:
        psql(url, "-f", str(PEER / "limit_schema.sql"))
        limit = pgbench(url, PEER / "limit_create_payment.sql", seconds)
        print(f"pgbench, the peer's four inserts: {limit:.0f} tx/s", flush=True)
    finally:
        asyncio.run(drop_database(url, server=server))
    url = asyncio.run(create_database("peer_bench", server=server))
    try:
        dsn = (
            make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        )
        env = {**os.environ, "PEER_DSN": dsn}
        subprocess.run(
            [python, "-c", "import asyncio, app; asyncio.run(app.startup())"],
            cwd=PEER,
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        uvicorn = str(Path(python).parent / "uvicorn")
        process = subprocess.Popen(
            [
                uvicorn,
                "app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
                "--log-level",
                "warning",
            ],
            cwd=PEER,
            env=env,
        )
        try:
            wait_ready(port, "/docs", process, after=3)
            result = measure(
                wrk, "peer (FastAPI + ORM, uvicorn --workers 2)", port, process.pid, seconds
            )
        finally:
            stop(process)
    finally:
        asyncio.run(drop_database(url, server=server))
    return result, limit


def ours(
    wrk: str,
    server: str,
    seconds: int,
    workdir: Path,
    name: str,
    args: list[str],
    *,
    with_worker: bool,
    soak_seconds: int = 0,
) -> dict[str, Any]:
    suffix = secrets.token_hex(4)
    url = asyncio.run(create_database("payments_bench_wrk", server=server))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "API_KEYS": API_KEY,
        "ENCRYPTION_KEYS": generate_key("bench"),
        "ENVIRONMENT": "test",
        "DB_POOL_SIZE": "16",
        "RABBITMQ_URL": RABBIT,
        "PAYMENTS_EXCHANGE": f"bench.payments.{suffix}",
        "BOOKINGS_EXCHANGE": f"bench.bookings.{suffix}",
        "BOOKINGS_QUEUE": f"bench.bookings.{suffix}",
    }
    port = free_port()
    log = (workdir / f"serve-{suffix}.log").open("wb")
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "payment_http",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=log,
        )
    ]
    if with_worker:
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "payment_http", "worker"],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=log,
            )
        )
    try:
        wait_ready(port, "/health/ready", processes[0], after=5)
        result = measure(wrk, name, port, processes[0].pid, seconds)
        if soak_seconds:
            soak(wrk, port, processes[0].pid, soak_seconds, result["rps"] / 2)
        if with_worker:
            result["rss"] += rss_mb(processes[1].pid)
    finally:
        codes = [stop(p) for p in processes]
        log.close()
        asyncio.run(drop_database(url, server=server))
        asyncio.run(_delete_rabbit(suffix))
    result["exit"] = codes
    return result


async def _delete_rabbit(suffix: str) -> None:
    import aio_pika  # noqa: PLC0415

    connection = await aio_pika.connect(RABBIT)
    try:
        for queue in (
            f"bench.bookings.{suffix}",
            f"bench.bookings.{suffix}.dlq",
            f"bench.bookings.{suffix}.retry",
        ):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(queue)
        for exchange in (f"bench.payments.{suffix}", f"bench.bookings.{suffix}"):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--peer-python", default="/tmp/peervenv/bin/python")
    parser.add_argument("--server", default=server_url(), help="PostgreSQL maintenance URL")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--only", help="run only the side of ours with this name")
    parser.add_argument(
        "--soak", type=int, default=0, help="then this many seconds at about half rate, RSS sampled"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        flush=True,
    )
    results = []
    if not args.skip_peer:
        result, _ = peer(wrk, args.peer_python, args.server, args.seconds)
        results.append(result)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name, serve_args, worker in (
            ("serve --workers 1", ["--workers", "1"], False),
            ("serve --workers 2", ["--workers", "2"], False),
            ("serve --no-workers --workers 2 + worker", ["--no-workers", "--workers", "2"], True),
        ):
            if args.only and name != args.only:
                continue
            results.append(
                ours(
                    wrk,
                    args.server,
                    args.seconds,
                    workdir,
                    name,
                    serve_args,
                    with_worker=worker,
                    soak_seconds=args.soak,
                )
            )
    print()
    print("| side | req/s | p50 | p99 | errors | at half rate: req/s, p50, p99 | RSS per process |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    for r in results:
        errors = r["errors"] + r["half_errors"]
        print(
            f"| {r['name']} | {r['rps']:.0f} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | "
            f"{errors:.0f} | {r['half_rps']:.0f}, {r['half_p50']:.1f} ms, "
            f"{r['half_p99']:.1f} ms | {', '.join(f'{m:.0f}' for m in r['rss'])} MB |"
        )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
