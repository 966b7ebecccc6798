"""The outbox relay on PostgreSQL and the real RabbitMQ: order, sharing, wake-ups, outages."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import attrs
import httpx
import pytest
from faststream.rabbit import RabbitBroker
from sqlalchemy import func, select, update

from payment_adapters.background import run_background
from payment_adapters.bootstrap import Runtime
from payment_adapters.messaging.publishers import FastStreamPublisher, OutboxMessage
from payment_adapters.messaging.relay import OutboxRelay
from payment_adapters.settings import Settings
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.outbox import SqlOutbox
from payment_core.model.payment import Payment
from payment_core.money import Currency, Money
from payment_core.services import CreatePayment
from payment_http.app import create_app

from .conftest import (
    CIPHER_KEYS,
    Captured,
    RabbitAdmin,
    TcpProxy,
    eventually,
    first_occurrences,
    make_runtime,
)

pytestmark = pytest.mark.integration


@attrs.define
class Env:
    runtime: Runtime
    exchange: str
    capture: str
    settings: Settings


@pytest.fixture
async def env(postgres_url: str, rabbit: RabbitAdmin) -> AsyncIterator[Env]:
    exchange = rabbit.exchange("payments")
    capture = await rabbit.capture(exchange)
    settings = Settings(
        environment="test",
        database_url=postgres_url,
        rabbitmq_url=rabbit.url,
        payments_exchange=exchange,
    )
    runtime = make_runtime(postgres_url, settings)
    try:
        yield Env(runtime, exchange, capture, settings)
    finally:
        await runtime.aclose()


@pytest.fixture
async def broker(rabbit: RabbitAdmin) -> AsyncIterator[RabbitBroker]:
    broker = RabbitBroker(rabbit.url, logger=None)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()


async def make_history(runtime: Runtime, payments: int) -> list[UUID]:
    """Payments with several events each: created, confirmed (some declined), refunded."""
    services = runtime.services
    ids = []
    for i in range(payments):
        payment = await services.payments.create(
            CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=1_000 + i, currency="EUR")
        )
        method = "pm_card_chargeDeclined" if i % 5 == 4 else "pm_card_visa"
        payment = await services.payments.confirm(payment.id, method)
        if payment.status.value == "COMPLETED":
            await services.refunds.create(payment.id, 100)
        ids.append(payment.id)
    return ids


async def outbox_rows(runtime: Runtime) -> list[tuple[int, str, str, bool]]:
    assert runtime.database is not None
    async with runtime.database.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    t.outbox.c.sequence,
                    t.outbox.c.id,
                    t.outbox.c.stream_id,
                    t.outbox.c.published_at,
                ).order_by(t.outbox.c.sequence)
            )
        ).all()
    return [(r.sequence, str(r.id), str(r.stream_id), r.published_at is not None) for r in rows]


def per_stream(ids_in_order: list[tuple[str, str]]) -> dict[str, list[str]]:
    streams: dict[str, list[str]] = {}
    for event_id, stream in ids_in_order:
        streams.setdefault(stream, []).append(event_id)
    return streams


def assert_delivered_in_commit_order(
    captured: list[Captured], rows: list[tuple[int, str, str, bool]]
) -> None:
    kept = first_occurrences(captured)
    assert {m.id for m in kept} == {r[1] for r in rows}, "an event was lost"
    assert per_stream([(m.id, str(m.subject)) for m in kept]) == per_stream(
        [(r[1], r[2]) for r in rows]
    ), "a stream's events arrived out of commit order"


def relay_for(
    runtime: Runtime, broker: RabbitBroker, exchange: str, batch_size: int = 500
) -> OutboxRelay:
    assert runtime.database is not None
    return OutboxRelay(
        SqlOutbox(runtime.database.engine, runtime.database.cipher),
        FastStreamPublisher(broker, exchange=exchange),
        batch_size=batch_size,
    )


async def test_relay_publishes_every_committed_event_in_commit_order(
    env: Env, broker: RabbitBroker, rabbit: RabbitAdmin
) -> None:
    await make_history(env.runtime, 15)
    rows = await outbox_rows(env.runtime)
    published = await relay_for(env.runtime, broker, env.exchange, batch_size=20).drain()
    assert published == len(rows)
    captured = await rabbit.take(env.capture, at_least=len(rows))
    assert len(captured) == len(rows)
    assert_delivered_in_commit_order(captured, rows)
    assert all(r[3] for r in await outbox_rows(env.runtime)), "every row is marked published"


async def test_published_messages_carry_type_id_and_content_type(
    env: Env, broker: RabbitBroker, rabbit: RabbitAdmin
) -> None:
    payment = await env.runtime.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    await relay_for(env.runtime, broker, env.exchange).drain()
    [message] = await rabbit.take(env.capture, at_least=1)
    assert message.routing_key == message.type == "payment.initiated"
    assert message.content_type == "application/cloudevents+json"
    assert message.message_id == message.id
    assert message.subject == str(payment.id)
    assert message.persistent


async def test_a_rolled_back_change_publishes_nothing(
    env: Env, broker: RabbitBroker, rabbit: RabbitAdmin
) -> None:
    assert env.runtime.database is not None
    async with env.runtime.database.uow() as uow:
        payment = Payment.initiate(
            id=uuid4(),
            reference="pay_rolledback",
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=Money(100, Currency.of("EUR")),
            provider="fake",
            now=datetime.now(UTC),
            event_id=uuid4(),
        )
        await uow.payments.add(payment)
        await uow.rollback()
    assert await relay_for(env.runtime, broker, env.exchange).drain() == 0
    assert await rabbit.take(env.capture, settle=0.2) == []


async def test_two_relays_share_the_outbox_and_keep_each_streams_order(
    env: Env, rabbit: RabbitAdmin, postgres_url: str
) -> None:
    """Two relays (own engines, own broker connections) on one backlog, small batches."""
    await make_history(env.runtime, 40)
    rows = await outbox_rows(env.runtime)
    relays, brokers, runtimes = [], [], []
    for name in ("a", "b"):
        broker = RabbitBroker(rabbit.url, logger=None)
        await broker.connect()
        brokers.append(broker)
        runtime = make_runtime(postgres_url, env.settings)
        runtimes.append(runtime)
        publisher = SlowPublisher(FastStreamPublisher(broker, exchange=env.exchange))
        assert runtime.database is not None
        relays.append(
            OutboxRelay(
                SqlOutbox(runtime.database.engine, runtime.database.cipher),
                publisher,
                batch_size=7,
                name=name,
                held_back_wait=0.005,
            )
        )
    try:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run(stop)) for r in relays]

        async def all_published() -> bool:
            return all(r[3] for r in await outbox_rows(env.runtime))

        await eventually(all_published, within=30)
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        for broker in brokers:
            await broker.stop()
        for runtime in runtimes:
            await runtime.aclose()
    captured = await rabbit.take(env.capture, at_least=len(rows))
    assert_delivered_in_commit_order(captured, rows)
    assert len(captured) == len(rows), "nothing is published twice when nobody crashed"
    assert all(r.stats.published > 0 for r in relays), "both relays did part of the work"


@attrs.define
class SlowPublisher:
    """A publisher that takes a little while per message, so leases overlap."""

    inner: FastStreamPublisher

    async def publish_message(self, message: OutboxMessage) -> None:
        await asyncio.sleep(0.002)
        await self.inner.publish_message(message)


async def test_a_stream_whose_earlier_event_is_leased_elsewhere_is_held_back(
    env: Env,
) -> None:
    """While one lease holds event 1 of a payment, another lease must not offer event 2."""
    assert env.runtime.database is not None
    payment = await env.runtime.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    other = await env.runtime.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    outbox = SqlOutbox(env.runtime.database.engine, env.runtime.database.cipher)
    async with outbox.lease(1) as first:  # locks payment.initiated of `payment` only
        assert [m.stream_id for m in first.messages] == [payment.id]
        await env.runtime.services.payments.confirm(payment.id, "pm_card_visa")
        async with outbox.lease(10) as second:
            offered = [(m.stream_id, m.type) for m in second.messages]
            assert offered == [(other.id, "payment.initiated")]
            assert second.held_back == 1  # payment.completed waits for payment.initiated


async def test_a_stream_split_between_two_leases_stops_at_the_row_held_elsewhere(
    env: Env,
) -> None:
    """Two relays locking at once skip each other's rows, so one can hold events 1, 3 and 4
    of a payment and the other event 2: events 3 and 4 must wait for 2, not only 2 for 1."""
    assert env.runtime.database is not None
    services = env.runtime.services
    payment = await services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    await services.payments.confirm(payment.id, "pm_card_visa")
    await services.refunds.create(payment.id, 10)
    rows = [r for r in await outbox_rows(env.runtime) if r[2] == str(payment.id)]
    assert len(rows) == 4  # initiated, completed, refund initiated, refund completed
    engine = env.runtime.database.engine
    outbox = SqlOutbox(engine, env.runtime.database.cipher)
    async with engine.connect() as other, other.begin():
        # The other relay's lease holds event 2 only.
        await other.execute(
            select(t.outbox.c.sequence).where(t.outbox.c.sequence == rows[1][0]).with_for_update()
        )
        async with outbox.lease(10) as lease:
            assert [m.sequence for m in lease.messages] == [rows[0][0]]
            assert lease.held_back == 2
    async with outbox.lease(10) as lease:  # event 2 released: the whole stream, in order
        assert [m.sequence for m in lease.messages] == [r[0] for r in rows]


async def test_listen_notify_wakes_the_relay_at_once(
    env: Env, broker: RabbitBroker, rabbit: RabbitAdmin
) -> None:
    assert env.runtime.database is not None
    outbox = SqlOutbox(env.runtime.database.engine, env.runtime.database.cipher)
    listener = outbox.listener()
    assert listener is not None
    await listener.start()
    relay = OutboxRelay(
        outbox,
        FastStreamPublisher(broker, exchange=env.exchange),
        poll_interval=30.0,
        wakeups=listener,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:

        async def listening() -> bool:
            return listener.connected

        await eventually(listening, within=5)
        await asyncio.sleep(0.2)  # idle, waiting on a 30 s poll
        lags = []
        for _ in range(3):
            started = time.monotonic()
            await env.runtime.services.payments.create(
                CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
            )
            await rabbit.take(env.capture, at_least=1, within=5, settle=0)
            lags.append(time.monotonic() - started)
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
        await listener.close()
    assert max(lags) < 1.0, lags


_WRITER = """
import asyncio, os, sys
from uuid import uuid4
from payment_adapters.crypto import FieldCipher
from payment_adapters.sqlalchemy import Database
from payment_core.services import CreatePayment, Dependencies, ProviderRegistry, Services
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider

