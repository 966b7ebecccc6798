"""Property-based tests of the live API against its own published OpenAPI schema.

The real stack (the composition root over a SQLite file) is served by uvicorn on a free
loopback port in a thread; schemathesis reads ``/schema/openapi.json`` from it and sends a
bounded number of generated requests (valid and invalid) per operation, checking that none
is answered with a 5xx, that every response matches its documented schema and that every
status code is documented.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from tests.http.conftest import AUTH
from tests.http.conftest import settings as make_settings

from payment_adapters.bootstrap import bootstrap, bootstrap_in_memory
from payment_adapters.crypto import generate_key
from payment_http.app import create_app

MAX_EXAMPLES = 25


class LiveServer:
    """uvicorn serving the real app in a thread, on a socket bound before it starts."""

    def __init__(self, directory: Path) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.settings = make_settings(
            database_url=f"sqlite+aiosqlite:///{directory}/live.db",
            encryption_keys=generate_key("live"),
        )
        self.started = threading.Event()
        self.server: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self.error = exc
            self.started.set()

    async def _serve(self) -> None:
        runtime = await bootstrap(self.settings, migrate=True)
        try:
            config = uvicorn.Config(
                create_app(runtime), log_config=None, access_log=False, lifespan="on"
            )
            self.server = uvicorn.Server(config)
            loop = asyncio.get_running_loop()
            loop.call_later(0.2, self.started.set)
            await self.server.serve(sockets=[self.sock])
        finally:
            await runtime.aclose()

    def __enter__(self) -> LiveServer:
        self.thread.start()
        assert self.started.wait(30), "the live server did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *_: object) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("live")) as server:
        yield server


def _published_schema() -> dict[str, Any]:
    """The schema the app publishes (the same app as the live server's, over memory)."""
    return dict(create_app(bootstrap_in_memory(make_settings())).openapi_schema.to_schema())


# Generated from at collection time (schemathesis' lazy fixture loader does not run on this
# pytest); the first test checks that the live server publishes exactly this document.
PUBLISHED = _published_schema()
schema = schemathesis.openapi.from_dict(PUBLISHED)
schema.config.generation.update(max_examples=MAX_EXAMPLES)


def test_the_live_server_publishes_the_schema_under_test(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/schema/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(PUBLISHED))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_schema(case: Any, live_server: LiveServer) -> None:
    """No 5xx, no response off its schema, no undocumented status code."""
    case.call_and_validate(
        base_url=live_server.url,
        headers=AUTH,
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
    )
