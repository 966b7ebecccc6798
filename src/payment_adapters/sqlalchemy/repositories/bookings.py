"""What the booking-event handlers write: consumed event ids and the bookings they locked."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import func

from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._session import Session
from payment_adapters.sqlalchemy.repositories._base import dialect_insert

__all__ = ["SqlAlchemyBookingLocks", "SqlAlchemyInbox"]


class SqlAlchemyInbox:
    """Consumed event ids (``payment_core.ports.Inbox``), written in the handling transaction.

    A concurrent duplicate waits on the first one's row and then sees it, as on any unique index.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    async def add(self, consumer: str, event_id: str) -> bool:
        stmt = (
            dialect_insert(self._session.dialect_name, t.inbox)
            .values(consumer=consumer, event_id=event_id, handled_at=m.utc_now())
            .on_conflict_do_nothing(index_elements=[t.inbox.c.consumer, t.inbox.c.event_id])
            .returning(t.inbox.c.consumer)
        )
        return (await self._session.execute(stmt)).first() is not None


class SqlAlchemyBookingLocks:
    """Bookings whose events were handled (``payment_core.ports.BookingLocks``).

    ``lock`` and ``mark_cancelled`` are each one upsert that always takes the row lock: a new
    row's insert holds it, and an existing row is updated (to itself, unless this is its first
    cancellation). A concurrent handler of the same booking waits there.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    async def lock(self, booking_id: UUID) -> datetime | None:
        return await self._upsert(booking_id, None)

    async def mark_cancelled(self, booking_id: UUID, at: datetime) -> None:
        await self._upsert(booking_id, at)

    async def _upsert(self, booking_id: UUID, cancelled_at: datetime | None) -> datetime | None:
        b = t.bookings.c
        stmt = dialect_insert(self._session.dialect_name, t.bookings).values(
            id=booking_id, seen_at=m.utc_now(), cancelled_at=cancelled_at
        )
        # Always an update on conflict, so the row is locked either way; the first
        # cancellation stays.
        keep = func.coalesce(b.cancelled_at, stmt.excluded.cancelled_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[b.id], set_={"cancelled_at": keep}
        ).returning(b.cancelled_at)
        found: datetime | None = (await self._session.execute(stmt)).scalar_one()
        return found
