"""Starting while PostgreSQL is down: ``serve`` and ``worker`` wait for it, then start.

The service is pointed at a TCP proxy port where nothing listens yet (every connection is
refused, as from a database that is still down); the proxy opens later, and the same process
becomes ready without a restart. ``migrate`` is a one-shot command and fails at once instead.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from tests.e2e.conftest import AUTH, START_TIMEOUT, Service, free_port
from tests.integration.conftest import TcpProxy

from payment_adapters.crypto import generate_key
from payment_adapters.sqlalchemy.testing import create_database, drop_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: What the process logs when it starts waiting, and when the database answers.
WAITING = "the database is unavailable"
AVAILABLE = "the database is available after"


class DownDatabase:
    """A fresh PostgreSQL database, reached through a proxy that is closed until ``open()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        real = make_url(url)
        self.proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
        self.proxy.port = free_port()  # nothing listens there yet: connections are refused
        self.proxied_url = real.set(host="127.0.0.1", port=self.proxy.port).render_as_string(
            hide_password=False
        )

    async def open(self) -> None:
        await self.proxy.start()

    async def migrated(self) -> bool:
        engine = create_async_engine(self.url)
        try:
            async with engine.connect() as conn:
                found = await conn.execute(text("SELECT to_regclass('alembic_version')"))
                return found.scalar() is not None
        finally:
            await engine.dispose()


@pytest.fixture
async def down() -> AsyncIterator[DownDatabase]:
    database = DownDatabase(await create_database("payments_e2e"))
    try:
        yield database
    finally:
        await database.proxy.stop()
        await drop_database(database.url)


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within} s: {what}")


def alive(service: Service) -> bool:
    assert service.process is not None
    return service.process.poll() is None


async def test_serve_waits_for_postgresql_then_becomes_ready_without_a_restart(
    down: DownDatabase, tmp_path: Path
) -> None:
    service = Service(down.proxied_url, tmp_path).spawn()
    try:
        async with service.client() as http:

            async def answers() -> bool:
                assert alive(service), service.output()
                try:
                    return (await http.get("/health/live")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(answers, START_TIMEOUT, "the HTTP API answers")
            # Several tries of the backoff (0.5 s, 1 s, 2 s, ...) while the database is down.
            for _ in range(6):
                ready = await http.get("/health/ready")
                assert ready.status_code == 503
                assert ready.headers["content-type"].startswith("application/problem+json")
                assert ready.json()["code"] == "service_unavailable"
                assert ready.json()["checks"] == {"database": "down"}
                assert "database" in ready.json()["detail"]
                await asyncio.sleep(0.5)
            # The API refuses what it could not do, and says why; nothing is accepted.
            refused = await http.post(
                "/api/v1/payments",
                json={"booking_id": "x", "guest_id": "y", "amount": 1, "currency": "EUR"},
                headers=AUTH,
            )
            assert refused.status_code == 503
            assert refused.json()["code"] == "service_unavailable"
            assert "database" in refused.json()["detail"]
            assert refused.headers["retry-after"] == "1"
            assert alive(service)

            await down.open()

            async def is_ready() -> bool:
                return (await http.get("/health/ready")).status_code == 200

            await eventually(is_ready, 30, "ready once the database answers")
            created = await http.post(
                "/api/v1/payments",
                json={
                    "booking_id": "0b7f2c4e-2a55-4c55-9f6e-6c4a3c1d2e01",
                    "guest_id": "9d3c1b2a-1f0e-4d3c-8b2a-1f0e9d8c7b6a",
                    "amount": 12500,
                    "currency": "EUR",
                },
                headers=AUTH,
            )
            assert created.status_code == 201, created.text  # migrated, and serving
        assert await down.migrated()
    finally:
        code = await asyncio.to_thread(service.terminate)
    assert code == 0, service.output()
    log = service.output()
    assert log.count(WAITING) == 1, log  # said once, not once per try
    assert log.count(AVAILABLE) == 1, log


async def test_worker_waits_for_postgresql_then_migrates_and_runs(
    down: DownDatabase, tmp_path: Path
) -> None:
    worker = Service(down.proxied_url, tmp_path).spawn("worker")
    try:
        await eventually(
            lambda: asyncio.sleep(0, result=WAITING in worker.output()), 30, "it says it waits"
        )
        await asyncio.sleep(3.5)  # 0.5 + 1 + 2 s: at least three more tries
        assert alive(worker), worker.output()
        assert worker.output().count(WAITING) == 1, worker.output()
        assert not await down.migrated()

        await down.open()
        await eventually(down.migrated, 30, "the worker migrates once the database answers")
        await eventually(
            lambda: asyncio.sleep(0, result=AVAILABLE in worker.output()), 10, "it says so"
        )
        assert alive(worker), worker.output()
    finally:
        code = await asyncio.to_thread(worker.terminate)
    assert code == 0, worker.output()


async def test_sigterm_while_waiting_for_postgresql_exits_0(
    down: DownDatabase, tmp_path: Path
) -> None:
    for command in ("serve", "worker"):
        process = Service(down.proxied_url, tmp_path).spawn(command)
        await eventually(
            lambda p=process: asyncio.sleep(0, result=WAITING in p.output()),
            30,
            f"{command} waits",
        )
        started = time.monotonic()
        assert await asyncio.to_thread(process.terminate) == 0, process.output()
        assert time.monotonic() - started < 10


def test_migrate_fails_at_once_when_postgresql_is_down(tmp_path: Path) -> None:
    """A one-shot command: the deployment that runs it retries, not the command."""
    environ = {k: v for k, v in os.environ.items() if k not in {"RABBITMQ_URL", "API_KEYS"}}
    environ.update(
        {
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/payments",
            "ENCRYPTION_KEYS": generate_key("m"),
        }
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "payment_http", "migrate"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 30
    assert "migrate failed: ConnectionRefusedError" in result.stderr
