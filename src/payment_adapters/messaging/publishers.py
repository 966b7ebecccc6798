"""Where committed outbox messages go: RabbitMQ (through FastStream) or in-process subscribers.

Both publishers take an :class:`~payment_adapters.envelope.OutboxMessage` (a committed outbox
row: the CloudEvents JSON body as written at commit time, its type and its stream) and return
only once the message is delivered: confirmed by the broker, or handled by every matching
in-process subscriber. They also implement the core's ``EventPublisher`` port for a domain
event that was never stored.

Ordering is the relay's business (:mod:`payment_adapters.messaging.relay`): a publisher
delivers what it is given, when it is given it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Protocol

import attrs

from payment_adapters.envelope import CONTENT_TYPE, OutboxMessage, message_from_event
from payment_adapters.messaging.codec import Envelope, decode_envelope
from payment_core.events import DomainEvent

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker, RabbitExchange

__all__ = [
    "DEFAULT_CONFIRM_TIMEOUT",
    "FastStreamPublisher",
    "InProcessPublisher",
    "MessagePublisher",
    "OutboxMessage",
    "message_from_event",
    "topic_matches",
]

logger = logging.getLogger(__name__)

#: Seconds to wait for the broker's confirm before the publish counts as failed.
DEFAULT_CONFIRM_TIMEOUT: Final = 10.0


class MessagePublisher(Protocol):
    """Delivers one outbox message; returns only when it was delivered, raises otherwise."""

    async def publish_message(self, message: OutboxMessage) -> None:
        """Deliver ``message`` at least once (a retry after an error may deliver it twice)."""
        ...


# ====================================================================== RabbitMQ


class FastStreamPublisher:
    """Publishes to a durable topic exchange on RabbitMQ with publisher confirms.

    The routing key is the event type (``payment.completed``), the body the CloudEvents JSON
    envelope (``application/cloudevents+json``), the AMQP ``message_id`` the event id, and the
    message is persistent. ``publish_message`` returns after the broker's ``Basic.Ack``; a
    ``Basic.Nack``, a lost connection or no answer within ``confirm_timeout`` raises, and the
    relay keeps the row to publish it again.

    The broker's connection is owned by the caller (the worker app or the background runner):
    until it is connected every publish raises at once.
    """

    def __init__(
        self,
        broker: RabbitBroker,
        *,
        exchange: str = "payments",
        confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT,
    ) -> None:
        from faststream.rabbit import ExchangeType, RabbitExchange  # noqa: PLC0415

        self._broker = broker
        self.exchange: RabbitExchange = RabbitExchange(
            exchange, type=ExchangeType.TOPIC, durable=True
        )
        self._confirm_timeout = confirm_timeout
        self._declared = False

    @property
    def broker(self) -> RabbitBroker:
        return self._broker

    async def declare(self) -> None:
        """Declare the exchange (durable, topic); idempotent, done before the first publish."""
        await self._broker.declare_exchange(self.exchange)
        self._declared = True

    async def publish_message(self, message: OutboxMessage) -> None:
        # Not connected (yet, or any more): FastStream or aio-pika raise at once, and the
        # relay keeps the row for a later round.
        try:
            if not self._declared:
                await self.declare()
            async with asyncio.timeout(self._confirm_timeout):
                await self._broker.publish(
                    message.body,
                    exchange=self.exchange,
                    routing_key=message.type,
                    content_type=CONTENT_TYPE,
                    message_id=str(message.id),
                    message_type=message.type,
                    persist=True,
                    # Nobody may be bound for a type yet: the broker drops it and confirms.
                    mandatory=False,
                    timeout=self._confirm_timeout,
                )
        except BaseException:
            self._declared = False  # a channel error may have been a missing exchange
            raise

    async def publish(self, event: DomainEvent) -> None:
        """The core's ``EventPublisher`` port: publish one domain event now, with a confirm."""
        await self.publish_message(message_from_event(event))


# ====================================================================== in process


Subscriber = Callable[[Envelope], Awaitable[None]]


@lru_cache(maxsize=1024)
def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more (``payment.*``, ``#``)."""
    words, keys = pattern.split("."), routing_key.split(".")
    # reachable[j]: the first i pattern words can match the first j key words.
    reachable = [True] + [False] * len(keys)
    for word in words:
        if word == "#":
            for j in range(1, len(keys) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
        else:
            reachable = [False] + [
                reachable[j] and (word in ("*", keys[j])) for j in range(len(keys))
            ]
    return reachable[-1]


@attrs.define(slots=True)
class _Subscription:
    pattern: str
    handler: Subscriber
    name: str


class InProcessPublisher:
    """An in-process bus: what RabbitMQ would deliver, handed to subscribers in this process.

    Used when ``RABBITMQ_URL`` is unset, so the library and the embedded default work with no
    server. Subscribers register a topic pattern (``payment.*``, ``refund.completed``, ``#``)
    and receive the decoded :class:`~payment_adapters.messaging.codec.Envelope`. Delivery is
    sequential, in the order the relay hands messages over; a subscriber that raises fails
    the delivery, so the relay keeps the event and offers it again later (at least once,
    and a subscriber that already took it sees it twice: dedupe by ``envelope.id``).
    """

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []
        self.delivered = 0

    def subscribe(
        self, pattern: str, handler: Subscriber, *, name: str | None = None
    ) -> Callable[[], None]:
        """Deliver events whose type matches ``pattern`` to ``handler``; returns an unsubscribe."""
        label = name or str(getattr(handler, "__name__", "subscriber"))
        subscription = _Subscription(pattern, handler, label)
        self._subscriptions.append(subscription)

        def unsubscribe() -> None:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

        return unsubscribe

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    async def publish_message(self, message: OutboxMessage) -> None:
        targets = [s for s in self._subscriptions if topic_matches(s.pattern, message.type)]
        if not targets:
            self.delivered += 1
            return
        envelope = decode_envelope(message.body)
        for subscription in targets:
            await subscription.handler(envelope)
        self.delivered += 1

    async def publish(self, event: DomainEvent) -> None:
        """The core's ``EventPublisher`` port (``deliver_outbox`` of the in-memory harness)."""
        await self.publish_message(message_from_event(event))
