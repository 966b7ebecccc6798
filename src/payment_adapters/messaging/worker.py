"""``payment-service worker``: the background work alone, as a FastStream app, no HTTP.

The app owns the RabbitMQ broker (the booking consumer's subscribers are registered on it)
and runs :class:`~payment_adapters.background.BackgroundWork` (outbox relay, refund retries,
reconciliation, retention) between its start-up and shut-down hooks. A worker started while
PostgreSQL is down waits for it (with backoff, saying so once) and then migrates and starts;
one started while RabbitMQ is down does its database work and waits for the broker.

FastStream handles SIGINT/SIGTERM: the loops finish their round (the relay marks what the
broker confirmed), then FastStream stops the consumer, waits for the messages in flight
(each is acknowledged only after its transaction committed; one whose transaction did not
commit is never acknowledged, so RabbitMQ delivers it again) and closes the connection.

Any number of workers and ``serve`` processes may run together on one database and broker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Any

from payment_adapters.background import BackgroundWork, run_background
from payment_adapters.bootstrap import wait_until_available

if TYPE_CHECKING:
    from faststream import FastStream

    from payment_adapters.bootstrap import Runtime
    from payment_adapters.settings import Settings

__all__ = ["create_app", "run_worker"]

logger = logging.getLogger(__name__)


def create_app(runtime: Runtime, **options: Any) -> FastStream:
    """The worker's FastStream app over ``runtime`` (needs ``RABBITMQ_URL``).

    ``options`` go to :class:`~payment_adapters.background.BackgroundWork`. The app's
    AsyncAPI schema is the service's event document (``docs/events.md``).
    """
    app, _ = _build(runtime, **options)
    return app


def _build(runtime: Runtime, **options: Any) -> tuple[FastStream, BackgroundWork]:
    from faststream import FastStream  # noqa: PLC0415

    from payment_adapters.messaging.contract import specification  # noqa: PLC0415

    url = runtime.settings.rabbitmq_url
    if not url:
        raise ValueError("RABBITMQ_URL: required by the worker app")
    work = BackgroundWork(runtime, consume_bookings=True, manage_broker=False, **options)
    assert work.broker is not None

    async def start_background() -> None:
        await work.start()
        await _wait_for_rabbitmq(url, work)

    async def broker_started() -> None:
        work.mark_broker_connected()
        logger.info("worker started")

    async def stop_background() -> None:
        await work.stop()

    app = FastStream(
        work.broker,
        logger=logger,
        on_startup=[start_background],
        after_startup=[broker_started],
        on_shutdown=[stop_background],
        # The service's event document (docs/events.md) is this app's: its broker declares
        # every subscriber and publisher with its message type.
        specification=specification(),
    )
    app.context.set_global("background", work)
    return app, work


async def _wait_for_rabbitmq(url: str, work: BackgroundWork) -> None:
    """Probe until RabbitMQ answers (the app then connects its broker) or we are stopping.

    A plain, short-lived probe connection: cancelling it is clean, where cancelling the
    broker's robust connection half-way would leave a reconnect loop behind.
    """
    import aio_pika  # noqa: PLC0415

    async def probe() -> None:
        connection = await aio_pika.connect(url, timeout=10)
        await connection.close()

    await wait_until_available(
        probe, what="RabbitMQ", stopping=lambda: work.stopping, cap=30.0, attempt_timeout=15.0
    )


async def _become_ready(runtime: Runtime) -> bool:
    """Wait for the database and migrate; ``False`` when SIGTERM or SIGINT came first."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await runtime.become_ready(stop.is_set)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def run_worker(settings: Settings) -> None:
    """Wait for the database, migrate (when ``AUTO_MIGRATE``), run until SIGTERM/SIGINT.

    Without ``RABBITMQ_URL`` there is nothing to consume and nowhere to publish: the refund
    retries and sweeps run alone, and committed events stay in the outbox (a worker has no
    in-process subscribers; marking them delivered would lose them for a ``serve`` that has
    some, or for a broker configured later).
    """
    from payment_adapters.bootstrap import bootstrap  # noqa: PLC0415

    runtime = await bootstrap(settings, wait=True)
    try:
        if not await _become_ready(runtime):
            return  # stopped while waiting for the database
        if not settings.rabbitmq_url:
            logger.warning(
                "RABBITMQ_URL is unset: the worker consumes nothing and publishes nothing "
                "(events stay in the outbox)"
            )
            await _run_until_signalled(runtime)
            return
        app, work = _build(runtime)
        try:
            await app.run(log_level=logging.INFO)
        except Exception:
            if not work.stopping:
                raise
        finally:
            await work.stop()
    finally:
        await runtime.aclose()
    logger.info("worker stopped")


async def _run_until_signalled(runtime: Runtime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_background(runtime, stop, consume_bookings=False, relay=False)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
