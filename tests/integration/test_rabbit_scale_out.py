"""Two processes' worth of background work (two relays, two consumers, own connections) on
one PostgreSQL database and one RabbitMQ: nothing lost, nothing handled twice, order kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest
from sqlalchemy import func, select

from payment_adapters.background import BackgroundWork
from payment_adapters.bootstrap import Runtime
from payment_adapters.messaging.consumer import BookingTopology
from payment_adapters.settings import Settings
from payment_adapters.sqlalchemy import tables as t

from .conftest import RabbitAdmin, envelope, eventually, first_occurrences, make_runtime

pytestmark = pytest.mark.integration


@attrs.define
class Cluster:
    settings: Settings
    topology: BookingTopology
    capture: str
    runtimes: list[Runtime]
    works: list[BackgroundWork]


@pytest.fixture
async def cluster(postgres_url: str, rabbit: RabbitAdmin) -> AsyncIterator[Cluster]:
    payments = rabbit.exchange("payments")
    capture = await rabbit.capture(payments)
    topology = BookingTopology(
        exchange=rabbit.exchange("bookings"),
        queue=rabbit.queue("bookings"),
        retry_delay_ms=200,
    )
    settings = Settings(
        environment="test",
        database_url=postgres_url,
        rabbitmq_url=rabbit.url,
        payments_exchange=payments,
        bookings_exchange=topology.exchange,
        bookings_queue=topology.queue,
    )
    runtimes = [make_runtime(postgres_url, settings) for _ in range(2)]
    works = [
        BackgroundWork(runtime, consume_bookings=True, topology=topology, relay_batch_size=10)
        for runtime in runtimes
    ]
    for work in works:
        await work.start()
    try:
        for work in works:
            await asyncio.wait_for(work.broker_connected.wait(), 15)
        yield Cluster(settings, topology, capture, runtimes, works)
    finally:
        for work in works:
            await work.stop()
        for runtime in runtimes:
            await runtime.aclose()


async def scalar(runtime: Runtime, query: Any) -> Any:
    assert runtime.database is not None
    async with runtime.database.engine.connect() as conn:
        return await conn.scalar(query)


async def test_two_workers_share_the_queue_and_the_outbox(
    cluster: Cluster, rabbit: RabbitAdmin
) -> None:
    bookings = [uuid4() for _ in range(40)]
    runtime = cluster.runtimes[0]
    sent: set[str] = set()

    async def send(event_type: str, data: dict[str, Any], event_id: str, copies: int) -> None:
        body = envelope(event_type, data, event_id=event_id)
        sent.add(event_id)
        for _ in range(copies):  # the booking service may publish an event twice
            await rabbit.publish(cluster.topology.exchange, event_type, body)

    for i, booking_id in enumerate(bookings):
        await send(
            "booking.created",
            {
                "booking_id": str(booking_id),
                "guest_id": str(uuid4()),
                "amount": 10_000 + i,
                "currency": "EUR",
                "payment_required": True,
                "payment_method": "pm_card_visa",
            },
            f"created-{booking_id}",
            copies=2 if i % 4 == 0 else 1,
        )

    async def inbox_has(n: int) -> bool:
        return await scalar(runtime, select(func.count()).select_from(t.inbox)) == n

    await eventually(lambda: inbox_has(len(sent)), within=60)
    cancelled = bookings[::2]
    for booking_id in cancelled:
        await send(
            "booking.cancelled",
            {"booking_id": str(booking_id)},
            f"cancelled-{booking_id}",
            copies=2 if booking_id in bookings[::8] else 1,
        )
    await eventually(lambda: inbox_has(len(sent)), within=60)

    async def all_published() -> bool:
        refunds = await scalar(
            runtime,
            select(func.count()).select_from(t.refunds).where(t.refunds.c.status == "COMPLETED"),
        )
        pending = await scalar(
            runtime,
            select(func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_(None)),
        )
        return refunds == len(cancelled) and pending == 0

    await eventually(all_published, within=60)

    payments_per_booking = dict(
        await _rows(
            runtime,
            select(t.payments.c.booking_id, func.count()).group_by(t.payments.c.booking_id),
        )
    )
    assert payments_per_booking == dict.fromkeys(bookings, 1), "one payment per booking"
    refunds_per_payment = [
        n
        for _, n in await _rows(
            runtime, select(t.refunds.c.payment_id, func.count()).group_by(t.refunds.c.payment_id)
        )
    ]
    assert refunds_per_payment == [1] * len(cancelled), "one refund per cancelled booking"

    consumers = [w.consumer for w in cluster.works]
    assert all(c is not None and c.stats.handled > 0 for c in consumers), "both consumed"
    handled = sum(c.stats.handled for c in consumers if c is not None)
    assert handled == len(sent), "every booking event handled exactly once"
    relays = [w.relay for w in cluster.works]
    assert all(r is not None and r.stats.published > 0 for r in relays), "both relayed"

    outbox = await _rows(
        runtime, select(t.outbox.c.id, t.outbox.c.stream_id).order_by(t.outbox.c.sequence)
    )
    captured = first_occurrences(await rabbit.take(cluster.capture, at_least=len(outbox)))
    assert {m.id for m in captured} == {str(i) for i, _ in outbox}, "no event lost"
    assert _streams([(m.id, UUID(str(m.subject))) for m in captured]) == _streams(
        [(str(i), s) for i, s in outbox]
    ), "each payment's events in commit order"


async def _rows(runtime: Runtime, query: Any) -> list[Any]:
    assert runtime.database is not None
    async with runtime.database.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(query)).all()]


def _streams(pairs: list[tuple[str, UUID]]) -> dict[UUID, list[str]]:
    streams: dict[UUID, list[str]] = {}
    for event_id, stream in pairs:
        streams.setdefault(stream, []).append(event_id)
    return streams