async def main():
    cipher = FieldCipher.from_keys(os.environ["WRITER_KEYS"])
    database = Database.from_url(os.environ["WRITER_URL"], cipher=cipher, pool_size=1)
    services = Services.build(Dependencies(
        uow=database.uow, providers=ProviderRegistry([FakeProvider()]),
        clock=SystemClock(), ids=SystemIds()))
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if line.strip() == "exit":
            break
        payment = await services.payments.create(
            CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR"))
        print(payment.id, flush=True)
    await database.dispose()

asyncio.run(main())
"""


async def test_a_commit_in_another_process_wakes_the_relay(
    env: Env, broker: RabbitBroker, rabbit: RabbitAdmin
) -> None:
    """Another process (an API worker) commits; this one's relay, polling every 30 s, is
    woken by that process's notification after the commit, and by the one a stopping
    process sends for its last commits."""
    assert env.runtime.database is not None
    outbox = SqlOutbox(env.runtime.database.engine, env.runtime.database.cipher)
    listener = outbox.listener()
    assert listener is not None
    await listener.start()
    relay = OutboxRelay(
        outbox,
        FastStreamPublisher(broker, exchange=env.exchange),
        poll_interval=30.0,
        wakeups=listener,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _WRITER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "WRITER_URL": env.settings.database_url, "WRITER_KEYS": CIPHER_KEYS},
    )
    assert writer.stdin is not None
    assert writer.stdout is not None
    try:

        async def listening() -> bool:
            return listener.connected

        await eventually(listening, within=5)
        await asyncio.sleep(0.2)  # the relay's first round is over: it waits on a 30 s poll
        for _ in range(3):
            writer.stdin.write(b"create\n")
            payment_id = (await asyncio.wait_for(writer.stdout.readline(), 30)).decode().strip()
            [message] = await rabbit.take(env.capture, at_least=1, within=10, settle=0)
            assert (message.type, message.subject) == ("payment.initiated", payment_id)
        writer.stdin.write(b"create\nexit\n")  # then stops at once
        payment_id = (await asyncio.wait_for(writer.stdout.readline(), 30)).decode().strip()
        assert await asyncio.wait_for(writer.wait(), 30) == 0
        [message] = await rabbit.take(env.capture, at_least=1, within=10, settle=0)
        assert message.subject == payment_id
    finally:
        if writer.returncode is None:
            writer.kill()
            await writer.wait()
        stop.set()
        await task
        await listener.close()


async def test_payments_are_created_during_a_broker_outage_and_delivered_after(
    env: Env, rabbit: RabbitAdmin, rabbit_proxy: TcpProxy
) -> None:
    """The fault test: RabbitMQ unreachable (connection cut and refused), payments created
    over the HTTP API all along; when it returns every event arrives, in order per payment."""
    settings = attrs.evolve(env.settings, rabbitmq_url=rabbit_proxy.url)
    env.runtime.settings = settings
    stop = asyncio.Event()
    background = asyncio.create_task(run_background(env.runtime, stop, consume_bookings=False))
    created: list[str] = []

    async def create_some(client: httpx.AsyncClient, n: int) -> None:
        for _ in range(n):
            response = await client.post(
                "/api/v1/payments",
                json={
                    "booking_id": str(uuid4()),
                    "guest_id": str(uuid4()),
                    "amount": 2_500,
                    "currency": "EUR",
                },
            )
            assert response.status_code == 201, response.text
            payment_id = response.json()["id"]
            confirmed = await client.post(f"/api/v1/payments/{payment_id}/confirm", json={})
            assert confirmed.status_code == 200, confirmed.text
            created.append(payment_id)

    try:
        transport = httpx.ASGITransport(app=create_app(env.runtime))  # this loop, no thread
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await create_some(client, 5)
            await rabbit.take(env.capture, at_least=10, within=10)
            await rabbit_proxy.stop()  # the broker goes away
            await create_some(client, 20)  # the API keeps working
            await asyncio.sleep(1.5)
            assert await unpublished(env.runtime) == 40
            await rabbit_proxy.start()  # it comes back

            async def all_published() -> bool:
                return await unpublished(env.runtime) == 0

            await eventually(all_published, within=30)
    finally:
        stop.set()
        await background
    rows = await outbox_rows(env.runtime)
    captured = await rabbit.take(env.capture, at_least=len(rows) - 10)
    first_five = rows[:10]
    everything = first_occurrences(
        [*[Captured(r[1], "", r[2], b"", "", None, None, True) for r in first_five], *captured]
    )
    assert_delivered_in_commit_order(everything, rows)
    assert len(rows) == 50


async def unpublished(runtime: Runtime) -> int:
    assert runtime.database is not None
    async with runtime.database.engine.connect() as conn:
        value = await conn.scalar(
            select(func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_(None))
        )
    return int(value or 0)


async def test_a_crashed_lease_is_published_again(
    env: Env, broker: RabbitBroker, rabbit: RabbitAdmin
) -> None:
    """Published but not marked (the relay died before its commit): sent again, in order."""
    await make_history(env.runtime, 3)
    rows = await outbox_rows(env.runtime)
    relay = relay_for(env.runtime, broker, env.exchange)
    await relay.drain()
    assert env.runtime.database is not None
    async with env.runtime.database.engine.begin() as conn:
        await conn.execute(update(t.outbox).values(published_at=None))
    await relay.drain()
    captured = await rabbit.take(env.capture, at_least=2 * len(rows))
    assert len(captured) == 2 * len(rows)
    assert_delivered_in_commit_order(captured, rows)


async def test_a_service_started_while_rabbitmq_is_down_delivers_once_it_is_up(
    env: Env, rabbit: RabbitAdmin, rabbit_proxy: TcpProxy
) -> None:
    await rabbit_proxy.stop()  # unreachable from the start
    env.runtime.settings = attrs.evolve(env.settings, rabbitmq_url=rabbit_proxy.url)
    stop = asyncio.Event()
    background = asyncio.create_task(run_background(env.runtime, stop, consume_bookings=False))
    try:
        await make_history(env.runtime, 3)
        await asyncio.sleep(1.0)
        assert await unpublished(env.runtime) > 0
        await rabbit_proxy.start()

        async def all_published() -> bool:
            return await unpublished(env.runtime) == 0

        await eventually(all_published, within=40)
    finally:
        stop.set()
        await background
    rows = await outbox_rows(env.runtime)
    assert_delivered_in_commit_order(await rabbit.take(env.capture, at_least=len(rows)), rows)
