"""The real clock and id source that the service runs with."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from payment_core.ids import new_reference, uuid7

__all__ = ["SystemClock", "SystemIds"]


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SystemIds:
    """Time-ordered UUIDv7 ids and 130-bit random references."""

    def new_id(self) -> UUID:
        return uuid7()

    def new_reference(self, prefix: str) -> str:
        return new_reference(prefix)
