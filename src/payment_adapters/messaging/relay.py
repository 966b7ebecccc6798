"""The outbox relay: committed outbox rows -> the broker, in order per stream, at least once.

One round (:meth:`OutboxRelay.relay_once`) leases a batch of committed, unpublished rows in
``sequence`` order (see :mod:`payment_adapters.sqlalchemy.outbox` for how several relays
share the work), publishes them and marks as published exactly the rows the broker
confirmed, in the same lease. Streams (a payment and its refunds; an invoice) are published
concurrently, the events of one stream one after the other: an event is sent only once the
previous event of its stream was confirmed, and a failure stops its stream for this round,
so a later event of a payment never overtakes an earlier one, even across retries.

:meth:`OutboxRelay.run` repeats rounds: at once while there is a backlog, otherwise it sleeps
until a commit wakes it (``LISTEN``/``NOTIFY`` on PostgreSQL, sent after commits by
``sqlalchemy._wake``, coalesced per process) or a short poll interval
passes, and after a wake-up it can wait ``gather`` seconds more so that a burst of commits
is published in one round. While the broker is down it backs off exponentially (with
jitter) up to ``backoff_max`` and tries again. Stopping lets the round in flight finish:
what the broker confirmed is marked published before ``run`` returns.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import attrs

from payment_adapters.envelope import OutboxMessage
from payment_adapters.messaging.publishers import MessagePublisher

__all__ = [
    "OutboxRelay",
    "OutboxSource",
    "PollingWakeups",
    "RelayResult",
    "RelayStats",
    "Wakeups",
    "publish_in_stream_order",
]

logger = logging.getLogger(__name__)


class LeasedBatch(Protocol):
    @property
    def messages(self) -> Sequence[OutboxMessage]: ...

    @property
    def held_back(self) -> int: ...

    async def mark_published(self, sequences: Collection[int], at: datetime) -> None: ...


class OutboxSource(Protocol):
    """Where the relay leases committed messages (``SqlOutbox``, or an in-memory one)."""

    def lease(self, limit: int) -> AbstractAsyncContextManager[LeasedBatch]: ...

    def unseal(self, message: OutboxMessage) -> OutboxMessage:
        """The message as it is published: a source that stores bodies encrypted opens it."""
        ...


class Wakeups(Protocol):
    """Tells the relay that new rows were committed."""

    def clear(self) -> None: ...

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a wake-up; ``True`` when one came."""
        ...


class PollingWakeups:
    """No notifications: a wake-up every ``interval`` seconds (SQLite, tests)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake the relay now (an in-process commit hook may call this)."""
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True


@attrs.frozen(slots=True)
class RelayResult:
    """What one round did."""

    leased: int
    published: int
    failed: int
    held_back: int
    error: BaseException | None = None

    @property
    def idle(self) -> bool:
        return self.leased == 0 and self.held_back == 0


@attrs.define(slots=True)
class RelayStats:
    """Counters over a relay's life (for logs, metrics and tests)."""

    rounds: int = 0
    published: int = 0
    failures: int = 0
    last_error: str | None = None


ConfirmHook = Callable[[OutboxMessage, float], None]


async def publish_in_stream_order(
    publisher: MessagePublisher,
    messages: Sequence[OutboxMessage],
    *,
    max_in_flight: int = 64,
    on_confirmed: ConfirmHook | None = None,
    unseal: Callable[[OutboxMessage], OutboxMessage] | None = None,
) -> tuple[list[int], BaseException | None]:
    """Publish ``messages``: streams concurrently, each stream in order, stopping at its failure.

    ``unseal`` opens each message just before it is published (an encrypted body is
    plaintext only for that moment); failing to, like failing to publish, stops its stream.
    Returns the sequences the publisher confirmed and the first error met (if any).
    """
    streams: dict[UUID, list[OutboxMessage]] = {}
    for message in messages:
        streams.setdefault(message.stream_id, []).append(message)
    confirmed: list[int] = []
    errors: list[BaseException] = []
    gate = asyncio.Semaphore(max_in_flight)

    async def chain(items: list[OutboxMessage]) -> None:
        async with gate:
            for item in items:
                try:
                    await publisher.publish_message(unseal(item) if unseal else item)
                except Exception as exc:
                    errors.append(exc)
                    return
                confirmed.append(item.sequence)
                if on_confirmed is not None:
                    on_confirmed(item, time.monotonic())

    if len(streams) == 1:
        await chain(next(iter(streams.values())))
    else:
        await asyncio.gather(*(chain(items) for items in streams.values()))
    return confirmed, (errors[0] if errors else None)


