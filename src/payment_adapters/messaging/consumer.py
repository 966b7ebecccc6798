"""The booking-event consumer: ``booking.created`` / ``booking.cancelled`` -> the booking handlers.

Topology (declared durable by the service itself, before it consumes)::

    exchange  bookings (topic)
       |  booking.created, booking.cancelled
       v
    queue     payment-service.bookings        x-dead-letter -> payment-service.bookings.dlq
    queue     payment-service.bookings.retry  TTL, then dead-letters back to the queue above
    queue     payment-service.bookings.dlq    what can never be handled, for an operator

A message is acknowledged only after the handling transaction committed (the handler writes
the event id to the inbox in that transaction, so a redelivery is acknowledged and ignored).
What can never succeed (not UTF-8/JSON, not a CloudEvents envelope, an unexpected type,
``data`` of the wrong shape, or a domain validation error) is rejected to the DLQ at once. A
handler that fails otherwise (database down, a conflict that outlived the in-process
retries) is tried ``attempts`` times in process, then sent through the retry queue (a
delay doubling from 5 s, then back to the end of the main queue) up to ``max_redeliveries``
times, then dead-lettered: nothing blocks the queue, nothing loops forever. (RabbitMQ
expires messages at the head of a queue only, so a delay can come out longer, never
shorter.)

One process handles one message at a time (``prefetch``, shared by both bindings), so the
events of a booking are handled in the order the broker delivers them; scale out with more
workers.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
from faststream.rabbit.annotations import RabbitMessage

from payment_adapters.envelope import CONTENT_TYPE
from payment_adapters.messaging._topology import (
    BOOKINGS_QUEUE,
    BookingTopology,
    declare_booking_subscribers,
)
from payment_adapters.messaging.codec import EnvelopeError, decode_booking_event
from payment_adapters.messaging.contract import BookingCancelledMessage, BookingCreatedMessage
from payment_core.errors import ConcurrencyError, PaymentError, ProviderUnavailableError
from payment_core.services.bookings import BookingCancelled, BookingCreated

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker
    from faststream.rabbit.message import RabbitMessage as RabbitMessageType
    from faststream.rabbit.subscriber import RabbitSubscriber

__all__ = [
    "BOOKINGS_QUEUE",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_MAX_REDELIVERIES",
    "REDELIVERIES_HEADER",
    "BookingConsumer",
    "BookingHandler",
    "BookingTopology",
    "ConsumerStats",
    "Outcome",
    "declare_booking_subscribers",
]

logger = logging.getLogger(__name__)

#: How many times a message went through the retry queue.
REDELIVERIES_HEADER: Final = "x-payment-service-redeliveries"
#: Tries in process before a failing message goes through the retry queue.
DEFAULT_ATTEMPTS: Final = 3
#: Trips through the retry queue before a failing message is dead-lettered.
DEFAULT_MAX_REDELIVERIES: Final = 5


class BookingHandler(Protocol):
    """What handles booking events (``payment_core``'s ``BookingEventHandler``)."""

    async def booking_created(self, event_id: str, data: BookingCreated) -> Any: ...

    async def booking_cancelled(self, event_id: str, data: BookingCancelled) -> Any: ...


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"
    RETRY = "retry"


@attrs.define(slots=True)
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    redelivered: int = 0
    failures: int = 0


def _permanent(exc: BaseException) -> bool:
    """A failure that handling the same event again can never fix."""
    return isinstance(exc, PaymentError) and not isinstance(
        exc, ConcurrencyError | ProviderUnavailableError
    )


class BookingConsumer:
    """Consumes booking events from RabbitMQ into a :class:`BookingHandler`."""

    def __init__(
        self,
        handler: BookingHandler,
        *,
        topology: BookingTopology | None = None,
        attempts: int = DEFAULT_ATTEMPTS,
        max_redeliveries: int = DEFAULT_MAX_REDELIVERIES,
        retry_backoff: float = 0.2,
        prefetch: int = 1,
    ) -> None:
        self.handler = handler
        self.topology = topology or BookingTopology()
        self.attempts = max(1, attempts)
        self.max_redeliveries = max_redeliveries
        self.retry_backoff = retry_backoff
        self.prefetch = prefetch
        self.stats = ConsumerStats()
        self._broker: RabbitBroker | None = None
        self._side_queues_declared = False

    def register(self, broker: RabbitBroker) -> list[RabbitSubscriber]:
        """Declare the topology on ``broker`` and subscribe; call before ``broker.start()``."""
        self._broker = broker
        consumer = self

        async def booking_created(body: BookingCreatedMessage, message: RabbitMessage) -> None:
            await consumer.on_message(body, message)

        async def booking_cancelled(body: BookingCancelledMessage, message: RabbitMessage) -> None:
            await consumer.on_message(body, message)

        handlers = {"booking.created": booking_created, "booking.cancelled": booking_cancelled}
        return declare_booking_subscribers(
            broker, self.topology, handlers.__getitem__, prefetch=self.prefetch
        )

    # ------------------------------------------------------------------ handling
    async def process(self, body: bytes) -> Outcome:
        """Decode and handle one message body; what should become of the message."""
        try:
            envelope, data = decode_booking_event(body)
        except EnvelopeError as exc:
            logger.warning("booking event rejected to the dead-letter queue: %s", exc.reason)
            return Outcome.DEAD_LETTER
        for attempt in range(1, self.attempts + 1):
            try:
                if isinstance(data, BookingCreated):
                    result = await self.handler.booking_created(envelope.id, data)
                else:
                    result = await self.handler.booking_cancelled(envelope.id, data)
            except Exception as exc:
                if _permanent(exc):
                    logger.warning(
                        "booking event %s (%s) cannot be handled (%s): dead-lettered",
                        envelope.id[:64],
                        envelope.type,
                        type(exc).__name__,
                    )
                    return Outcome.DEAD_LETTER
                self.stats.failures += 1
                logger.warning(
                    "booking event %s (%s) failed, attempt %d of %d: %s",
                    envelope.id[:64],
                    envelope.type,
                    attempt,
                    self.attempts,
                    type(exc).__name__,
                )
                if attempt < self.attempts:
                    await asyncio.sleep(self.retry_backoff * 2 ** (attempt - 1))
                continue
            if getattr(result, "duplicate", False):
                logger.info("booking event %s was handled before: ignored", envelope.id[:64])
                return Outcome.DUPLICATE
            return Outcome.HANDLED
        return Outcome.RETRY

    async def on_message(self, body: bytes, message: RabbitMessageType) -> None:
        """Handle, then settle the message: ack, retry later, or dead-letter."""
        outcome = await self.process(body)
        try:
            await self._settle(outcome, body, message)
        except Exception as exc:
            # Never a traceback in the logs; RabbitMQ delivers an unsettled message again and
            # the inbox makes the second handling a no-op.
            logger.warning(
                "booking event %s not settled (%s): it will be delivered again",
                message.message_id[:64],
                type(exc).__name__,
            )

    async def _settle(self, outcome: Outcome, body: bytes, message: RabbitMessageType) -> None:
        if outcome in (Outcome.RETRY, Outcome.DEAD_LETTER):
            await self._declare_side_queues()
        if outcome is Outcome.RETRY:
            redeliveries = _int_header(message.headers.get(REDELIVERIES_HEADER))
            if redeliveries < self.max_redeliveries and await self._retry_later(
                body, message, redeliveries + 1
            ):
                self.stats.redelivered += 1
                await message.ack()
                return
            logger.warning(
                "booking event %s failed %d times: dead-lettered",
                message.message_id[:64],
                redeliveries + 1,
            )
            outcome = Outcome.DEAD_LETTER
        if outcome is Outcome.DEAD_LETTER:
            self.stats.dead_lettered += 1
            await message.reject(requeue=False)
            return
        if outcome is Outcome.DUPLICATE:
            self.stats.duplicates += 1
        else:
            self.stats.handled += 1
        await message.ack()

    async def _declare_side_queues(self) -> None:
        """Make sure the DLQ and the retry queue exist before anything is routed to them.

        The broker declares them when it starts, but in no guaranteed order with the
        consumers; a message dead-lettered to a queue that does not exist yet is dropped.
        """
        if self._side_queues_declared or self._broker is None:
            return
        try:
            await self._broker.declare_queue(self.topology.rabbit_dead_letter_queue())
            await self._broker.declare_queue(self.topology.rabbit_retry_queue())
        except Exception as exc:
            logger.warning("could not declare the dead-letter queues: %s", type(exc).__name__)
            return
        self._side_queues_declared = True

    async def _retry_later(
        self, body: bytes, message: RabbitMessageType, redeliveries: int
    ) -> bool:
        """Put a copy in the retry queue (with a confirm) before the original is acked."""
        if self._broker is None:
            return False
        headers = {k: v for k, v in message.headers.items() if not k.startswith("x-death")}
        headers[REDELIVERIES_HEADER] = redeliveries
        try:
            await self._broker.publish(
                body,
                queue=self.topology.retry_queue,
                headers=headers,
                content_type=message.content_type or CONTENT_TYPE,
                message_id=message.message_id,
                persist=True,
                mandatory=False,
                expiration=timedelta(milliseconds=self.topology.retry_delay(redeliveries)),
            )
        except Exception as exc:
            logger.warning("could not schedule a retry: %s", type(exc).__name__)
            return False
        return True


def _int_header(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str | bytes) and value.isdigit():
        return int(value)
    return 0
