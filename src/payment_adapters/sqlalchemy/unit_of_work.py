"""The SQLAlchemy unit of work: every repository over one transaction, and the outbox.

Semantics are those of ``payment_core.testing.InMemoryUnitOfWork`` (the contract suite runs
the same assertions over both):

- Aggregates passed to ``add`` or ``update`` are tracked; ``commit`` writes their pending
  events to the ``outbox`` table in the same transaction, bodies encrypted (then takes the
  events off them); after the commit, on PostgreSQL, the process's waker notifies
  ``payments_outbox`` (coalesced, outside the transaction: ``_wake``) so the relay wakes up
  at once (``Database.from_url(..., notify=False)`` turns that off).
- ``update`` is optimistic: ``UPDATE ... WHERE id = :id AND version = :v``; no row means
  someone else saved first: ``ConcurrencyError``. A unique violation (an id taken, a billing
  chain forked) is a ``ConcurrencyError`` too. Leaving the block without ``commit`` rolls back.
- ``for_update`` reads lock the row until the end (``FOR NO KEY UPDATE`` on PostgreSQL). On
  SQLite, which cannot lock rows, every unit of work takes the database's writer lock with its
  first statement (``BEGIN IMMEDIATE``), queued behind this process's other writers
  (``_sqlite.WriterQueue``), and holds it to the end.
- Inserts are staged and sent as late as possible, with the next statement or at commit; on
  PostgreSQL a unit of work that only inserts is one autocommit statement (``_flush``).

The transaction itself is :class:`~payment_adapters.sqlalchemy._session.Session`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from payment_adapters.envelope import encode_event
from payment_adapters.sqlalchemy._session import Session
from payment_adapters.sqlalchemy.mapping import seal_bytes, utc_now
from payment_adapters.sqlalchemy.repositories import (
    SqlAlchemyBillingRepository,
    SqlAlchemyBookingLocks,
    SqlAlchemyCreditNoteNumberAllocator,
    SqlAlchemyCreditNoteRepository,
    SqlAlchemyDisputeRepository,
    SqlAlchemyInbox,
    SqlAlchemyInvoiceNumberAllocator,
    SqlAlchemyInvoiceRepository,
    SqlAlchemyPaymentMethodRepository,
    SqlAlchemyPaymentPlanRepository,
    SqlAlchemyPaymentRepository,
    SqlAlchemyRefundRepository,
    SqlAlchemyWebhookStore,
)
from payment_adapters.sqlalchemy.tables import NOTIFY_CHANNEL
from payment_core.events import DomainEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from payment_adapters.crypto import Cipher
    from payment_adapters.sqlalchemy._sqlite import WriterQueue

__all__ = ["NOTIFY_CHANNEL", "SqlAlchemyUnitOfWork"]


class SqlAlchemyUnitOfWork:
    """One database transaction over every repository (``payment_core.ports.UnitOfWork``).

    Cheap to create: the connection is taken from the pool at the first statement, and given
    back at ``commit``, ``rollback`` or the end of the ``async with`` block.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: Cipher,
        sqlite_writers: WriterQueue | None = None,
        *,
        wake: Callable[[], None] | None = None,
    ) -> None:
        session = self._session = Session(engine, cipher, sqlite_writers, wake=wake)
        self.payments = SqlAlchemyPaymentRepository(session)
        self.refunds = SqlAlchemyRefundRepository(session)
        self.payment_methods = SqlAlchemyPaymentMethodRepository(session)
        self.payment_plans = SqlAlchemyPaymentPlanRepository(session)
        self.invoices = SqlAlchemyInvoiceRepository(session)
        self.disputes = SqlAlchemyDisputeRepository(session)
        self.billing = SqlAlchemyBillingRepository(session)
        self.invoice_numbers = SqlAlchemyInvoiceNumberAllocator(session)
        self.credit_notes = SqlAlchemyCreditNoteRepository(session)
        self.credit_note_numbers = SqlAlchemyCreditNoteNumberAllocator(session)
        self.inbox = SqlAlchemyInbox(session)
        self.bookings = SqlAlchemyBookingLocks(session)
        self.webhooks = SqlAlchemyWebhookStore(session)

    def _outbox_rows(self, events: list[DomainEvent]) -> list[dict[str, Any]]:
        return _outbox_rows(events, self._session.cipher)

    async def commit(self) -> None:
        """Flush, write the collected events to the outbox and commit."""
        await self._session.commit(self._outbox_rows)

    async def rollback(self) -> None:
        """Discard everything done in this unit of work."""
        await self._session.rollback()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()


def _outbox_rows(events: Iterable[DomainEvent], cipher: Cipher) -> list[dict[str, Any]]:
    # Events carry the resource's full view (descriptions, metadata, notes): the body is
    # sealed like the columns it copies, and opened by the relay as it publishes.
    now = utc_now()
    return [
        {
            "id": event.event_id,
            "type": event.type,
            "stream_id": event.stream_id,
            "body": seal_bytes(cipher, "outbox", "body", event.event_id, encode_event(event)),
            "created_at": now,
        }
        for event in events
    ]
