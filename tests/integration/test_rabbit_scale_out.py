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
from payment_core.testing import FakeProvider

from .conftest import RabbitAdmin, envelope, eventually, first_occurrences, make_runtime

pytestmark = pytest.mark.integration


@attrs.define
class Cluster:
    settings: Settings
    topology: BookingTopology
    capture: str
    runtimes: list[Runtime]
    works: list[BackgroundWork]
    providers: list[FakeProvider]


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
        # A charge whose answer was lost is settled by reconciliation a second later.
        reconcile_after_seconds=1,
    )
    providers = [FakeProvider() for _ in range(2)]
    runtimes = [make_runtime(postgres_url, settings, provider=p) for p in providers]
    works = [
        BackgroundWork(runtime, consume_bookings=True, topology=topology, relay_batch_size=10)
        for runtime in runtimes
    ]
    for work in works:
        await work.start()
    try:
        for work in works:
            await asyncio.wait_for(work.broker_connected.wait(), 15)
        yield Cluster(settings, topology, capture, runtimes, works, providers)
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


async def test_cancellations_racing_their_bookings_across_workers_leave_no_money_behind(
    cluster: Cluster, rabbit: RabbitAdmin
) -> None:
    """booking.created and booking.cancelled of one booking published back to back (for a
    third of the bookings the cancellation first): the two workers take one each at the same
    time. Whatever the order, no money is kept for a cancelled booking, and nothing is left
    in flight."""
    runtime = cluster.runtimes[0]
    bookings = [uuid4() for _ in range(60)]
    # Charged at once; with no method (a PENDING payment); charged with the answer lost
    # (PROCESSING until reconciliation completes it).
    methods = ["pm_card_visa", None, "pm_card_visa", "pm_card_timeout"]
    amounts = {b: 20_000 + i for i, b in enumerate(bookings)}
    sent: set[str] = set()

    async def send(event_type: str, data: dict[str, Any], event_id: str) -> None:
        sent.add(event_id)
        body = envelope(event_type, data, event_id=event_id)
        await rabbit.publish(cluster.topology.exchange, event_type, body)

    for i, booking_id in enumerate(bookings):
        created: dict[str, Any] = {
            "booking_id": str(booking_id),
            "guest_id": str(uuid4()),
            "amount": amounts[booking_id],
            "currency": "EUR",
            "payment_required": True,
        }
        if (method := methods[i % len(methods)]) is not None:
            created["payment_method"] = method
        events = [
            ("booking.created", created, f"created-{booking_id}"),
            ("booking.cancelled", {"booking_id": str(booking_id)}, f"cancelled-{booking_id}"),
        ]
        if i % 3 == 2:
            events.reverse()
        for event in events:
            await send(*event)

    state: dict[str, Any] = {}

    async def settled() -> bool:
        state["inbox"] = await scalar(runtime, select(func.count()).select_from(t.inbox))
        state["payments in flight"] = await scalar(
            runtime,
            select(func.count())
            .select_from(t.payments)
            .where(t.payments.c.status.in_(["PENDING", "PROCESSING"])),
        )
        state["refunds in flight"] = await scalar(
            runtime,
            select(func.count())
            .select_from(t.refunds)
            .where(t.refunds.c.status.in_(["PENDING", "PROCESSING"])),
        )
        state["unpublished"] = await scalar(
            runtime,
            select(func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_(None)),
        )
        return list(state.values()) == [len(sent), 0, 0, 0]

    try:
        await eventually(settled, within=45, every=0.1)
    except TimeoutError:
        pytest.fail(f"not settled: {state}")

    # Each booking event handled once, by one of the workers; none redelivered or dead.
    consumers = [w.consumer for w in cluster.works]
    assert all(c is not None and c.stats.handled > 0 for c in consumers), "both consumed"
    stats = [c.stats for c in consumers if c is not None]
    assert sum(s.handled for s in stats) == len(sent)
    assert sum(s.duplicates + s.dead_lettered for s in stats) == 0
    inbox = {r[0] for r in await _rows(runtime, select(t.inbox.c.event_id))}
    assert inbox == sent
    assert await rabbit.count(cluster.topology.dead_letter_queue) == 0

    payments: dict[UUID, list[Any]] = {}
    for row in await _rows(
        runtime,
        select(
            t.payments.c.booking_id,
            t.payments.c.id,
            t.payments.c.status,
            t.payments.c.amount,
            t.payments.c.amount_refunded,
            t.payments.c.amount_refund_pending,
        ),
    ):
        payments.setdefault(row[0], []).append(row[1:])
    refunds: dict[UUID, list[Any]] = {}
    for row in await _rows(
        runtime,
        select(t.refunds.c.payment_id, t.refunds.c.id, t.refunds.c.status, t.refunds.c.amount),
    ):
        refunds.setdefault(row[0], []).append(row[1:])
    outcomes: dict[str, int] = {}
    for i, booking_id in enumerate(bookings):
        found = payments.pop(booking_id, [])
        assert len(found) <= 1, f"booking {booking_id}: {found}"
        if not found:
            outcome = "no payment"  # the cancellation came first
        else:
            [(payment_id, status, amount, refunded, pending)] = found
            assert amount == amounts[booking_id]
            assert status in ("CANCELLED", "COMPLETED"), f"booking {booking_id}: {status}"
            paid_back = refunds.pop(payment_id, [])
            if status == "COMPLETED":
                # Charged: refunded in full, by one refund.
                assert [(s, a) for _, s, a in paid_back] == [("COMPLETED", amount)], booking_id
                assert (refunded, pending) == (amount, 0), booking_id
                outcome = "charged, refunded"
            else:
                assert (paid_back, refunded, pending) == ([], 0, 0), booking_id
                outcome = "cancelled"
        order = "cancelled first" if i % 3 == 2 else "created first"
        outcome = f"{methods[i % len(methods)]}, {order}: {outcome}"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert payments == {}, "payments of bookings never sent"
    assert refunds == {}, "refunds of payments of no booking"
    print("outcomes:", outcomes)
    assert any(o.endswith("charged, refunded") for o in outcomes), outcomes

    # At the provider: each payment charged under one key, each refund paid once.
    calls = [call for p in cluster.providers for call in p.calls]
    confirms = [key for operation, key in calls if operation == "confirm_payment"]
    assert len(confirms) == len(set(confirms)), "a payment confirmed twice"
    refund_ids = [r[0] for r in await _rows(runtime, select(t.refunds.c.id))]
    for refund_id in refund_ids:
        made = [r for p in cluster.providers for r in p.refunds_made(refund_id)]
        assert len(made) == 1, f"refund {refund_id} paid {len(made)} times"


async def _rows(runtime: Runtime, query: Any) -> list[Any]:
    assert runtime.database is not None
    async with runtime.database.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(query)).all()]


def _streams(pairs: list[tuple[str, UUID]]) -> dict[UUID, list[str]]:
    streams: dict[UUID, list[str]] = {}
    for event_id, stream in pairs:
        streams.setdefault(stream, []).append(event_id)
    return streams
