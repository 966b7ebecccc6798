"""Domain events: published in commit order, only when the change commits, never lost."""

from __future__ import annotations

from uuid import uuid4

import pytest

from payment_core import PaymentStatus
from payment_core.errors import InvalidTransitionError, RefundExceedsRefundableError
from payment_core.events import (
    InvoiceMarkedUncollectible,
    PaymentCompleted,
    event_types,
)
from payment_core.testing import RecordingPublisher, build_in_memory, deliver_outbox


async def test_events_are_published_in_the_order_they_committed(kit, services, harness) -> None:
    payment = await kit.paid()
    refund = await services.refunds.create(payment.id, 100)
    cancelled = await kit.create()
    await services.payments.cancel(cancelled.id)
    events = harness.publisher.events
    assert harness.published_types() == [
        "payment.initiated",
        "payment.completed",
        "refund.initiated",
        "refund.completed",
        "payment.initiated",
        "payment.cancelled",
    ]
    assert [e.stream_id for e in events[:4]] == [payment.id] * 4
    assert events[3].refund.id == refund.id


async def test_each_event_carries_the_snapshot_of_its_moment(kit, harness) -> None:
    await kit.paid()
    initiated, completed = harness.publisher.events
    assert initiated.payment.status is PaymentStatus.PENDING
    assert completed.payment.status is PaymentStatus.COMPLETED
    assert isinstance(completed, PaymentCompleted)
    assert completed.occurred_at == harness.clock.now()


async def test_a_refused_operation_publishes_nothing(kit, services, harness) -> None:
    payment = await kit.paid(amount=1_000)
    harness.publisher.clear()
    with pytest.raises(RefundExceedsRefundableError):
        await services.refunds.create(payment.id, 1_001)
    with pytest.raises(InvalidTransitionError):
        await services.payments.cancel(payment.id)
    assert harness.published_types() == []
    assert harness.store.unpublished() == []


async def test_without_auto_delivery_events_wait_in_the_outbox(make_kit) -> None:
    harness = build_in_memory(auto_deliver=False)
    await make_kit(harness).paid()
    assert harness.published_types() == []
    assert [e.event.type for e in harness.store.unpublished()] == [
        "payment.initiated",
        "payment.completed",
    ]
    assert await harness.deliver() == 2
    assert harness.published_types() == ["payment.initiated", "payment.completed"]
    assert harness.store.unpublished() == []
    assert all(e.published_at == harness.clock.now() for e in harness.store.outbox)


async def test_a_failing_publisher_loses_nothing_and_keeps_the_order(make_kit) -> None:
    harness = build_in_memory(auto_deliver=False)
    kit = make_kit(harness)
    first = await kit.paid()
    second = await kit.paid()
    broker = RecordingPublisher()
    broker.fail_with = ConnectionError("broker down")
    with pytest.raises(ConnectionError):
        await deliver_outbox(harness.store, [broker], harness.clock.now())
    assert broker.events == []
    assert len(harness.store.unpublished()) == 4
    broker.fail_with = None
    assert await deliver_outbox(harness.store, [broker], harness.clock.now()) == 4
    assert [(e.type, e.stream_id) for e in broker.events] == [
        ("payment.initiated", first.id),
        ("payment.completed", first.id),
        ("payment.initiated", second.id),
        ("payment.completed", second.id),
    ]
    assert await deliver_outbox(harness.store, [broker], harness.clock.now()) == 0


async def test_a_delivery_failing_half_way_resumes_where_it_stopped(make_kit) -> None:
    harness = build_in_memory(auto_deliver=False)
    kit = make_kit(harness)
    await kit.paid()

    class BreaksAfterOne(RecordingPublisher):
        async def publish(self, event) -> None:
            if self.events:
                raise ConnectionError("lost the connection")
            await super().publish(event)

    flaky = BreaksAfterOne()
    with pytest.raises(ConnectionError):
        await deliver_outbox(harness.store, [flaky], harness.clock.now())
    assert [e.event.type for e in harness.store.unpublished()] == ["payment.completed"]
    steady = RecordingPublisher()
    assert await deliver_outbox(harness.store, [steady], harness.clock.now()) == 1
    assert steady.types == ["payment.completed"]


async def test_every_publisher_gets_every_event(make_kit) -> None:
    harness = build_in_memory(auto_deliver=False)
    await make_kit(harness).create()
    a, b = RecordingPublisher(), RecordingPublisher()
    await deliver_outbox(harness.store, [a, b], harness.clock.now())
    assert a.types == b.types == ["payment.initiated"]


async def test_invoice_events_stream_by_invoice(kit, services, harness) -> None:
    invoice = await kit.draft()
    await services.invoices.issue(invoice.id)
    await services.invoices.mark_uncollectible(invoice.id)
    await services.invoices.mark_paid(invoice.id)
    events = harness.publisher.events
    assert [e.type for e in events] == [
        "invoice.issued",
        "invoice.marked_uncollectible",
        "invoice.paid",
    ]
    assert isinstance(events[1], InvoiceMarkedUncollectible)
    assert {e.stream_id for e in events} == {invoice.id}


def test_every_event_type_is_known_by_its_routing_key() -> None:
    types = event_types()
    assert set(types) >= {
        "payment.initiated",
        "payment.completed",
        "payment.failed",
        "payment.cancelled",
        "refund.initiated",
        "refund.completed",
        "refund.failed",
        "invoice.issued",
        "invoice.paid",
        "credit_note.issued",
    }
    assert all(cls.type == key for key, cls in types.items())


async def test_the_outbox_numbers_events_in_commit_order(make_kit) -> None:
    harness = build_in_memory(auto_deliver=False)
    kit = make_kit(harness)
    for _ in range(3):
        await kit.create(booking_id=uuid4())
    assert [e.sequence for e in harness.store.outbox] == [1, 2, 3]
    harness.store.mark_published([2], harness.clock.now())
    assert [e.sequence for e in harness.store.unpublished()] == [1, 3]
    harness.store.mark_published([1, 3, 99], harness.clock.now())
    assert harness.store.unpublished() == []
