"""The console's look at the dead-letter queue takes nothing off it (real RabbitMQ)."""

from __future__ import annotations

import json
import uuid

import aio_pika
import pytest

from payment_adapters.messaging.dead_letters import peek

pytestmark = pytest.mark.integration
URL = "amqp://guest:guest@127.0.0.1:5672/"


async def test_peek_counts_summarises_and_leaves_every_message():
    queue_name = f"console-test-{uuid.uuid4().hex[:8]}.dlq"
    connection = await aio_pika.connect(URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, auto_delete=False)
        try:
            envelope = {
                "id": "evt-1",
                "type": "booking.created",
                "data": {"booking_id": "b-1", "payment_method": "pm_card_visa"},
            }
            for body in (json.dumps(envelope).encode(), b"not json"):
                await channel.default_exchange.publish(
                    aio_pika.Message(body, headers={"x-first-death-reason": "rejected"}),
                    routing_key=queue_name,
                )
            count, found = await peek(URL, queue_name, limit=20)
            assert count == 2
            assert [(m.event_id, m.type, m.booking_id) for m in found] == [
                ("evt-1", "booking.created", "b-1"),
                (None, None, None),
            ]
            assert found[0].reason == "rejected"
            assert "pm_card_visa" not in repr(found)
            again, _ = await peek(URL, queue_name, limit=20)
            assert again == 2  # nothing was taken off
        finally:
            await queue.delete(if_unused=False, if_empty=False)


async def test_a_queue_never_declared_has_nothing():
    assert await peek(URL, f"console-missing-{uuid.uuid4().hex[:8]}") == (0, [])
