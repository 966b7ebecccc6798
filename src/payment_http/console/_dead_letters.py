"""Dead-lettered booking events: what the consumer could never handle, waiting for a person.

They are messages in RabbitMQ (``<BOOKINGS_QUEUE>.dlq``), not rows of the database: the page
asks the broker (:func:`payment_adapters.messaging.dead_letters.peek`) and says so when there
is no broker or it does not answer.
"""

from __future__ import annotations

import logging
from typing import Any

from payment_adapters.settings import Settings

__all__ = ["dead_letters"]

logger = logging.getLogger("payment_http.console")


async def dead_letters(settings: Settings) -> dict[str, Any]:
    """``{"state": "none" | "ok" | "unavailable", "queue", "count", "messages"}``."""
    from payment_adapters.messaging.consumer import BookingTopology  # noqa: PLC0415

    queue = BookingTopology(queue=settings.bookings_queue).dead_letter_queue
    if not settings.rabbitmq_url:
        return {"state": "none", "queue": queue, "count": 0, "messages": []}
    from payment_adapters.messaging.dead_letters import peek  # noqa: PLC0415

    try:
        count, messages = await peek(settings.rabbitmq_url, queue, limit=20)
    except Exception as exc:  # the broker is down or refuses: the page says so
        logger.warning("could not read the dead-letter queue: %s", type(exc).__name__)
        return {"state": "unavailable", "queue": queue, "count": 0, "messages": []}
    return {"state": "ok", "queue": queue, "count": count, "messages": messages}
