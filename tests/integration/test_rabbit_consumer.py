"""The booking-event consumer under FastStream's TestRabbitBroker, in memory and against the
real RabbitMQ (``with_real=True``): the same tests, both ways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import attrs
import pytest
from faststream.rabbit import (
    ExchangeType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
    TestRabbitBroker,
)

from payment_adapters.background import BackgroundWork
from payment_adapters.messaging.consumer import (
    REDELIVERIES_HEADER,
    BookingConsumer,
    BookingTopology,
)
from payment_adapters.settings import Settings
from payment_core.errors import ConcurrencyError
from payment_core.model.payment import PaymentStatus
from payment_core.model.refund import RefundStatus
from payment_core.pagination import PageRequest
from payment_core.services import BookingEventHandler
from payment_core.services.payments import CreatePayment
from payment_core.testing import Harness, build_in_memory

from .conftest import RabbitAdmin, envelope, eventually, make_runtime

pytestmark = pytest.mark.integration


@attrs.define
class Rig:
    """A consumer on a broker under test, with the harness behind it."""

    broker: TestRabbitBroker  # type: ignore[type-arg]
    consumer: BookingConsumer
    topology: BookingTopology
    harness: Harness
    rabbit: RabbitAdmin
    real: bool

    async def send(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        event_id: str | None = None,
        body: bytes | None = None,
    ) -> None:
        payload = body if body is not None else envelope(event_type, data, event_id=event_id)
        await self.broker.publish(
            payload,
            exchange=self.topology.rabbit_exchange(),
            routing_key=event_type,
            content_type="application/cloudevents+json",
            persist=True,
        )

    async def settled(self, n: int) -> None:
        """Wait until ``n`` messages were acked or dead-lettered (at once when in memory)."""
        stats = self.consumer.stats

        async def done() -> bool:
            return stats.handled + stats.duplicates + stats.dead_lettered >= n

        await eventually(done, within=15)

    async def payments(self, booking_id: UUID) -> list[Any]:
        async with self.harness.uow() as uow:
            page = await uow.payments.list_by_booking(booking_id, PageRequest(limit=50))
        return list(page.items)

    async def dead_letters(self, n: int) -> list[bytes]:
        if not self.real:
            return []
        return [
            m.body
            for m in await self.rabbit.take(self.topology.dead_letter_queue, at_least=n, settle=0.1)
        ]


def created(booking_id: UUID, **extra: Any) -> dict[str, Any]:
    return {
        "booking_id": str(booking_id),
        "guest_id": str(uuid4()),
        "amount": 12_500,
        "currency": "EUR",
        "payment_required": True,
        **extra,
    }


async def _rig(
    real: bool,
    rabbit: RabbitAdmin,
    handler: Any = None,
    *,
    queue_type: str = "classic",
    **options: Any,
) -> AsyncIterator[Rig]:
    harness = build_in_memory()
    topology = BookingTopology(
        exchange=rabbit.exchange("bookings"),
        queue=rabbit.queue("bookings"),
        retry_delay_ms=100,
        queue_type=queue_type,
    )
    broker = RabbitBroker(rabbit.url, logger=None)
    consumer = BookingConsumer(
        handler or harness.services.bookings, topology=topology, retry_backoff=0.01, **options
    )
    consumer.register(broker)
    async with TestRabbitBroker(broker, with_real=real) as test_broker:
        yield Rig(test_broker, consumer, topology, harness, rabbit, real)


@pytest.fixture(params=[False, True], ids=["in-memory", "real-rabbitmq"])
async def rig(request: pytest.FixtureRequest, rabbit: RabbitAdmin) -> AsyncIterator[Rig]:
    async for value in _rig(request.param, rabbit):
        yield value


# ====================================================================== both ways


async def test_booking_created_creates_a_pending_payment(rig: Rig) -> None:
    booking_id = uuid4()
    await rig.send("booking.created", created(booking_id))
    await rig.settled(1)
    [payment] = await rig.payments(booking_id)
    assert (payment.status, payment.amount.amount) == (PaymentStatus.PENDING, 12_500)


async def test_booking_created_with_a_method_confirms_the_payment(rig: Rig) -> None:
    booking_id = uuid4()
    await rig.send("booking.created", created(booking_id, payment_method="pm_card_visa"))
    await rig.settled(1)
    [payment] = await rig.payments(booking_id)
    assert payment.status is PaymentStatus.COMPLETED


async def test_a_booking_without_payment_creates_nothing(rig: Rig) -> None:
    booking_id = uuid4()
    await rig.send("booking.created", created(booking_id, payment_required=False))
    await rig.settled(1)
    assert await rig.payments(booking_id) == []
    assert rig.consumer.stats.handled == 1


async def test_a_redelivered_event_is_acknowledged_and_ignored(rig: Rig) -> None:
    booking_id = uuid4()
    for _ in range(3):
        await rig.send("booking.created", created(booking_id), event_id="evt-twice")
    await rig.settled(3)
    assert len(await rig.payments(booking_id)) == 1
    assert (rig.consumer.stats.handled, rig.consumer.stats.duplicates) == (1, 2)


async def test_booking_cancelled_cancels_pending_and_refunds_completed(rig: Rig) -> None:
    pending, paid = uuid4(), uuid4()
    await rig.send("booking.created", created(pending))
    await rig.send("booking.created", created(paid, payment_method="pm_card_visa"))
    await rig.settled(2)
    await rig.send("booking.cancelled", {"booking_id": str(pending)})
    await rig.send("booking.cancelled", {"booking_id": str(paid), "reason": "guest"})
    await rig.settled(4)
    [cancelled] = await rig.payments(pending)
    assert cancelled.status is PaymentStatus.CANCELLED
    [refunded] = await rig.payments(paid)
    async with rig.harness.uow() as uow:
        [refund] = await uow.refunds.list_by_booking(paid)
    assert (refund.status, refund.amount.amount) == (RefundStatus.COMPLETED, 12_500)
    assert refunded.amount_refunded == 12_500


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"specversion": "1.0", "id": "x"}',
        envelope("booking.created", {"booking_id": "nope"}),
        envelope("booking.created", created(uuid4(), amount="12500")),
        envelope("booking.created", created(uuid4(), currency="XXX")),
    ],
    ids=["not-json", "not-an-envelope", "missing-fields", "string-amount", "unknown-currency"],
)
async def test_what_can_never_be_handled_goes_to_the_dead_letter_queue(
    rig: Rig, body: bytes
) -> None:
    await rig.send("booking.created", {}, body=body)
    booking_id = uuid4()
    await rig.send("booking.created", created(booking_id))  # the queue is not blocked
    await rig.settled(2)
    assert rig.consumer.stats.dead_lettered == 1
    assert len(await rig.payments(booking_id)) == 1
    if rig.real:
        assert await rig.dead_letters(1) == [body]


# ====================================================================== real broker only


@attrs.define
class Flaky:
    """The real handler, behind ``failures`` transient errors."""

    inner: BookingEventHandler
    failures: int
    calls: int = 0

    async def booking_created(self, event_id: str, data: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConcurrencyError(entity="payment", entity_id=uuid4())
        return await self.inner.booking_created(event_id, data)

    async def booking_cancelled(self, event_id: str, data: Any) -> Any:
        return await self.inner.booking_cancelled(event_id, data)


async def test_a_failure_that_outlasts_the_in_process_retries_is_retried_later(
    rabbit: RabbitAdmin,
) -> None:
    async for rig in _rig(True, rabbit, attempts=2):
        flaky = Flaky(rig.harness.services.bookings, failures=3)  # 2 in process + 1 more
        rig.consumer.handler = flaky
        booking_id = uuid4()
        await rig.send("booking.created", created(booking_id))
        await rig.settled(1)
        assert len(await rig.payments(booking_id)) == 1
        assert rig.consumer.stats.redelivered == 1  # one trip through the retry queue
        assert flaky.calls == 4  # 2 failed, then 1 failed and 1 handled after the delay
        assert await rabbit.count(rig.topology.dead_letter_queue) == 0


async def test_a_handler_that_keeps_failing_ends_in_the_dead_letter_queue(
    rabbit: RabbitAdmin,
) -> None:
    async for rig in _rig(True, rabbit, attempts=2, max_redeliveries=2):
        flaky = Flaky(rig.harness.services.bookings, failures=1_000)
        rig.consumer.handler = flaky
        await rig.send("booking.created", created(uuid4()), event_id="evt-poison")
        await rig.settled(1)
        assert flaky.calls == 2 * 3  # 2 attempts per delivery, 1 delivery + 2 retries
        [dead] = await rabbit.take(rig.topology.dead_letter_queue, at_least=1)
        assert dead.id == "evt-poison"
        assert rig.consumer.stats.dead_lettered == 1


async def test_retries_carry_a_redelivery_count(rabbit: RabbitAdmin) -> None:
    seen: list[Any] = []

    async for rig in _rig(True, rabbit, attempts=1, max_redeliveries=1):
        flaky = Flaky(rig.harness.services.bookings, failures=1)
        rig.consumer.handler = flaky
        original = rig.consumer.on_message

        async def spy(body: bytes, message: Any, original: Any = original) -> None:
            seen.append(message.headers.get(REDELIVERIES_HEADER))
            await original(body, message)

        rig.consumer.on_message = spy  # type: ignore[method-assign]
        await rig.send("booking.created", created(uuid4()))
        await rig.settled(1)
    assert seen == [None, 1]


async def test_a_message_is_not_acknowledged_before_its_transaction_commits(
    rabbit: RabbitAdmin,
) -> None:
    """The worker dies mid-handling: RabbitMQ delivers the message again, and it is handled
    once (the inbox row and the payment were never committed the first time)."""
    entered, release = asyncio.Event(), asyncio.Event()

    @attrs.define
    class Stuck:
        inner: BookingEventHandler

        async def booking_created(self, event_id: str, data: Any) -> Any:
            entered.set()
            await release.wait()
            return await self.inner.booking_created(event_id, data)

        async def booking_cancelled(self, event_id: str, data: Any) -> Any:
            raise AssertionError

    harness = build_in_memory()
    topology = BookingTopology(exchange=rabbit.exchange("bookings"), queue=rabbit.queue("bookings"))
    first = RabbitBroker(rabbit.url, logger=None)
    BookingConsumer(Stuck(harness.services.bookings), topology=topology).register(first)
    await first.start()
    booking_id = uuid4()
    await rabbit.publish(
        topology.exchange, "booking.created", envelope("booking.created", created(booking_id))
    )
    await asyncio.wait_for(entered.wait(), 10)
    assert await rabbit.count(topology.queue) == 0  # delivered, not acknowledged yet
    connection = first._connection
    assert connection is not None
    await connection.close()  # the process dies: its channel and its deliveries go
    await eventually(lambda: _count_is(rabbit, topology.queue, 1))  # back in the queue

    second = RabbitBroker(rabbit.url, logger=None)
    consumer = BookingConsumer(harness.services.bookings, topology=topology)
    consumer.register(second)
    await second.start()
    try:
        await eventually(lambda: _true_if(consumer.stats.handled))
        release.set()  # the first handler, had it survived, finds the event handled
        await asyncio.sleep(0.05)
    finally:
        await second.stop()
        await first.stop()
    async with harness.uow() as uow:
        page = await uow.payments.list_by_booking(booking_id, PageRequest(limit=50))
    assert len(page.items) == 1
    assert await rabbit.count(topology.queue) == 0


async def _count_is(rabbit: RabbitAdmin, queue: str, n: int) -> bool:
    return await rabbit.count(queue) == n


async def _true_if(value: int) -> bool:
    return value > 0


async def assert_durable(
    rabbit: RabbitAdmin,
    exchanges: Sequence[RabbitExchange] = (),
    queues: Sequence[RabbitQueue] = (),
) -> None:
    """Each exchange and queue exists on the broker and is durable.

    A passive declare proves it exists (it never creates one); declaring it again durable,
    with the arguments the service uses, succeeds only if what the broker holds is
    equivalent: one declared transient fails with PRECONDITION_FAILED. Each check has its own
    channel (a failed declare closes its channel).
    """
    connection = await aio_pika.connect(rabbit.url, timeout=5)
    try:
        for exchange in exchanges:
            channel = await connection.channel()
            await channel.declare_exchange(exchange.name, passive=True)
            await channel.declare_exchange(
                exchange.name, aio_pika.ExchangeType(exchange.type.value), durable=True
            )
            await channel.close()
        for queue in queues:
            channel = await connection.channel()
            await channel.declare_queue(queue.name, passive=True)
            await channel.declare_queue(queue.name, durable=True, arguments=queue.arguments)
            await channel.close()
    finally:
        await connection.close()


async def test_the_durability_check_fails_on_what_is_not_durable(rabbit: RabbitAdmin) -> None:
    exchange = RabbitExchange(rabbit.exchange("transient"), type=ExchangeType.TOPIC)
    queue = RabbitQueue(rabbit.queue("transient"))
    await rabbit.channel.declare_exchange(exchange.name, aio_pika.ExchangeType.TOPIC, durable=False)
    await rabbit.channel.declare_queue(queue.name, durable=False)
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await assert_durable(rabbit, exchanges=[exchange])
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await assert_durable(rabbit, queues=[queue])
    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):  # never created by it
        await assert_durable(rabbit, queues=[RabbitQueue(f"{queue.name}.missing")])


async def assert_topology_durable(rabbit: RabbitAdmin, topology: BookingTopology) -> None:
    """The bookings exchange, the queue, its retry queue and its DLQ."""
    await assert_durable(
        rabbit,
        exchanges=[topology.rabbit_exchange()],
        queues=[
            topology.rabbit_queue(topology.routing_keys[0]),
            topology.rabbit_retry_queue(),
            topology.rabbit_dead_letter_queue(),
        ],
    )


async def test_the_consumer_declares_its_queues_durable(rabbit: RabbitAdmin) -> None:
    async for rig in _rig(True, rabbit):
        topology = rig.topology
        await assert_topology_durable(rabbit, topology)


async def test_the_worker_declares_its_exchanges_and_queues_durable(
    rabbit: RabbitAdmin, sqlite_url: str
) -> None:
    """What ``payment-service worker`` runs (BackgroundWork) declares the bookings exchange,
    the queue, its retry queue and DLQ, and the payments exchange: all durable on the broker.
    The test declares none of them (its own declares would make them durable)."""
    settings = Settings(
        environment="test",
        database_url=sqlite_url,
        rabbitmq_url=rabbit.url,
        payments_exchange=rabbit.exchange("payments"),
        bookings_exchange=rabbit.exchange("bookings"),
        bookings_queue=rabbit.queue("bookings"),
    )
    runtime = make_runtime(sqlite_url, settings)
    work = BackgroundWork(runtime, consume_bookings=True)
    await work.start()
    try:
        await asyncio.wait_for(work.broker_connected.wait(), 15)
        assert work.consumer is not None
        topology = work.consumer.topology
        assert (topology.exchange, topology.queue) == (
            settings.bookings_exchange,
            settings.bookings_queue,
        )
        await assert_topology_durable(rabbit, topology)
        # The payments exchange is declared before the first event is published: make one.
        await runtime.services.payments.create(
            CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
        )

        async def published() -> bool:
            return work.relay is not None and work.relay.stats.published >= 1

        await eventually(published, within=15)
        await assert_durable(
            rabbit,
            exchanges=[RabbitExchange(settings.payments_exchange, type=ExchangeType.TOPIC)],
        )
    finally:
        await work.stop()
        await runtime.aclose()


# ====================================================================== quorum queues


async def queue_type_of(rabbit: RabbitAdmin, queue: RabbitQueue) -> str:
    """The type RabbitMQ holds ``queue`` as: a declare of another type fails PRECONDITION_FAILED."""
    connection = await aio_pika.connect(rabbit.url, timeout=5)
    try:
        for kind in ("classic", "quorum"):
            channel = await connection.channel()
            arguments = {**(queue.arguments or {}), "x-queue-type": kind}
            try:
                await channel.declare_queue(queue.name, durable=True, arguments=arguments)
            except aio_pika.exceptions.ChannelPreconditionFailed:
                continue
            await channel.close()
            return kind
    finally:
        await connection.close()
    raise AssertionError(f"{queue.name} is neither classic nor quorum")


async def test_rabbitmq_queue_type_quorum_makes_all_three_queues_quorum(
    rabbit: RabbitAdmin, sqlite_url: str
) -> None:
    """``RABBITMQ_QUEUE_TYPE=quorum`` through the worker: the queue, its retry queue and its
    DLQ are quorum queues, both keys reach the one consumer a process has, in order."""
    settings = Settings.from_env(
        {
            "ENVIRONMENT": "test",
            "DATABASE_URL": sqlite_url,
            "RABBITMQ_URL": rabbit.url,
            "RABBITMQ_QUEUE_TYPE": "quorum",
            "PAYMENTS_EXCHANGE": rabbit.exchange("payments"),
            "BOOKINGS_EXCHANGE": rabbit.exchange("bookings"),
            "BOOKINGS_QUEUE": rabbit.queue("bookings"),
        },
        env_file=None,
    )
    runtime = make_runtime(sqlite_url, settings)
    work = BackgroundWork(runtime, consume_bookings=True)
    await work.start()
    try:
        await asyncio.wait_for(work.broker_connected.wait(), 15)
        assert work.consumer is not None
        topology = work.consumer.topology
        for queue in (
            topology.rabbit_queue(topology.routing_keys[0]),
            topology.rabbit_retry_queue(),
            topology.rabbit_dead_letter_queue(),
        ):
            assert await queue_type_of(rabbit, queue) == "quorum", queue.name
        assert await rabbit.consumers(topology.queue) == 1  # no channel-wide prefetch here
        booking_id = uuid4()
        for event_type, data in [
            ("booking.created", created(booking_id)),
            ("booking.cancelled", {"booking_id": str(booking_id)}),
        ]:
            await rabbit.publish(topology.exchange, event_type, envelope(event_type, data))
        stats = work.consumer.stats

        async def both_handled() -> bool:
            return stats.handled == 2

        await eventually(both_handled, within=15)
        page = await runtime.services.payments.list_by_booking(booking_id, PageRequest(limit=5))
        assert [p.status for p in page.items] == [PaymentStatus.CANCELLED]
    finally:
        await work.stop()
        await runtime.aclose()


async def test_the_classic_default_stays_classic(rabbit: RabbitAdmin) -> None:
    async for rig in _rig(True, rabbit):
        queue = rig.topology.rabbit_dead_letter_queue()
        assert await queue_type_of(rabbit, queue) == "classic"


async def test_quorum_queues_retry_later_and_dead_letter(rabbit: RabbitAdmin) -> None:
    """A per-message TTL in the quorum retry queue brings a message back; what can never be
    handled lands in the quorum DLQ."""
    async for rig in _rig(True, rabbit, queue_type="quorum", attempts=2):
        flaky = Flaky(rig.harness.services.bookings, failures=3)
        rig.consumer.handler = flaky
        booking_id = uuid4()
        await rig.send("booking.created", created(booking_id))
        await rig.send("booking.created", {}, body=b"not json")
        await rig.settled(2)
        assert len(await rig.payments(booking_id)) == 1
        assert rig.consumer.stats.redelivered == 1
        assert await rig.dead_letters(1) == [b"not json"]
