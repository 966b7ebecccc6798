"""The booking consumer's RabbitMQ topology: names, queue arguments and the subscribers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, ExchangeType, QueueType, RabbitExchange, RabbitQueue

from payment_adapters.messaging.codec import BOOKING_EVENT_TYPES

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker
    from faststream.rabbit.subscriber import RabbitSubscriber

__all__ = ["BOOKINGS_QUEUE", "BookingTopology", "Handler", "declare_booking_subscribers"]

BOOKINGS_QUEUE: Final = "payment-service.bookings"


@attrs.frozen(slots=True)
class BookingTopology:
    """Names and arguments of the exchange and queues, in one place."""

    exchange: str = "bookings"
    queue: str = BOOKINGS_QUEUE
    routing_keys: tuple[str, ...] = tuple(BOOKING_EVENT_TYPES)
    #: How long a failed message first waits in the retry queue; doubled at each retry.
    retry_delay_ms: int = 5_000
    #: The longest wait in the retry queue.
    max_retry_delay_ms: int = 300_000
    #: ``classic`` or ``quorum`` (``RABBITMQ_QUEUE_TYPE``), for all three queues: a retry or a
    #: dead letter is as precious as the message it came from.
    queue_type: str = "classic"

    @property
    def quorum(self) -> bool:
        return self.queue_type == QueueType.QUORUM.value

    def retry_delay(self, redelivery: int) -> int:
        """Milliseconds the ``redelivery``-th retry waits (1, 2, ...): 5 s, 10 s, 20 s, ..."""
        doubled: int = self.retry_delay_ms << min(max(0, redelivery - 1), 20)
        return min(self.max_retry_delay_ms, doubled)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"

    @property
    def retry_queue(self) -> str:
        return f"{self.queue}.retry"

    def _arguments(self, dead_letter_to: str | None = None) -> Any:
        arguments: dict[str, str] = {"x-queue-type": self.queue_type}
        if dead_letter_to is not None:
            arguments |= {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead_letter_to}
        return arguments

    def rabbit_exchange(self) -> RabbitExchange:
        return RabbitExchange(self.exchange, type=ExchangeType.TOPIC, durable=True)

    def rabbit_queue(self, routing_key: str) -> RabbitQueue:
        return RabbitQueue(
            self.queue,
            durable=True,
            routing_key=routing_key,
            arguments=self._arguments(self.dead_letter_queue),
        )

    def rabbit_dead_letter_queue(self) -> RabbitQueue:
        return RabbitQueue(self.dead_letter_queue, durable=True, arguments=self._arguments())

    def rabbit_retry_queue(self) -> RabbitQueue:
        return RabbitQueue(
            self.retry_queue,
            durable=True,
            # Each message carries its own expiration (the backoff); expired, it goes back.
            arguments=self._arguments(self.queue),
        )


Handler = Callable[..., Awaitable[None]]


def declare_booking_subscribers(
    broker: RabbitBroker,
    topology: BookingTopology,
    handler_for: Callable[[str], Handler],
    *,
    prefetch: int = 1,
) -> list[RabbitSubscriber]:
    """Register the queues on ``broker``: DLQ and retry queue first, then one consumer per key.

    FastStream binds a queue with one routing key per subscriber, so each key gets its own
    subscriber on the same queue and the same channel; ``prefetch`` is shared by them
    (``global_qos``). ``handler_for`` gives each key's handler, whose message type FastStream
    documents (the AsyncAPI document is this broker's).

    A quorum queue refuses a channel-wide prefetch, so there the first key's subscriber is the
    one consumer (its handler takes either type; the body is decoded by the consumer itself)
    and the other keys are bindings only: still one message at a time per process.
    """
    # Handler-less subscribers declare their queue on start and consume nothing: the DLQ and
    # the retry queue exist before the first message could be dead-lettered into them.
    broker.subscriber(
        topology.rabbit_dead_letter_queue(),
        title=topology.dead_letter_queue,
        description="Booking events that cannot be handled: for an operator to inspect.",
    )
    broker.subscriber(
        topology.rabbit_retry_queue(),
        title=topology.retry_queue,
        description=(
            f"Failed booking events wait here ({topology.retry_delay_ms} ms, doubling at each "
            f"retry), then go back to {topology.queue}."
        ),
    )
    channel = Channel(prefetch_count=prefetch, global_qos=not topology.quorum)
    subscribers = []
    for index, key in enumerate(topology.routing_keys):
        if topology.quorum and index > 0:
            # Handler-less: binds the key on start, consumes nothing.
            broker.subscriber(
                topology.rabbit_queue(key),
                topology.rabbit_exchange(),
                title=f"{topology.queue}:{key}",
                description=f"{key} events of the booking service, bound to {topology.queue}.",
            )
            continue
        subscriber = broker.subscriber(
            topology.rabbit_queue(key),
            topology.rabbit_exchange(),
            channel=channel,
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            no_reply=True,
            title=f"{topology.queue}:{key}",
            description=(
                f"{key} events of the booking service, consumed from queue {topology.queue}."
            ),
        )
        subscriber(handler_for(key))
        subscribers.append(subscriber)
    return subscribers


async def _raw_body(message: Any) -> bytes:
    # The consumer validates the envelope itself, so that a bad message is dead-lettered by
    # us and never fails inside the framework before our code sees it.
    return bytes(message.body)
