"""The SQLAlchemy unit of work: one connection and one transaction, and the outbox.

Semantics are those of ``payment_core.testing.memory.InMemoryUnitOfWork`` (the contract suite
runs the same assertions over both):

- Aggregates passed to ``add`` or ``update`` are tracked; ``commit`` writes their pending
  events to the ``outbox`` table in the same transaction (then takes the events off them),
  and on PostgreSQL notifies ``payments_outbox`` so the relay wakes up at once.
- ``update`` is optimistic: ``UPDATE ... WHERE id = :id AND version = :v``; no row means
  someone else saved first: ``ConcurrencyError``. A unique violation (an id taken, a billing
  chain forked) is a ``ConcurrencyError`` too. Leaving the block without ``commit`` rolls back.
- ``for_update`` reads lock the row until the end (``FOR NO KEY UPDATE`` on PostgreSQL).
  SQLite has one writer for the whole database and cannot lock rows, so there every unit of
  work takes the writer lock with its first statement (``BEGIN IMMEDIATE``), queued behind
  this process's other writers (``_sqlite.WriterQueue``), and holds it to the end.

  Why not begin read-only units ``DEFERRED``, so that they never block writers? Because a
  unit of work does not say up front whether it will write, and a ``DEFERRED`` transaction
  that reads and then writes fails (SQLITE_BUSY_SNAPSHOT) whenever anyone committed since
  its first read. Measured with 12 readers and 4 invoice creators (a read, then an insert)
  for 4 s on one file: begun lazily ``DEFERRED``, 326 of 444 creates failed that way (73%);
  always ``IMMEDIATE``, none failed and creates went from 118 to 370, but waiters polled in
  SQLite's busy handler (sleeps up to 100 ms) and the 99th percentile reached 0.9-1.2 s;
  ``IMMEDIATE`` and queued here, none failed, 336 creates and 1020 reads, 99th percentile
  0.12 s. Transactions never wait on a provider, so they are short (1 ms for a read,
  3 ms for a durable insert on this machine).

Round trips. Inserts are staged and sent as late as possible: before the next statement of
the unit of work, or at commit together with the outbox rows. On PostgreSQL one flush is a
single statement, data-modifying CTEs for every table plus ``pg_notify``. So creating a
payment is ``BEGIN``, one statement, ``COMMIT``: three round trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self
from uuid import UUID

import attrs
from sqlalchemy import Table, func, insert, literal, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from payment_adapters.messaging.codec import encode_event
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._errors import unique_violation_table
from payment_adapters.sqlalchemy._sqlite import BEGIN_OPTION, WriterQueue
from payment_adapters.sqlalchemy.mapping import utc_now
from payment_adapters.sqlalchemy.repositories import (
    SqlAlchemyBillingRepository,
    SqlAlchemyInbox,
    SqlAlchemyInvoiceNumberAllocator,
    SqlAlchemyInvoiceRepository,
    SqlAlchemyPaymentRepository,
    SqlAlchemyRefundRepository,
    SqlAlchemyWebhookStore,
)
from payment_core.errors import ConcurrencyError
from payment_core.events import DomainEvent

if TYPE_CHECKING:
    from payment_core.ports import Cipher

__all__ = ["NOTIFY_CHANNEL", "SqlAlchemyUnitOfWork"]

#: The channel the outbox relay listens on (PostgreSQL).
NOTIFY_CHANNEL: Final = "payments_outbox"

_NIL: Final = UUID(int=0)
#: Rows sent in one inline multi-row statement at most; more go by executemany. Small units
#: of work (1-3 rows) are the rule; the bound also caps the distinct statement shapes that
#: the prepared-statement cache has to hold.
_MAX_INLINE_ROWS: Final = 16
#: Insert order that satisfies the foreign keys (SQLite checks them per statement).
_TABLE_ORDER: Final = {table.name: i for i, table in enumerate(t.metadata.sorted_tables)}


@attrs.define(slots=True)
class _Staged:
    table: Table
    row: dict[str, Any]
    entity: str
    ident: UUID


class SqlAlchemyUnitOfWork:
    """One database transaction over every repository (``payment_core.ports.UnitOfWork``).

    Cheap to create: the connection is taken from the pool at the first statement, and given
    back at ``commit``, ``rollback`` or the end of the ``async with`` block.
    """

    def __init__(
        self, engine: AsyncEngine, cipher: Cipher, sqlite_writers: WriterQueue | None = None
    ) -> None:
        self.engine = engine
        self._writers = sqlite_writers
        self.cipher = cipher
        self.dialect_name: str = engine.dialect.name
        self.payments = SqlAlchemyPaymentRepository(self)
        self.refunds = SqlAlchemyRefundRepository(self)
        self.invoices = SqlAlchemyInvoiceRepository(self)
        self.billing = SqlAlchemyBillingRepository(self)
        self.invoice_numbers = SqlAlchemyInvoiceNumberAllocator(self)
        self.inbox = SqlAlchemyInbox(self)
        self.webhooks = SqlAlchemyWebhookStore(self)
        self._conn: AsyncConnection | None = None
        self._queued = False
        self._staged: list[_Staged] = []
        self._seen: list[Any] = []
        self._done = False

    # ------------------------------------------------------------------ used by repositories
    @property
    def is_postgresql(self) -> bool:
        return self.dialect_name == "postgresql"

    def track(self, aggregate: Any) -> None:
        """Collect this aggregate's events at commit."""
        if not any(a is aggregate for a in self._seen):
            self._seen.append(aggregate)

    def stage(self, table: Table, row: dict[str, Any], entity: str, ident: UUID) -> None:
        """Insert ``row`` before the next statement or at commit, whichever comes first."""
        self._staged.append(_Staged(table, row, entity, ident))

    async def execute(
        self,
        statement: Executable,
        parameters: Sequence[dict[str, Any]] | dict[str, Any] | None = None,
    ) -> CursorResult[Any]:
        """Run a statement in this unit of work's transaction (after the staged inserts)."""
        conn = await self._connection()
        if self._staged:
            await self._flush(conn, [])
        return await self._run(conn, statement, parameters)

    # ------------------------------------------------------------------ transaction
    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            if self._writers is not None:
                # Wait for our turn before taking a pooled connection, not while holding one.
                await self._writers.acquire()
                self._queued = True
            try:
                conn = await self.engine.connect()
                try:
                    if self._writers is not None:
                        await conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
                    # asyncpg sends BEGIN lazily with the first statement; SQLite's hook, now.
                    await conn.begin()
                except BaseException:
                    await conn.close()
                    raise
            except BaseException:
                self._dequeue()
                raise
            self._conn = conn
        return self._conn

    def _dequeue(self) -> None:
        if self._queued and self._writers is not None:
            self._queued = False
            self._writers.release()

    async def _run(
        self,
        conn: AsyncConnection,
        statement: Executable,
        parameters: Sequence[dict[str, Any]] | dict[str, Any] | None = None,
        staged: Sequence[_Staged] = (),
    ) -> CursorResult[Any]:
        try:
            return await conn.execute(statement, parameters)
        except IntegrityError as exc:
            table = unique_violation_table(exc)
            if table is None:
                raise
            culprit = next((s for s in staged if s.table.name == table), None)
            raise ConcurrencyError(
                entity=culprit.entity if culprit else table,
                entity_id=culprit.ident if culprit else _NIL,
            ) from None

    async def _flush(self, conn: AsyncConnection, outbox_rows: list[dict[str, Any]]) -> None:
        """Send the staged inserts (and at commit the outbox rows) in the fewest statements."""
        staged, self._staged = self._staged, []
        groups: dict[str, tuple[Table, list[dict[str, Any]]]] = {}
        for item in sorted(staged, key=lambda s: _TABLE_ORDER[s.table.name]):
            groups.setdefault(item.table.name, (item.table, []))[1].append(item.row)
        if outbox_rows:
            groups["outbox"] = (t.outbox, outbox_rows)
        if not groups:
            return
        rows = sum(len(group_rows) for _, group_rows in groups.values())
        if self.is_postgresql and rows <= _MAX_INLINE_ROWS:
            # One statement: every insert as a data-modifying CTE, and the notification.
            # Foreign keys are checked at the end of the statement, when every row is in.
            ctes = [
                insert(table).values(group_rows).cte(f"ins_{table.name}")
                for table, group_rows in groups.values()
            ]
            probe = func.pg_notify(NOTIFY_CHANNEL, "") if outbox_rows else literal(1)
            await self._run(conn, select(probe).add_cte(*ctes), staged=staged)
            return
        # Many rows (a bulk import, a test): one executemany per table, which the drivers
        # batch, instead of a statement with more parameters than PostgreSQL takes (32767).
        for table, group_rows in groups.values():
            await self._run(conn, insert(table), group_rows, staged=staged)
        if outbox_rows and self.is_postgresql:
            await self._run(conn, select(func.pg_notify(NOTIFY_CHANNEL, "")))

    async def commit(self) -> None:
        """Flush, write the collected events to the outbox and commit."""
        if self._done:
            raise RuntimeError("this unit of work has already committed or rolled back")
        events: list[DomainEvent] = [e for a in self._seen for e in a.events]
        try:
            if self._staged or events:
                conn = await self._connection()
                await self._flush(conn, _outbox_rows(events))
            if self._conn is not None:
                await self._conn.commit()
        except BaseException:
            await self.rollback()
            raise
        # Only now are the events safely in the outbox: take them off their aggregates.
        for aggregate in self._seen:
            aggregate.events = []
        self._done = True
        await self._release()

    async def rollback(self) -> None:
        """Discard everything done in this unit of work."""
        self._done = True
        conn, self._conn = self._conn, None
        self._staged.clear()
        self._seen.clear()
        try:
            if conn is not None:
                try:
                    await conn.rollback()
                finally:
                    await conn.close()
        finally:
            self._dequeue()

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        self._staged.clear()
        self._seen.clear()
        try:
            if conn is not None:
                await conn.close()
        finally:
            self._dequeue()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()


def _outbox_rows(events: Iterable[DomainEvent]) -> list[dict[str, Any]]:
    now = utc_now()
    return [
        {
            "id": event.event_id,
            "type": event.type,
            "stream_id": event.stream_id,
            "body": encode_event(event),
            "created_at": now,
        }
        for event in events
    ]
