"""The relay's ordering and retry rules, the in-process bus, the consumer's decisions, and the
background loops over the in-memory runtime. No broker, no database."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest

from payment_adapters.background import BackgroundWork, run_background
from payment_adapters.bootstrap import Runtime, bootstrap_in_memory
from payment_adapters.idempotency import InMemoryIdempotencyStore
from payment_adapters.messaging.codec import Envelope
from payment_adapters.messaging.consumer import BookingConsumer, BookingTopology, Outcome
from payment_adapters.messaging.publishers import (
    InProcessPublisher,
    OutboxMessage,
    message_from_event,
    topic_matches,
)
from payment_adapters.messaging.relay import OutboxRelay, publish_in_stream_order
from payment_adapters.settings import Settings
from payment_core.errors import ConcurrencyError
from payment_core.model.payment import PaymentStatus
from payment_core.model.refund import RefundStatus
from payment_core.pagination import PageRequest
from payment_core.services import CreatePayment, CreatePaymentPlan, NullObserver
from payment_core.testing import build_in_memory

# ====================================================================== fakes


def message(sequence: int, stream: UUID, event_type: str = "payment.initiated") -> OutboxMessage:
    body = json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": "payment-service",
            "type": event_type,
            "subject": str(stream),
            "data": {"n": sequence},
        }
    ).encode()
    return OutboxMessage(
        id=uuid4(), type=event_type, stream_id=stream, body=body, sequence=sequence
    )


@attrs.define
class ListBatch:
    messages: Sequence[OutboxMessage]
    outbox: ListOutbox
    held_back: int = 0

    async def mark_published(self, sequences: Collection[int], at: datetime) -> None:
        self.outbox.published |= set(sequences)


@attrs.define
class ListOutbox:
    """An outbox in a list: what the relay needs from a source, nothing more."""

    rows: list[OutboxMessage]
    published: set[int] = attrs.field(factory=set)
    leases: int = 0

    @contextlib.asynccontextmanager
    async def lease(self, limit: int) -> AsyncIterator[ListBatch]:
        self.leases += 1
        pending = [m for m in self.rows if m.sequence not in self.published]
        yield ListBatch(pending[:limit], self)

    def unseal(self, message: OutboxMessage) -> OutboxMessage:
        return message  # kept in plain form


@attrs.define
class Recorder:
    """A publisher that records what it confirmed, and fails when told to."""

    confirmed: list[OutboxMessage] = attrs.field(factory=list)
    down: bool = False
    fail_ids: set[UUID] = attrs.field(factory=set)
    attempts: int = 0

    async def publish_message(self, message: OutboxMessage) -> None:
        self.attempts += 1
        await asyncio.sleep(0)
        if self.down or message.id in self.fail_ids:
            raise ConnectionError("broker unavailable")
        self.confirmed.append(message)


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 5.0) -> None:
    """Wait until ``check()`` holds; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.005)


def by_stream(messages: Sequence[OutboxMessage]) -> dict[UUID, list[int]]:
    streams: dict[UUID, list[int]] = {}
    for m in messages:
        streams.setdefault(m.stream_id, []).append(m.sequence)
    return streams


# ====================================================================== stream order


async def test_a_failure_holds_back_the_rest_of_its_stream_only() -> None:
    a, b = uuid4(), uuid4()
    rows = [message(1, a), message(2, b), message(3, a), message(4, b), message(5, a)]
    publisher = Recorder(fail_ids={rows[2].id})
    confirmed, error = await publish_in_stream_order(publisher, rows)
    assert sorted(confirmed) == [1, 2, 4]  # 5 waits behind 3, b goes on
    assert isinstance(error, ConnectionError)


async def test_events_of_a_stream_are_published_one_after_the_other() -> None:
    streams = [uuid4() for _ in range(5)]
    rows = [message(i, streams[i % 5]) for i in range(1, 101)]
    publisher = Recorder()
    confirmed, error = await publish_in_stream_order(publisher, rows, max_in_flight=3)
    assert error is None
    assert sorted(confirmed) == list(range(1, 101))
    assert by_stream(publisher.confirmed) == by_stream(rows)


