"""A look at the dead-letter queue without taking anything off it.

:func:`peek` reads up to ``limit`` messages unacknowledged and then closes its channel: the
broker puts every one of them back where it was (they show as redelivered from then on, which
nothing reads). Only what identifies a message is kept (its event id and type, the booking
it names, why and how often it was dead-lettered), never its body: a booking event may carry
a payment method token.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Final

import attrs

__all__ = ["DeadLetter", "peek"]

_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_TYPE: Final = re.compile(r"^[a-z][a-z0-9_.]{0,60}$")


@attrs.frozen(slots=True)
class DeadLetter:
    event_id: str | None
    type: str | None
    booking_id: str | None
    reason: str | None
    deaths: int
    size: int
    time: datetime | None


def _plain(value: object, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def _summary(body: bytes, headers: dict[str, Any], timestamp: datetime | None) -> DeadLetter:
    event_id = kind = booking = None
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if isinstance(envelope, dict):
        event_id = _plain(envelope.get("id"), _ID)
        kind = _plain(envelope.get("type"), _TYPE)
        data = envelope.get("data")
        if isinstance(data, dict):
            booking = _plain(data.get("booking_id"), _ID)
    deaths = headers.get("x-death")
    count = 0
    reason = _plain(headers.get("x-first-death-reason"), _TYPE)
    if isinstance(deaths, list):
        for death in deaths:
            if isinstance(death, dict):
                found = death.get("count")
                count += found if isinstance(found, int) else 0
                reason = reason or _plain(death.get("reason"), _TYPE)
    if timestamp is not None and timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    return DeadLetter(event_id, kind, booking, reason, count, len(body), timestamp)


async def peek(
    url: str, queue: str, *, limit: int = 20, wait: float = 5.0
) -> tuple[int, list[DeadLetter]]:
    """How many messages wait in ``queue`` and a summary of the first ``limit``."""
    import aio_pika  # noqa: PLC0415
    from aiormq.exceptions import ChannelNotFoundEntity  # noqa: PLC0415

    connection = await aio_pika.connect(url, timeout=wait)
    async with connection:
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except ChannelNotFoundEntity:
            return 0, []  # not declared yet: nothing was ever dead-lettered
        result = declared.declaration_result
        count = int(result.message_count or 0) if result is not None else 0
        found: list[DeadLetter] = []
        for _ in range(min(limit, count)):
            message = await declared.get(no_ack=False, fail=False, timeout=wait)
            if message is None:
                break
            found.append(_summary(message.body, dict(message.headers or {}), message.timestamp))
        # Nothing is acknowledged: closing the channel gives every message back.
        await channel.close()
    return count, found
