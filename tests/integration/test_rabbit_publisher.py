"""FastStreamPublisher under TestRabbitBroker, in memory and against the real RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from faststream.rabbit import (
    ExchangeType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
    TestRabbitBroker,
)
from faststream.rabbit.annotations import RabbitMessage

from payment_adapters.messaging.publishers import FastStreamPublisher, message_from_event
from payment_core.services import CreatePayment
from payment_core.testing import build_in_memory

from .conftest import RabbitAdmin, eventually

pytestmark = pytest.mark.integration


@pytest.fixture(params=[False, True], ids=["in-memory", "real-rabbitmq"])
async def publishing(
    request: pytest.FixtureRequest, rabbit: RabbitAdmin
) -> AsyncIterator[tuple[FastStreamPublisher, list[dict[str, Any]]]]:
    """A publisher, and what a subscriber bound to ``payment.*`` received."""
    exchange_name = rabbit.exchange("payments")
    broker = RabbitBroker(rabbit.url, logger=None)
    received: list[dict[str, Any]] = []
    exchange = RabbitExchange(exchange_name, type=ExchangeType.TOPIC, durable=True)

    queue = RabbitQueue(rabbit.queue("payments-listener"), routing_key="payment.*")

    @broker.subscriber(queue, exchange)
    async def listener(body: bytes, message: RabbitMessage) -> None:
        received.append(
            {
                "envelope": json.loads(body),
                "routing_key": message.raw_message.routing_key,
                "content_type": message.content_type,
                "message_id": message.message_id,
                "persistent": message.raw_message.delivery_mode == 2,
            }
        )

    async with TestRabbitBroker(broker, with_real=request.param):
        yield FastStreamPublisher(broker, exchange=exchange_name), received


async def test_a_domain_event_is_published_as_a_cloudevent(
    publishing: tuple[FastStreamPublisher, list[dict[str, Any]]],
) -> None:
    publisher, received = publishing
    harness = build_in_memory()
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    [event] = harness.publisher.events
    await publisher.publish_message(message_from_event(event))

    async def arrived() -> bool:
        return bool(received)

    await eventually(arrived)
    [got] = received
    assert got["routing_key"] == "payment.initiated"
    assert got["content_type"] == "application/cloudevents+json"
    assert got["message_id"] == str(event.event_id)
    assert got["envelope"]["subject"] == str(payment.id)
    assert got["envelope"]["data"]["status"] == "PENDING"


async def test_the_event_publisher_port_publishes_too(
    publishing: tuple[FastStreamPublisher, list[dict[str, Any]]],
) -> None:
    publisher, received = publishing
    harness = build_in_memory()
    await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    await publisher.publish(harness.publisher.events[0])

    async def arrived() -> bool:
        return len(received) == 1

    await eventually(arrived)


async def test_publishing_without_a_connection_fails_at_once(rabbit: RabbitAdmin) -> None:
    publisher = FastStreamPublisher(RabbitBroker(rabbit.url, logger=None), exchange="x")
    harness = build_in_memory()
    await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    with pytest.raises(Exception, match="connect"):
        async with asyncio.timeout(1):
            await publisher.publish(harness.publisher.events[0])