# ====================================================================== the relay


async def test_relay_marks_only_what_was_confirmed() -> None:
    a = uuid4()
    outbox = ListOutbox([message(1, a), message(2, a), message(3, uuid4())])
    publisher = Recorder(fail_ids={outbox.rows[1].id})
    result = await OutboxRelay(outbox, publisher).relay_once()
    assert (result.published, result.failed) == (2, 1)
    assert outbox.published == {1, 3}


async def test_relay_delivers_everything_in_order_after_an_outage() -> None:
    streams = [uuid4() for _ in range(7)]
    outbox = ListOutbox([message(i, streams[i % 7]) for i in range(1, 201)])
    publisher = Recorder(down=True)
    relay = OutboxRelay(
        outbox, publisher, batch_size=16, backoff_base=0.01, backoff_max=0.02, poll_interval=0.01
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.1)
    assert outbox.published == set()
    assert relay.stats.failures >= 2  # it kept trying, backing off
    publisher.down = False
    await eventually(lambda: len(outbox.published) == 200)
    stop.set()
    await task
    assert by_stream(publisher.confirmed) == by_stream(outbox.rows)
    assert len(publisher.confirmed) == 200


async def test_relay_keeps_per_stream_order_under_random_failures() -> None:
    streams = [uuid4() for _ in range(4)]
    outbox = ListOutbox([message(i, streams[i % 4]) for i in range(1, 121)])

    @attrs.define
    class Flaky(Recorder):
        n: int = 0

        async def publish_message(self, message: OutboxMessage) -> None:
            self.n += 1
            if self.n % 7 == 0:  # every 7th publish fails
                raise ConnectionError("lost")
            await super().publish_message(message)

    publisher = Flaky()
    relay = OutboxRelay(outbox, publisher, batch_size=10)
    for _ in range(100):
        await relay.relay_once()
        if len(outbox.published) == 120:
            break
    assert len(outbox.published) == 120
    assert by_stream(publisher.confirmed) == by_stream(outbox.rows)


async def test_stopping_lets_the_round_in_flight_finish() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    @attrs.define
    class Slow(Recorder):
        async def publish_message(self, message: OutboxMessage) -> None:
            started.set()
            await release.wait()
            await super().publish_message(message)

    outbox = ListOutbox([message(1, uuid4())])
    relay = OutboxRelay(outbox, Slow())
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await started.wait()
    stop.set()
    await asyncio.sleep(0.02)
    assert not task.done()
    release.set()
    await task
    assert outbox.published == {1}


async def test_an_idle_relay_waits_for_a_wakeup_not_a_busy_loop() -> None:
    outbox = ListOutbox([])
    relay = OutboxRelay(outbox, Recorder(), poll_interval=10.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.1)
    assert outbox.leases == 1
    outbox.rows.append(message(1, uuid4()))
    relay.wakeups.notify()  # type: ignore[attr-defined]
    await eventually(lambda: outbox.published == {1}, within=1)
    stop.set()
    await task


async def test_a_burst_of_commits_is_published_in_one_round_by_one_loop() -> None:
    outbox = ListOutbox([])
    relay = OutboxRelay(outbox, Recorder(), poll_interval=10.0, gather=0.1, concurrency=2)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await eventually(lambda: outbox.leases == 2)  # each loop's first round, then both idle
    await asyncio.sleep(0.05)
    stream = uuid4()
    for sequence in range(1, 6):  # five commits, each notifying, within the gathering time
        outbox.rows.append(message(sequence, stream))
        relay.wakeups.notify()  # type: ignore[attr-defined]
        await asyncio.sleep(0.005)
    await eventually(lambda: outbox.published == {1, 2, 3, 4, 5}, within=2)
    await asyncio.sleep(0.15)
    # One round took all five; the second loop did not lease for the same notification.
    assert outbox.leases == 3
    stop.set()
    await task


