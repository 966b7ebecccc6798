"""Real RabbitMQ (127.0.0.1:5672) and PostgreSQL (127.0.0.1:5432) for the events suites.

Both must be running: a missing server fails the tests that need it, it never skips them
(``TEST_RABBITMQ_URL`` and ``TEST_POSTGRES_URL`` point elsewhere). The broker is shared with
other suites, so every test declares exchanges and queues with a unique suffix and deletes
them at the end; every PostgreSQL test gets its own database, copied from a migrated
template made once per run.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import aio_pika
import asyncpg
import attrs
import pytest
from sqlalchemy.engine import make_url

from payment_adapters.bootstrap import Runtime, service_config
from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.settings import Settings
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy.testing import drop_database, server_url
from payment_core.services import Dependencies, NullObserver, ProviderRegistry, Services
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider

T = TypeVar("T")

RABBIT_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
CIPHER_KEYS = generate_key("events")
CIPHER = FieldCipher.from_keys(CIPHER_KEYS)


def run_aside(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a private loop in another thread (for session fixtures)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# ====================================================================== RabbitMQ


@pytest.fixture(scope="session")
def rabbit_url() -> str:
    async def check() -> None:
        connection = await aio_pika.connect(RABBIT_URL, timeout=5)
        await connection.close()

    try:
        run_aside(check())
    except Exception as exc:
        pytest.fail(f"RabbitMQ is not reachable at {RABBIT_URL}: {type(exc).__name__}: {exc}")
    return RABBIT_URL


@attrs.define
class Captured:
    """A message seen by a test-side queue, in arrival order."""

    id: str
    type: str
    subject: str | None
    body: bytes
    routing_key: str
    content_type: str | None
    message_id: str | None
    persistent: bool


class RabbitAdmin:
    """Names, test-side queues and clean-up on the shared broker."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.suffix = secrets.token_hex(4)
        self.exchanges: list[str] = []
        self.queues: list[str] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None

    async def connect(self) -> None:
        self._connection = await aio_pika.connect(self.url, timeout=5)
        self._channel = await self._connection.channel()

    @property
    def channel(self) -> aio_pika.abc.AbstractChannel:
        assert self._channel is not None
        return self._channel

    def exchange(self, base: str) -> str:
        name = f"test.{base}.{self.suffix}"
        self.exchanges.append(name)
        return name

    def queue(self, base: str) -> str:
        name = f"test.{base}.{self.suffix}"
        self.queues.append(name)
        # The consumer's DLQ and retry queue follow the queue's name.
        self.queues += [f"{name}.dlq", f"{name}.retry"]
        return name

    async def capture(self, exchange: str, binding: str = "#") -> str:
        """A queue bound to ``exchange`` (declared durable topic, as the service does)."""
        ex = await self.channel.declare_exchange(
            exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        name = self.queue(f"capture-{len(self.queues)}")
        queue = await self.channel.declare_queue(name, durable=True)
        await queue.bind(ex, routing_key=binding)
        return name

    async def publish(
        self, exchange: str, routing_key: str, body: bytes, *, message_id: str | None = None
    ) -> None:
        ex = await self.channel.declare_exchange(
            exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        await ex.publish(
            aio_pika.Message(
                body,
                content_type="application/cloudevents+json",
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )

    async def take(
        self, queue: str, *, at_least: int = 0, within: float = 10.0, settle: float = 0.3
    ) -> list[Captured]:
        """Every message in ``queue``; waits for ``at_least`` of them, then ``settle`` of quiet."""
        q = await self.channel.declare_queue(queue, passive=True)
        seen: list[Captured] = []
        deadline = time.monotonic() + within
        quiet_since = time.monotonic()
        while True:
            message = await q.get(no_ack=True, fail=False)
            if message is not None:
                seen.append(_captured(message))
                quiet_since = time.monotonic()
                continue
            now = time.monotonic()
            if len(seen) >= at_least and now - quiet_since >= settle:
                return seen
            if now > deadline:
                return seen
            await asyncio.sleep(0.02)

    async def exists(self, queue: str) -> bool:
        """Whether ``queue`` is declared (a failed passive declare closes only its channel)."""
        assert self._connection is not None
        channel = await self._connection.channel()
        try:
            await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return False
        await channel.close()
        return True

    async def consumers(self, queue: str) -> int:
        """How many consumers ``queue`` has (0 when it does not exist yet)."""
        assert self._connection is not None
        channel = await self._connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return 0
        await channel.close()
        return int(declared.declaration_result.consumer_count or 0)

    async def count(self, queue: str) -> int:
        q = await self.channel.declare_queue(queue, passive=True)
        return int(q.declaration_result.message_count or 0)

    async def close(self) -> None:
        if self._connection is None:
            return
        channel = await self._connection.channel()
        for name in self.queues:
            try:
                await channel.queue_delete(name)
            except Exception:
                channel = await self._connection.channel()
        for name in self.exchanges:
            try:
                await channel.exchange_delete(name)
            except Exception:
                channel = await self._connection.channel()
        await self._connection.close()


def _captured(message: aio_pika.abc.AbstractIncomingMessage) -> Captured:
    try:
        envelope = json.loads(message.body)
    except ValueError:
        envelope = {}
    if not isinstance(envelope, dict):
        envelope = {}
    return Captured(
        id=str(envelope.get("id")),
        type=str(envelope.get("type")),
        subject=envelope.get("subject"),
        body=message.body,
        routing_key=message.routing_key or "",
        content_type=message.content_type,
        message_id=message.message_id,
        persistent=message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
    )


@pytest.fixture
async def rabbit(rabbit_url: str) -> AsyncIterator[RabbitAdmin]:
    admin = RabbitAdmin(rabbit_url)
    await admin.connect()
    try:
        yield admin
    finally:
        await admin.close()


class TcpProxy:
    """A TCP forwarder (to RabbitMQ or PostgreSQL) that a test can cut (an outage) and
    restore."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def drop(self) -> None:
        """Drop the open connections, as a network blip does; new ones are accepted."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def rabbit_proxy(rabbit_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(rabbit_url.replace("amqp://", "postgresql://", 1))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5672)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


# ====================================================================== databases


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _migrate(url: str) -> None:
    database = Database.from_url(url, cipher=CIPHER)
    try:
        await database.migrate()
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated database to copy; its name."""
    name = f"events_tmpl_{secrets.token_hex(6)}"

    async def create() -> None:
        conn = await asyncpg.connect(_dsn(server_url()), timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    try:
        run_aside(create())
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {server_url()}: {type(exc).__name__}")
    url = make_url(server_url()).set(drivername="postgresql+asyncpg", database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        run_aside(_migrate(rendered))
        yield name
    finally:
        run_aside(drop_database(rendered))


@pytest.fixture
async def postgres_url(postgres_template: str) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"events_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(_dsn(server_url()), timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    finally:
        await conn.close()
    url = make_url(server_url()).set(drivername="postgresql+asyncpg", database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        yield rendered
    finally:
        await drop_database(rendered)


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    await _migrate(url)
    return url


def make_runtime(
    url: str,
    settings: Settings | None = None,
    *,
    pool_size: int = 10,
    provider: FakeProvider | None = None,
) -> Runtime:
    """The services over a SQL database and the fake provider (what ``bootstrap`` builds)."""
    settings = settings or Settings(environment="test", database_url=url)
    database = Database.from_url(url, cipher=CIPHER, pool_size=pool_size)
    deps = Dependencies(
        uow=database.uow,
        providers=ProviderRegistry([provider or FakeProvider()]),
        clock=SystemClock(),
        ids=SystemIds(),
        config=service_config(settings),
    )
    return Runtime(
        settings=settings,
        services=Services.build(deps),
        idempotency=database.idempotency,
        observer=NullObserver(),
        database=database,
        cipher=CIPHER,
    )


def envelope(event_type: str, data: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """A booking-service CloudEvent."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(UUID(bytes=secrets.token_bytes(16))),
            "source": "booking-service",
            "type": event_type,
            "time": "2026-11-28T10:00:00Z",
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 10.0, every: float = 0.02
) -> None:
    """Wait until ``check()`` holds; fail the test after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling a database or a broker
            await asyncio.sleep(every)


def first_occurrences(captured: list[Captured]) -> list[Captured]:
    """What a consumer that deduplicates by event id keeps, in arrival order."""
    seen: set[str] = set()
    kept = []
    for message in captured:
        if message.id not in seen:
            seen.add(message.id)
            kept.append(message)
    return kept
