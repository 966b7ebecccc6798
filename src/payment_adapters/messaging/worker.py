"""``payment-service worker``: the background work alone, as a FastStream app, no HTTP.

The app runs :class:`~payment_adapters.background.BackgroundWork` (booking consumer, outbox
relay, refund retries, reconciliation, retention) between its start-up and shut-down hooks.
FastStream handles SIGINT/SIGTERM: the consumer stops taking messages, the messages in
flight finish and are acknowledged after their transaction committed (a message whose
transaction did not commit is never acknowledged, so RabbitMQ delivers it again), the relay
marks what the broker confirmed, and the process exits.

The broker is connected by the background work rather than by FastStream's own start-up, so
a worker started while RabbitMQ is down keeps retrying (and keeps doing the database work)
instead of exiting. Any number of workers and ``serve`` processes may run together.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from payment_adapters.background import BackgroundWork

if TYPE_CHECKING:
    from faststream import FastStream

    from payment_adapters.bootstrap import Runtime
    from payment_adapters.settings import Settings

__all__ = ["create_app", "run_worker"]

logger = logging.getLogger("payment_adapters.worker")


def create_app(runtime: Runtime, **options: Any) -> FastStream:
    """The worker's FastStream app over ``runtime`` (its AsyncAPI schema describes the broker)."""
    from faststream import FastStream  # noqa: PLC0415

    from payment_adapters.messaging.asyncapi import build_specification  # noqa: PLC0415

    work = BackgroundWork(runtime, consume_bookings=True, **options)
    app = FastStream(
        logger=logger,
        on_startup=[work.start],
        on_shutdown=[work.stop],
        specification=build_specification(runtime.settings),
    )
    app.context.set_global("background", work)
    return app


async def run_worker(settings: Settings) -> None:
    """Bootstrap (migrating when ``AUTO_MIGRATE``), run the worker until SIGTERM/SIGINT."""
    from payment_adapters.bootstrap import bootstrap  # noqa: PLC0415

    runtime = await bootstrap(settings)
    try:
        app = create_app(runtime)
        await app.run(log_level=logging.INFO)
    finally:
        await runtime.aclose()