async def test_without_gathering_a_wakeup_leases_at_once() -> None:
    outbox = ListOutbox([])
    relay = OutboxRelay(outbox, Recorder(), poll_interval=10.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await eventually(lambda: outbox.leases == 1)
    outbox.rows.append(message(1, uuid4()))
    relay.wakeups.notify()  # type: ignore[attr-defined]
    await eventually(lambda: outbox.published == {1}, within=0.05)
    stop.set()
    await task


# ====================================================================== in-process bus


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("payment.*", "payment.completed", True),
        ("payment.*", "refund.completed", False),
        ("payment.*", "payment.a.b", False),
        ("#", "invoice.marked_uncollectible", True),
        ("payment.#", "payment", True),
        ("#.completed", "refund.completed", True),
        ("*.completed", "completed", False),
        ("a.#.b", "a.x.y.b", True),
        ("refund.completed", "refund.completed", True),
    ],
)
def test_topic_patterns_match_like_amqp(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches


async def test_in_process_bus_delivers_matching_events_in_order() -> None:
    bus = InProcessPublisher()
    seen: list[tuple[str, str]] = []

    async def payments(envelope: Envelope) -> None:
        seen.append(("payments", envelope.type))

    async def everything(envelope: Envelope) -> None:
        seen.append(("all", envelope.type))

    bus.subscribe("payment.*", payments)
    unsubscribe = bus.subscribe("#", everything)
    stream = uuid4()
    await bus.publish_message(message(1, stream, "payment.initiated"))
    await bus.publish_message(message(2, stream, "refund.initiated"))
    unsubscribe()
    await bus.publish_message(message(3, stream, "payment.completed"))
    assert seen == [
        ("payments", "payment.initiated"),
        ("all", "payment.initiated"),
        ("all", "refund.initiated"),
        ("payments", "payment.completed"),
    ]


async def test_a_failing_subscriber_fails_the_delivery_so_the_event_is_kept() -> None:
    bus = InProcessPublisher()

    async def broken(envelope: Envelope) -> None:
        raise RuntimeError("subscriber down")

    bus.subscribe("#", broken)
    outbox = ListOutbox([message(1, uuid4())])
    result = await OutboxRelay(outbox, bus).relay_once()
    assert result.failed == 1
    assert outbox.published == set()


# ====================================================================== the consumer's decisions


def booking(event_type: str, event_id: str | None = None, **data: Any) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(uuid4()),
            "source": "booking-service",
            "type": event_type,
            "data": data,
        }
    ).encode()


def created(booking_id: UUID, event_id: str | None = None, **extra: Any) -> bytes:
    return booking(
        "booking.created",
        event_id,
        booking_id=str(booking_id),
        guest_id=str(uuid4()),
        amount=12_500,
        currency="EUR",
        payment_required=True,
        **extra,
    )


async def test_consumer_handles_a_booking_once_and_ignores_its_redelivery() -> None:
    harness = build_in_memory()
    consumer = BookingConsumer(harness.services.bookings)
    booking_id = uuid4()
    body = created(booking_id, "evt-1", payment_method="pm_card_visa")
    assert await consumer.process(body) is Outcome.HANDLED
    assert await consumer.process(body) is Outcome.DUPLICATE
    async with harness.uow() as uow:
        page = await uow.payments.list_by_booking(booking_id, _page())
    assert [p.status for p in page.items] == [PaymentStatus.COMPLETED]


async def test_consumer_cancels_and_refunds_on_booking_cancelled() -> None:
    harness = build_in_memory()
    consumer = BookingConsumer(harness.services.bookings)
    booking_id = uuid4()
    await consumer.process(created(booking_id, payment_method="pm_card_visa"))
    await consumer.process(booking("booking.cancelled", booking_id=str(booking_id)))
    assert harness.published_types()[-2:] == ["refund.initiated", "refund.completed"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"specversion": "1.0"}',
        booking("booking.created", amount="12500"),
        booking("booking.shredded", booking_id=str(uuid4())),
    ],
)
async def test_consumer_dead_letters_what_can_never_be_handled(body: bytes) -> None:
    consumer = BookingConsumer(build_in_memory().services.bookings)
    assert await consumer.process(body) is Outcome.DEAD_LETTER


