"""End-to-end: ``payment-service serve`` started as a real process, driven over HTTP.

``service`` is parametrised over SQLite (a file in a temporary directory) and PostgreSQL (a
fresh database on the local server, dropped afterwards; an unreachable server is an error,
never a skip). One process per backend serves the module; tests that stop a process start
their own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from tests import _leakscan

from payment_adapters.crypto import generate_key
from payment_adapters.sqlalchemy.testing import create_database, drop_database

pytestmark = pytest.mark.e2e
T = TypeVar("T")

API_KEY = "e2e-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
WEBHOOK_SECRET = "whsec_e2e"
START_TIMEOUT = 60.0
_leakscan.register_secret(API_KEY, WEBHOOK_SECRET)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a loop of its own (callers may be inside a loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """One ``python -m payment_http serve`` process."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        args: Sequence[str] = (),
        boot: str | None = None,
        **env: str,
    ) -> None:
        self.args = tuple(args)
        #: Python source run as ``python -c`` in place of ``python -m payment_http`` (a test
        #: harness around the real entry point, such as a journaling fake provider).
        self.boot = boot
        self.database_url = database_url
        self.workdir = workdir
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "API_KEYS": API_KEY,
            "ENCRYPTION_KEYS": env.pop("ENCRYPTION_KEYS", generate_key("e2e")),
            "FAKE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.env.pop("RABBITMQ_URL", None)
        _leakscan.register_env(self.env)  # keys a test passes in too
        self.process: subprocess.Popen[bytes] | None = None
        self.signalled = False
        self.log = workdir / f"service-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, command: str = "serve") -> Service:
        """Start the process (``serve`` or ``worker``) without waiting for it to be ready."""
        # What the process writes (stdout and stderr both go to the file) is scanned as it grows.
        _leakscan.watch_file(self.log)
        launcher = ["-m", "payment_http"] if self.boot is None else ["-c", self.boot]
        args = [sys.executable, *launcher, command]
        if command == "serve":
            args += ["--host", "127.0.0.1", "--port", str(self.port), *self.args]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                args, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def start(self) -> Service:
        self.spawn()
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited at start:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the service was not ready in {START_TIMEOUT} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the exit code."""
        assert self.process is not None
        if self.process.poll() is None and not self.signalled:
            self.signal()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def signal(self) -> None:
        """SIGTERM once (a second one means "stop waiting for requests in flight")."""
        assert self.process is not None
        self.signalled = True
        self.process.send_signal(signal.SIGTERM)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            timeout=30,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            event_hooks={"response": [_leakscan.scan_response]},  # every answer is scanned
        )


class Backend:
    """Where a service keeps its data: makes database URLs and cleans them up."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.created: list[str] = []

    def new_database(self) -> str:
        if self.name == "sqlite":
            path = self.workdir / f"payments-{len(self.created)}.db"
            url = f"sqlite+aiosqlite:///{path}"
        else:
            url = run_sync(create_database("payments_e2e"))
        self.created.append(url)
        return url

    def cleanup(self) -> None:
        if self.name == "postgres":
            for url in self.created:
                run_sync(drop_database(url))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    backend = Backend(request.param, tmp_path_factory.mktemp(f"e2e-{request.param}"))
    yield backend
    backend.cleanup()


@pytest.fixture(scope="module")
def service(backend: Backend) -> Iterator[Service]:
    """A running service for the module (one per backend)."""
    svc = Service(backend.new_database(), backend.workdir).start()
    yield svc
    code = svc.terminate()
    assert code == 0, svc.output()


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client() as http:
        yield http