class OutboxRelay:
    """Moves committed outbox rows to a :class:`MessagePublisher`; see the module docstring."""

    def __init__(
        self,
        source: OutboxSource,
        publisher: MessagePublisher,
        *,
        batch_size: int = 500,
        max_in_flight: int = 64,
        poll_interval: float = 1.0,
        held_back_wait: float = 0.05,
        backoff_base: float = 0.25,
        backoff_max: float = 30.0,
        wakeups: Wakeups | None = None,
        on_confirmed: ConfirmHook | None = None,
        name: str = "relay",
        concurrency: int = 1,
        gather: float = 0.0,
    ) -> None:
        self.source = source
        self.publisher = publisher
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        self.held_back_wait = held_back_wait
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.wakeups: Wakeups = wakeups or PollingWakeups()
        self.on_confirmed = on_confirmed
        self.name = name
        self.concurrency = max(1, concurrency)
        #: After a wake-up, wait this long before leasing, so that the commits of a burst
        #: (and of several processes' wake-ups) are published in one round, not one each.
        self.gather = gather
        self.stats = RelayStats()
        self._failures_in_a_row = 0

    async def relay_once(self) -> RelayResult:
        """One round: lease, publish in stream order, mark what was confirmed."""
        async with self.source.lease(self.batch_size) as batch:
            messages = list(batch.messages)
            if not messages:
                return RelayResult(0, 0, 0, batch.held_back)
            confirmed, error = await publish_in_stream_order(
                self.publisher,
                messages,
                max_in_flight=self.max_in_flight,
                on_confirmed=self.on_confirmed,
                unseal=self.source.unseal,
            )
            await batch.mark_published(confirmed, datetime.now(UTC))
        self.stats.rounds += 1
        self.stats.published += len(confirmed)
        return RelayResult(
            len(messages), len(confirmed), len(messages) - len(confirmed), batch.held_back, error
        )

    def _backoff(self) -> float:
        self._failures_in_a_row += 1
        exponent = min(self._failures_in_a_row - 1, 16)
        delay: float = min(self.backoff_max, self.backoff_base * 2.0**exponent)
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; the rounds in flight complete first.

        With ``concurrency`` above one, that many rounds overlap (each on its own database
        connection): one leases new rows while another waits for the broker's confirms or
        its commit. They share the outbox like separate relays do, so per-stream order holds.
        """
        # One idle round at a time waits for the next wake-up: a notification starts one
        # round, not one per waiting loop (the others would lease nothing, at full cost).
        waiting = asyncio.Lock()
        if self.concurrency == 1:
            await self._loop(stop, waiting)
        else:
            await asyncio.gather(*(self._loop(stop, waiting) for _ in range(self.concurrency)))

    async def _loop(self, stop: asyncio.Event, waiting: asyncio.Lock) -> None:
        while not stop.is_set():
            self.wakeups.clear()
            try:
                result = await self.relay_once()
            except Exception as exc:
                self._record_failure(exc)
                await _sleep_unless(stop, self._backoff())
                continue
            if result.error is not None:
                self._record_failure(result.error)
                if result.published == 0:
                    await _sleep_unless(stop, self._backoff())
                    continue
                await _sleep_unless(stop, self.backoff_base)  # part went through: retry soon
                continue
            if self._failures_in_a_row:
                logger.info(
                    "%s: publishing again after %d failed rounds",
                    self.name,
                    self._failures_in_a_row,
                )
            self._failures_in_a_row = 0
            if result.leased >= self.batch_size:
                continue  # a backlog: next batch at once
            if result.held_back:
                await _sleep_unless(stop, self.held_back_wait)
                continue
            async with waiting:
                woken = await _wait_any(stop, self.wakeups, self.poll_interval)
                if woken and self.gather > 0:
                    # Still the only waiter: the burst's notifications are this round's. (The
                    # loop's next step, before any await, clears them and leases.)
                    await _sleep_unless(stop, self.gather)

    def _record_failure(self, exc: BaseException) -> None:
        self.stats.failures += 1
        self.stats.last_error = type(exc).__name__
        log = logger.warning if self._failures_in_a_row < 3 else logger.debug
        # The type only: a database error's text may quote SQL, which never goes to a log.
        log("%s: publishing failed (%s); will retry", self.name, type(exc).__name__)

    async def drain(self, *, within: float = 30.0) -> int:
        """Relay rounds until nothing is left to lease (tests, shutdown); the number published."""
        published = 0
        async with asyncio.timeout(within):
            while True:
                result = await self.relay_once()
                published += result.published
                if result.error is not None:
                    raise result.error
                if result.idle:
                    return published
                if result.leased == 0:
                    await asyncio.sleep(self.held_back_wait)


async def _sleep_unless(stop: asyncio.Event, delay: float) -> None:
    """Sleep ``delay`` seconds, or less if ``stop`` is set meanwhile."""
    try:
        async with asyncio.timeout(delay):
            await stop.wait()
    except TimeoutError:
        pass


async def _wait_any(stop: asyncio.Event, wakeups: Wakeups, seconds: float) -> bool:
    """Wait for a wake-up, ``stop`` or ``seconds``; ``True`` when a wake-up came."""
    if stop.is_set():
        return False
    stopped = asyncio.ensure_future(stop.wait())
    woken = asyncio.ensure_future(wakeups.wait(seconds))
    try:
        await asyncio.wait((stopped, woken), timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        woken.cancel()
    return woken.done() and not woken.cancelled() and woken.result() is True