async def test_consumer_dead_letters_a_booking_the_domain_rejects() -> None:
    consumer = BookingConsumer(build_in_memory().services.bookings)
    body = booking(
        "booking.created",
        booking_id=str(uuid4()),
        guest_id=str(uuid4()),
        amount=100,
        currency="XXX",
        payment_required=True,
    )
    assert await consumer.process(body) is Outcome.DEAD_LETTER


@attrs.define
class FailingHandler:
    """Fails ``failures`` times with a transient error, then handles."""

    failures: int
    calls: int = 0

    async def booking_created(self, event_id: str, data: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConcurrencyError(entity="payment", entity_id=uuid4())

    async def booking_cancelled(self, event_id: str, data: Any) -> None:
        await self.booking_created(event_id, data)


async def test_consumer_retries_a_transient_failure_in_process() -> None:
    handler = FailingHandler(failures=2)
    consumer = BookingConsumer(handler, attempts=3, retry_backoff=0.001)
    assert await consumer.process(created(uuid4())) is Outcome.HANDLED
    assert handler.calls == 3


async def test_consumer_gives_a_failure_that_persists_back_for_a_later_retry() -> None:
    handler = FailingHandler(failures=100)
    consumer = BookingConsumer(handler, attempts=3, retry_backoff=0.001)
    assert await consumer.process(created(uuid4())) is Outcome.RETRY
    assert handler.calls == 3


def _page() -> PageRequest:
    return PageRequest(limit=50)


# ====================================================================== background loops


def memory_runtime(*, auto_deliver: bool = True) -> Runtime:
    settings = Settings(environment="test")
    harness = build_in_memory(auto_deliver=auto_deliver)
    return Runtime(
        settings=settings,
        services=harness.services,
        idempotency=InMemoryIdempotencyStore(),
        observer=NullObserver(),
        harness=harness,
    )


async def test_background_delivers_the_in_memory_outbox_to_in_process_subscribers() -> None:
    runtime = memory_runtime(auto_deliver=False)
    bus = InProcessPublisher()
    seen: list[str] = []

    async def record(envelope: Envelope) -> None:
        seen.append(envelope.type)

    bus.subscribe("payment.*", record)
    stop = asyncio.Event()
    task = asyncio.create_task(run_background(runtime, stop, consume_bookings=True, bus=bus))
    payment = await runtime.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    await runtime.services.payments.confirm(payment.id, "pm_card_visa")
    await eventually(lambda: len(seen) == 2, within=2)
    stop.set()
    await task
    assert seen == ["payment.initiated", "payment.completed"]


async def test_without_the_relay_events_stay_in_the_outbox() -> None:
    """A worker without RABBITMQ_URL: nothing to publish to, so nothing is marked delivered."""
    runtime = memory_runtime(auto_deliver=False)
    stop = asyncio.Event()
    task = asyncio.create_task(run_background(runtime, stop, consume_bookings=False, relay=False))
    await runtime.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    await asyncio.sleep(0.3)  # several rounds of the other loops
    stop.set()
    await task
    assert runtime.harness is not None
    assert [e.event.type for e in runtime.harness.store.unpublished()] == ["payment.initiated"]


async def test_background_retries_due_refunds() -> None:
    settings = Settings(environment="test", refund_retry_base_seconds=1, refund_max_attempts=2)
    runtime = bootstrap_in_memory(settings)
    services = runtime.services
    payment = await services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    await services.payments.confirm(payment.id, "pm_card_refundFail")
    refund = await services.refunds.create(payment.id, 50)  # first attempt fails at once
    assert (refund.status, refund.attempts) == (RefundStatus.PENDING, 1)
    work = BackgroundWork(runtime, consume_bookings=False, interval=0.05)
    await work.start()
    try:

        async def attempted_twice() -> bool:
            return (await services.refunds.get(refund.id)).attempts == 2

        await eventually(attempted_twice, within=10)
    finally:
        await work.stop()
    refund = await services.refunds.get(refund.id)
    assert (refund.status, refund.attempts) == (RefundStatus.FAILED, 2)


async def test_background_expires_holds_past_their_deadline() -> None:
    """The served fake provider's holds last FAKE_AUTHORIZATION_TTL_SECONDS on the wall clock;
    the background work tells the warning once and expires the hold."""
    settings = Settings(
        environment="test",
        fake_authorization_ttl_seconds=1,
        authorization_ttl_seconds=60,
        authorization_expiry_warning_seconds=1,
    )
    runtime = bootstrap_in_memory(settings)
    services = runtime.services
    payment = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=100,
            currency="EUR",
            capture_method="manual",
            confirm=True,
        )
    )
    assert payment.status is PaymentStatus.AUTHORIZED
    work = BackgroundWork(runtime, consume_bookings=False, interval=0.05)
    await work.start()
    try:

        async def expired() -> bool:
            return (await services.payments.get(payment.id)).status is PaymentStatus.EXPIRED

        await eventually(expired, within=10)
    finally:
        await work.stop()
    assert runtime.harness is not None
    types = [e.type for e in runtime.harness.publisher.events if e.stream_id == payment.id]
    assert types == [
        "payment.initiated",
        "payment.authorized",
        "payment.authorization_expiring",
        "payment.expired",
    ]


