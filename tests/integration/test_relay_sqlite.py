"""The outbox relay on SQLite: one relay at a time, in order; and delivery without a broker."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest
from faststream.rabbit import RabbitBroker
from sqlalchemy import select, update

from payment_adapters.background import run_background
from payment_adapters.bootstrap import Runtime
from payment_adapters.crypto import DecryptionError
from payment_adapters.messaging.codec import Envelope
from payment_adapters.messaging.publishers import FastStreamPublisher, InProcessPublisher
from payment_adapters.messaging.relay import OutboxRelay
from payment_adapters.settings import Settings
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.outbox import SqlOutbox
from payment_core.services import CreatePayment

from .conftest import RabbitAdmin, eventually, make_runtime

pytestmark = pytest.mark.integration


@pytest.fixture
async def runtime(sqlite_url: str) -> AsyncIterator[Runtime]:
    runtime = make_runtime(sqlite_url, Settings(environment="test", database_url=sqlite_url))
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def history(runtime: Runtime, payments: int) -> None:
    for i in range(payments):
        payment = await runtime.services.payments.create(
            CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100 + i, currency="EUR")
        )
        await runtime.services.payments.confirm(payment.id, "pm_card_visa")


async def outbox_order(runtime: Runtime) -> list[tuple[str, str]]:
    assert runtime.database is not None
    async with runtime.database.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t.outbox.c.id, t.outbox.c.stream_id).order_by(t.outbox.c.sequence)
            )
        ).all()
    return [(str(r.id), str(r.stream_id)) for r in rows]


def per_stream(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    streams: dict[str, list[str]] = {}
    for event_id, stream in pairs:
        streams.setdefault(stream, []).append(event_id)
    return streams


def lock_path(sqlite_url: str) -> str:
    return os.path.abspath(sqlite_url.split("///", 1)[1]) + ".relay-lock"


async def test_relay_publishes_in_commit_order_on_sqlite(
    runtime: Runtime, rabbit: RabbitAdmin
) -> None:
    exchange = rabbit.exchange("payments")
    capture = await rabbit.capture(exchange)
    await history(runtime, 10)
    broker = RabbitBroker(rabbit.url, logger=None)
    await broker.connect()
    try:
        assert runtime.database is not None
        relay = OutboxRelay(
            SqlOutbox(runtime.database.engine, runtime.database.cipher),
            FastStreamPublisher(broker, exchange=exchange),
        )
        assert await relay.drain() == 20
    finally:
        await broker.stop()
    captured = await rabbit.take(capture, at_least=20)
    assert per_stream([(m.id, str(m.subject)) for m in captured]) == per_stream(
        await outbox_order(runtime)
    )
    assert len(captured) == 20


async def test_only_one_relay_leases_at_a_time(runtime: Runtime, sqlite_url: str) -> None:
    """Another process's relay holds the lock file: this one leases nothing meanwhile."""
    await history(runtime, 2)
    assert runtime.database is not None
    outbox = SqlOutbox(runtime.database.engine, runtime.database.cipher)
    other = os.open(lock_path(sqlite_url), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        async with outbox.lease(10) as batch:
            assert list(batch.messages) == []
        fcntl.flock(other, fcntl.LOCK_UN)
        async with outbox.lease(10) as batch:
            assert len(batch.messages) == 4
    finally:
        os.close(other)
        outbox.close()


async def test_two_relays_in_one_process_take_turns(runtime: Runtime) -> None:
    await history(runtime, 15)
    assert runtime.database is not None
    bus = InProcessPublisher()
    seen: list[tuple[str, str | None]] = []

    async def record(envelope: Envelope) -> None:
        await asyncio.sleep(0)
        seen.append((envelope.id, envelope.subject))

    bus.subscribe("#", record)
    relays = [
        OutboxRelay(SqlOutbox(runtime.database.engine, runtime.database.cipher), bus, batch_size=4)
        for _ in range(2)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    expected = await outbox_order(runtime)

    async def all_seen() -> bool:
        return len(seen) >= len(expected)

    await eventually(all_seen)
    stop.set()
    await asyncio.gather(*tasks)
    assert len(seen) == len(expected), "each event once"
    assert per_stream([(i, str(s)) for i, s in seen]) == per_stream(expected), "in order"


async def test_without_a_broker_events_reach_in_process_subscribers(runtime: Runtime) -> None:
    bus = InProcessPublisher()
    seen: list[str] = []

    async def record(envelope: Envelope) -> None:
        seen.append(envelope.type)

    bus.subscribe("payment.*", record)
    stop = asyncio.Event()
    background = asyncio.create_task(run_background(runtime, stop, consume_bookings=True, bus=bus))
    try:
        await history(runtime, 1)

        async def delivered() -> bool:
            return len(seen) == 2

        await eventually(delivered, within=5)
    finally:
        stop.set()
        await background
    assert seen == ["payment.initiated", "payment.completed"]


async def test_a_body_that_does_not_open_holds_back_its_stream_only(runtime: Runtime) -> None:
    """Outbox bodies are sealed and opened as they are published: one that was altered (or is
    under a key no longer configured) stops its own payment's events, not the others'."""
    await history(runtime, 2)
    assert runtime.database is not None
    streams = per_stream(await outbox_order(runtime))
    broken, intact = streams
    target = UUID(streams[broken][0])
    async with runtime.database.engine.begin() as conn:
        body = bytes(
            (
                await conn.execute(select(t.outbox.c.body).where(t.outbox.c.id == target))
            ).scalar_one()
        )
        assert not body.startswith(b"{")  # sealed, not the JSON it carries
        altered = body[:-1] + bytes([body[-1] ^ 1])
        await conn.execute(update(t.outbox).where(t.outbox.c.id == target).values(body=altered))
    bus = InProcessPublisher()
    seen: list[str] = []

    async def record(envelope: Envelope) -> None:
        seen.append(envelope.id)

    bus.subscribe("#", record)
    outbox = SqlOutbox(runtime.database.engine, runtime.database.cipher)
    try:
        result = await OutboxRelay(outbox, bus).relay_once()
    finally:
        outbox.close()
    assert isinstance(result.error, DecryptionError)
    assert seen == streams[intact]
    assert result.published == len(streams[intact])
