"""The background work of a process: outbox relay, booking consumer, refund retries, sweeps
(reconciliation, holds near or past their expiry).

``payment-service serve`` runs it next to the HTTP API (:func:`run_background`), and
``payment-service worker`` runs it alone as a FastStream app
(:mod:`payment_adapters.messaging.worker`). Any number of processes may run it against one
database and one broker: the relay shares the outbox with ``FOR UPDATE SKIP LOCKED``, the
consumers share the queue, refunds, reconciliation and the hold sweep lock what they touch
(a hold is warned once, by a marker column, and captured or expired once, under its row lock).

Every loop survives errors: it logs the error's type (never its text, which may quote SQL),
backs off exponentially and tries again. When ``stop`` is set each loop finishes the round
in flight (a relay batch is marked published only for what the broker confirmed; a booking
event is acknowledged only after its transaction committed) and returns.

Without ``RABBITMQ_URL`` events are delivered to in-process subscribers
(:class:`~payment_adapters.messaging.publishers.InProcessPublisher`); with an in-memory
runtime (``runtime.database is None``) the harness's outbox is delivered with
:func:`payment_core.testing.deliver_outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from payment_adapters.messaging.publishers import (
    FastStreamPublisher,
    InProcessPublisher,
    MessagePublisher,
)
from payment_adapters.messaging.relay import OutboxRelay, PollingWakeups, Wakeups
from payment_adapters.plan_work import charge_due_plans as plan_work

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker

    from payment_adapters.bootstrap import Runtime
    from payment_adapters.messaging.consumer import BookingConsumer, BookingTopology
    from payment_adapters.settings import Settings
    from payment_adapters.sqlalchemy.outbox import PostgresOutboxListener, SqlOutbox

__all__ = ["BackgroundWork", "build_broker", "run_background"]

logger = logging.getLogger(__name__)

#: Retention runs this often (seconds).
RETENTION_INTERVAL: Final = 3600.0
#: How long stopping waits for the rounds in flight before cancelling them.
STOP_GRACE: Final = 30.0
#: Poll intervals of the relay: with LISTEN (a safety net), and without (SQLite, memory).
POLL_WITH_LISTEN: Final = 1.0
POLL_WITHOUT_LISTEN: Final = 0.1
#: After a NOTIFY, how long the relay lets further commits arrive before it leases.
RELAY_GATHER_SECONDS: Final = 0.01


def build_broker(settings: Settings, *, graceful_timeout: float = 20.0) -> RabbitBroker:
    """A RabbitBroker for ``RABBITMQ_URL``: robust connection, publisher confirms on."""
    from faststream.rabbit import RabbitBroker  # noqa: PLC0415 - the rabbit extra, when used

    if not settings.rabbitmq_url:
        raise ValueError("RABBITMQ_URL is not set")
    return RabbitBroker(
        settings.rabbitmq_url,
        # Connect fails at once when RabbitMQ is down; BackgroundWork retries with backoff.
        # Once connected, aio-pika's robust connection reconnects and restores consumers.
        fail_fast=True,
        timeout=10.0,
        reconnect_interval=2.0,
        graceful_timeout=graceful_timeout,
        app_id="payment-service",
        description="RabbitMQ (`RABBITMQ_URL`). Every message is a CloudEvents 1.0 JSON envelope.",
        logger=logging.getLogger(f"{__name__}.broker"),
        log_level=logging.DEBUG,
    )


class BackgroundWork:
    """The loops of one process, started and stopped together."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        consume_bookings: bool,
        broker: RabbitBroker | None = None,
        bus: InProcessPublisher | None = None,
        publisher: MessagePublisher | None = None,
        relay_batch_size: int = 500,
        interval: float | None = None,
        retention_interval: float = RETENTION_INTERVAL,
        topology: BookingTopology | None = None,
        consumer_options: dict[str, Any] | None = None,
        manage_broker: bool = True,
        relay: bool = True,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.interval = float(interval or settings.background_interval_seconds)
        self.retention_interval = retention_interval
        self.relay_batch_size = relay_batch_size
        self.bus = bus or InProcessPublisher()
        self.broker: RabbitBroker | None = broker
        if self.broker is None and settings.rabbitmq_url:
            self.broker = build_broker(settings)
        self.consumer: BookingConsumer | None = None
        if self.broker is not None:
            self.publisher: MessagePublisher = publisher or FastStreamPublisher(
                self.broker, exchange=settings.payments_exchange
            )
            # What the relay publishes, as the broker's own publishers: the AsyncAPI document.
            from payment_adapters.messaging.contract import (  # noqa: PLC0415
                declare_event_publishers,
            )

            declare_event_publishers(self.broker, settings.payments_exchange)
            if consume_bookings:
                from payment_adapters.messaging.consumer import (  # noqa: PLC0415
                    BookingConsumer,
                    BookingTopology,
                )

                self.consumer = BookingConsumer(
                    runtime.services.bookings,
                    topology=topology
                    or BookingTopology(
                        exchange=settings.bookings_exchange,
                        queue=settings.bookings_queue,
                        queue_type=settings.rabbitmq_queue_type,
                    ),
                    **(consumer_options or {}),
                )
                self.consumer.register(self.broker)
        else:
            self.publisher = publisher or self.bus
        self.relay: OutboxRelay | None = None
        self.broker_connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox: SqlOutbox | None = None
        self._listener: PostgresOutboxListener | None = None
        self._broker_started = False
        #: ``False`` when a FastStream app starts and stops the broker (the worker).
        self.manage_broker = manage_broker
        #: ``False``: committed events stay in the outbox for another process to deliver.
        self.relay_enabled = relay

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start every loop (and the broker connection) in the background; returns at once."""
        if self._tasks:
            return
        self._stop.clear()
        if self.relay_enabled:
            self._spawn("relay", self._relay_loop())
        if self.broker is not None and self.manage_broker:
            self._spawn("broker", self._connect_broker())
        services = self.runtime.services
        self._spawn("refunds", self._periodic("refund retries", services.refunds.process_due))
        self._spawn(
            "reconciliation", self._periodic("reconciliation", services.reconciliation.sweep)
        )
        # Holds near their expiry are told (and captured, when configured); past it, expired.
        self._spawn("holds", self._periodic("hold expiry", services.holds.sweep))
        # Plan installments due, retries due, attempts whose worker died (plan_work.py).
        self._spawn("plans", self._periodic("payment plans", lambda: plan_work(services.plans)))
        # Open disputes past their deadline: the provider is asked how they stand.
        self._spawn("disputes", self._periodic("dispute checks", services.disputes.reconcile))
        if self.runtime.database is not None:
            self._spawn(
                "retention",
                self._periodic("retention", self._retention, every=self.retention_interval),
            )

    def mark_broker_connected(self) -> None:
        """The broker is up (called by the app that started it)."""
        self._broker_started = True
        self.broker_connected.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the rounds in flight, stop consuming (in-flight messages settle), disconnect.

        Safe to call more than once. With ``manage_broker=False`` the broker is left to the
        app that owns it (FastStream stops its subscribers and connection after this).
        """
        self._stop.set()
        consumer_stop: Awaitable[Any] | None = None
        if self.broker is not None and self._broker_started and self.manage_broker:
            # Stop taking messages while the other loops finish; handlers in flight complete
            # (and ack after their commit) within the broker's graceful timeout.
            consumer_stop = asyncio.gather(
                *(s.stop() for s in self.broker.subscribers), return_exceptions=True
            )
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                logger.warning("background %s did not stop in time: cancelled", task.get_name())
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if consumer_stop is not None:
            await consumer_stop
        if self.broker is not None and self.manage_broker:
            with contextlib.suppress(Exception):
                await self.broker.stop()
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        self._tasks.clear()

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    def _spawn(self, name: str, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))
        self._tasks[-1].set_name(f"background-{name}")

    # ------------------------------------------------------------------ the broker
    async def _connect_broker(self) -> None:
        assert self.broker is not None
        delay = 0.5
        while not self._stop.is_set():
            # aio-pika's robust connection turns a connect cancelled half-way into a reconnect
            # loop that nothing stops: an attempt runs to its end (it is bounded by the
            # connection timeout), even when this loop is cancelled.
            attempt = asyncio.ensure_future(self.broker.start())
            try:
                await asyncio.shield(attempt)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await attempt
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                raise
            except Exception as exc:
                logger.warning(
                    "RabbitMQ unavailable (%s); retrying in %.1f s", type(exc).__name__, delay
                )
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await _sleep_unless(self._stop, delay)
                delay = min(delay * 2, 30.0)
                continue
            self.mark_broker_connected()
            logger.info("connected to RabbitMQ")
            return

    # ------------------------------------------------------------------ the relay
    async def _relay_loop(self) -> None:
        database = self.runtime.database
        if database is None:
            await self._deliver_in_memory()
            return
        from payment_adapters.sqlalchemy.outbox import SqlOutbox  # noqa: PLC0415

        self._outbox = outbox = SqlOutbox(database.engine, database.cipher)
        wakeups: Wakeups
        listener = outbox.listener()
        if listener is not None:
            self._listener = listener
            await listener.start()
            wakeups, poll = listener, POLL_WITH_LISTEN
        else:
            wakeups, poll = PollingWakeups(), POLL_WITHOUT_LISTEN
        self.relay = OutboxRelay(
            outbox,
            self.publisher,
            batch_size=self.relay_batch_size,
            poll_interval=poll,
            wakeups=wakeups,
            # Retry a broker that went away every few seconds at most: the lag after it
            # returns stays short, and a failed round costs two small queries.
            backoff_max=5.0,
            # On PostgreSQL two rounds overlap: one leases while the other waits for confirms.
            concurrency=2 if outbox.is_postgres else 1,
            # Every API process notifies up to 100 times a second, and a round costs five
            # statements: gathering the wake-ups of 10 ms into one round saves much CPU under
            # load, for 10 ms more event latency (bench/README.md, HTTP).
            gather=RELAY_GATHER_SECONDS if outbox.is_postgres else 0.0,
        )
        if self.broker is not None:
            await _wait_either(self.broker_connected, self._stop)
        await self.relay.run(self._stop)

    async def _deliver_in_memory(self) -> None:
        from payment_core.testing import deliver_outbox  # noqa: PLC0415

        harness = self.runtime.harness
        if harness is None:  # pragma: no cover - a runtime has one or the other
            logger.warning("no database and no in-memory store: no outbox to relay")
            return
        publisher: Any = self.publisher
        failures = 0
        while not self._stop.is_set():
            try:
                await deliver_outbox(harness.store, [publisher], harness.clock.now())
                failures = 0
                delay = POLL_WITHOUT_LISTEN
            except Exception as exc:
                failures += 1
                delay = _backoff(POLL_WITHOUT_LISTEN, failures)
                logger.warning("in-process delivery failed (%s)", type(exc).__name__)
            await _sleep_unless(self._stop, delay)

    # ------------------------------------------------------------------ periodic work
    async def _retention(self) -> None:
        from payment_adapters.sqlalchemy.retention import purge  # noqa: PLC0415

        database = self.runtime.database
        assert database is not None
        now = datetime.now(UTC)
        cutoff = now - timedelta(seconds=self.runtime.settings.outbox_retention_seconds)
        purged = await purge(database, now=now, outbox_published_before=cutoff, batch_size=1000)
        if any(purged.values()):
            logger.info("retention purged %s", purged)

    async def _periodic(
        self, name: str, work: Callable[[], Awaitable[object]], *, every: float | None = None
    ) -> None:
        interval = self.interval if every is None else every
        failures = 0
        while not self._stop.is_set():
            try:
                await work()
            except Exception as exc:
                failures += 1
                # From a second or so, doubling up to a minute, whatever the interval: a
                # database that comes back is noticed soon, even by the hourly retention.
                delay = _backoff(min(interval, 1.0), failures, cap=60.0)
                logger.warning(
                    "%s failed (%s); retrying in %.1f s", name, type(exc).__name__, delay
                )
            else:
                failures = 0
                delay = interval
            await _sleep_unless(self._stop, delay)


def _backoff(base: float, failures: int, *, cap: float = 30.0) -> float:
    delay: float = min(cap, base * 2.0 ** min(failures, 16))
    return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter


async def _sleep_unless(stop: asyncio.Event, delay: float) -> None:
    try:
        async with asyncio.timeout(delay):
            await stop.wait()
    except TimeoutError:
        pass


async def _wait_either(first: asyncio.Event, second: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def run_background(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    consume_bookings: bool,
    bus: InProcessPublisher | None = None,
    relay: bool = True,
) -> None:
    """Run the background work of ``runtime`` until ``stop`` is set, then stop cleanly.

    ``consume_bookings`` consumes the booking service's events (only with ``RABBITMQ_URL``).
    Without ``RABBITMQ_URL`` committed events go to the subscribers of ``bus`` (an
    :class:`InProcessPublisher`; a fresh one with no subscribers when not given). With
    ``relay=False`` they are not relayed at all: they stay in the outbox.
    """
    work = BackgroundWork(runtime, consume_bookings=consume_bookings, bus=bus, relay=relay)
    await work.run(stop)