async def test_background_charges_a_plan_balance_when_it_falls_due() -> None:
    """The served plan loop charges a balance at its moment, off-session, once."""
    runtime = bootstrap_in_memory(Settings(environment="test"))
    services = runtime.services
    now = datetime.now(UTC)
    plan = await services.plans.create(
        CreatePaymentPlan(
            booking_id=uuid4(),
            guest_id=uuid4(),
            currency="EUR",
            total_amount=1_000,
            check_in=(now + timedelta(days=30)).date(),
            time_zone="UTC",
            deposit_bps=2500,
            balance_due_at=now + timedelta(milliseconds=300),
        )
    )
    assert [i.status.value for i in plan.installments] == ["PAID", "SCHEDULED"]
    work = BackgroundWork(runtime, consume_bookings=False, interval=0.05)
    await work.start()
    try:

        async def paid() -> bool:
            return (await services.plans.get(plan.id)).status.value == "PAID"

        await eventually(paid, within=10)
    finally:
        await work.stop()
    assert runtime.harness is not None
    types = [e.type for e in runtime.harness.publisher.events if e.stream_id == plan.id]
    assert types == [
        "payment_plan.created",
        "payment_plan.installment_paid",
        "payment_plan.installment_paid",
        "payment_plan.paid",
    ]


@attrs.define
class BrokenRefunds:
    """A refund service whose background pass fails a few times, then works."""

    failures: int
    calls: int = 0

    async def process_due(self, limit: int = 100) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError("database unavailable")
        return 0


async def test_a_failing_loop_backs_off_and_keeps_running() -> None:
    runtime = memory_runtime()
    refunds = BrokenRefunds(failures=3)
    runtime.services = attrs.evolve(runtime.services, refunds=refunds)  # type: ignore[arg-type]
    work = BackgroundWork(runtime, consume_bookings=False, interval=0.01)
    await work.start()
    await eventually(lambda: refunds.calls > 4)
    await work.stop()
    assert refunds.calls > refunds.failures


async def test_background_stops_promptly() -> None:
    runtime = memory_runtime()
    stop = asyncio.Event()
    task = asyncio.create_task(run_background(runtime, stop, consume_bookings=False))
    await asyncio.sleep(0.05)
    stop.set()
    async with asyncio.timeout(2):
        await task


async def test_message_from_event_is_what_the_outbox_holds() -> None:
    harness = build_in_memory()
    await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    event = harness.publisher.events[0]
    built = message_from_event(event, sequence=7)
    assert (built.id, built.type, built.stream_id, built.sequence) == (
        event.event_id,
        "payment.initiated",
        event.stream_id,
        7,
    )
    assert json.loads(built.body)["id"] == str(event.event_id)


def test_retry_delays_double_up_to_a_cap() -> None:
    topology = BookingTopology(retry_delay_ms=5_000, max_retry_delay_ms=30_000)
    assert [topology.retry_delay(n) for n in range(1, 6)] == [5_000, 10_000, 20_000, 30_000, 30_000]
