"""In-process HTTP tests: the Litestar app over a runtime, driven with ``AsyncTestClient``.

``runtime`` is parametrised over the in-memory harness (``memory``) and a real SQLite file
(``sqlite``: the SQLAlchemy adapter, migrated once per run into a template that each test
copies). Tests that are about HTTP rather than storage use ``memory_runtime`` only.
``make_api("postgres")`` serves from a PostgreSQL database made and migrated once per run,
emptied for each test, for the few HTTP tests that must hold on every database.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import attrs
import pytest
import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from tests import _leakscan

from payment_adapters.bootstrap import Runtime, bootstrap, bootstrap_in_memory
from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.settings import Settings
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.testing import create_database, drop_database, server_url
from payment_core.testing import FakeProvider
from payment_http.app import create_app
from payment_http.logging import configure_logging
from payment_http.metrics import Metrics

API_KEY = "test-key-1"
OTHER_KEY = "test-key-2"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
BACKENDS = ["memory", "sqlite"]


def settings(**overrides: Any) -> Settings:
    """Test settings: two API keys, everything else at the contract's defaults."""
    values: dict[str, Any] = {"environment": "test", "api_keys": (API_KEY, OTHER_KEY)}
    values.update(overrides)
    config = Settings(**values)
    # Its keys and webhook secret (the fake's default, whsec_fake) must never be logged.
    _leakscan.register_settings(config)
    return config


def new_id() -> str:
    return str(uuid.uuid4())


def payment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "booking_id": new_id(),
        "guest_id": new_id(),
        "amount": 12500,
        "currency": "EUR",
    }
    body.update(overrides)
    return body


def invoice_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "booking_id": new_id(),
        "guest_id": new_id(),
        "currency": "EUR",
        "due_date": "2026-12-31",
        "line_items": [
            {"description": "Room", "quantity": 2, "unit_amount": 10000, "tax_rate_bps": 1000}
        ],
        "notes": "two nights",
    }
    body.update(overrides)
    return body


# ------------------------------------------------------------------ SQLite runtimes


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, made once; each test gets a copy."""

    path = tmp_path_factory.mktemp("template") / "payments.db"

    async def migrate() -> None:
        database = Database.from_url(
            f"sqlite+aiosqlite:///{path}", cipher=FieldCipher.from_keys(generate_key("t"))
        )
        await database.migrate()
        await database.dispose()

    # Session fixtures may be asked for from inside a running loop: migrate in a thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate()).result()
    return path


async def sqlite_runtime(
    template: Path, directory: Path, config: Settings, *, observer: Any = None
) -> Runtime:
    """The real composition root over a copy of the template database."""
    path = directory / f"payments-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, path)
    config = attrs.evolve(
        config,
        database_url=f"sqlite+aiosqlite:///{path}",
        encryption_keys=generate_key("test"),
        db_pool_size=4,
    )
    _leakscan.register_settings(config)
    return await bootstrap(config, observer=observer, migrate=False)


async def _migrate(url: str) -> None:
    database = Database.from_url(url, cipher=FieldCipher.from_keys(generate_key("t")))
    try:
        await database.migrate()
    finally:
        await database.dispose()


def _aside(coroutine: Any) -> Any:
    # Session fixtures may be asked for from inside a running loop: run it in a thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this run; unreachable is a failure, never a skip."""
    try:
        url = _aside(create_database("payments_test_http"))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at {server_url()}: {type(exc).__name__}: {exc}")
    try:
        _aside(_migrate(url))
        yield url
    finally:
        _aside(drop_database(url))


async def postgres_runtime(url: str, config: Settings, *, observer: Any = None) -> Runtime:
    """The real composition root over the run's PostgreSQL database, emptied first."""
    config = attrs.evolve(
        config, database_url=url, encryption_keys=generate_key("test"), db_pool_size=4
    )
    _leakscan.register_settings(config)
    runtime = await bootstrap(config, observer=observer, migrate=False)
    assert runtime.database is not None
    async with runtime.database.engine.begin() as conn:
        names = ", ".join(table.name for table in t.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    # The test client serves on a loop of its own: no pooled connection may cross over.
    await runtime.database.engine.dispose()
    return runtime


# ------------------------------------------------------------------ fixtures


@attrs.define
class Api:
    """An app, a client on it, and the runtime under it."""

    runtime: Runtime
    app: Litestar
    client: AsyncTestClient[Litestar]
    metrics: Metrics

    @property
    def backend(self) -> str:
        database = self.runtime.database
        if database is None:
            return "memory"
        return "postgres" if database.dialect_name == "postgresql" else "sqlite"

    @property
    def provider(self) -> FakeProvider:
        provider = self.runtime.services.deps.providers.get("fake")
        assert isinstance(provider, FakeProvider)
        return provider

    async def create_payment(self, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/payments", json=payment_body(**overrides), headers=AUTH
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def completed_payment(
        self, method: str = "pm_card_visa", **overrides: Any
    ) -> dict[str, Any]:
        payment = await self.create_payment(**overrides)
        response = await self.client.post(
            f"/api/v1/payments/{payment['id']}/confirm",
            json={"payment_method": method},
            headers=AUTH,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


MakeApi = Callable[..., Any]


@pytest.fixture
async def make_api(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_api(backend, **settings)``: an Api (closed at the end of the test)."""
    opened: list[tuple[Api, Any]] = []

    async def make(backend: str = "memory", **overrides: Any) -> Api:
        config = settings(**overrides)
        metrics = Metrics()
        if backend == "memory":
            runtime = bootstrap_in_memory(config, observer=metrics.observer)
        elif backend == "postgres":
            url = request.getfixturevalue("postgres_url")
            runtime = await postgres_runtime(url, config, observer=metrics.observer)
        else:
            template = request.getfixturevalue("sqlite_template")
            runtime = await sqlite_runtime(template, tmp_path, config, observer=metrics.observer)
        app = create_app(runtime, metrics=metrics)
        client: AsyncTestClient[Litestar] = AsyncTestClient(app)
        # Every response is scanned: a refused card number must not come back, nor any key.
        client.event_hooks = {
            **client.event_hooks,
            "response": [*client.event_hooks["response"], _leakscan.scan_response],
        }
        await client.__aenter__()
        api = Api(runtime, app, client, metrics)
        opened.append((api, client))
        return api

    yield make
    for api, client in reversed(opened):
        await client.__aexit__(None, None, None)
        await api.runtime.aclose()


@pytest.fixture(params=BACKENDS)
async def api(request: pytest.FixtureRequest, make_api: Callable[..., Any]) -> Api:
    """The app over each backend."""
    return await make_api(request.param)  # type: ignore[no-any-return]


@pytest.fixture
async def mem(make_api: Callable[..., Any]) -> Api:
    """The app over the in-memory harness only (HTTP behaviour that storage cannot change)."""
    return await make_api("memory")  # type: ignore[no-any-return]


@pytest.fixture
def pan() -> Iterator[str]:
    """A Luhn-valid test card number."""
    return "4242424242424242"


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The service's real log configuration, writing into ``capsys`` for this test only."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", json=True)
    yield capsys
    structlog.reset_defaults()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
