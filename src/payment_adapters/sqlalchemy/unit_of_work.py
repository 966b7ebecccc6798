"""The SQLAlchemy unit of work: one connection and one transaction, and the outbox.

Semantics are those of ``payment_core.testing.memory.InMemoryUnitOfWork`` (the contract suite
runs the same assertions over both):

- Aggregates passed to ``add`` or ``update`` are tracked; ``commit`` writes their pending
  events to the ``outbox`` table in the same transaction (then takes the events off them),
  and on PostgreSQL notifies ``payments_outbox`` so the relay wakes up at once.
- ``update`` is optimistic: ``UPDATE ... WHERE id = :id AND version = :v``; no row means
  someone else saved first: ``ConcurrencyError``. A unique violation (an id taken, a billing
  chain forked) is a ``ConcurrencyError`` too. Leaving the block without ``commit`` rolls back.
- ``for_update`` reads lock the row until the end (``FOR NO KEY UPDATE`` on PostgreSQL). On
  SQLite, which locks the whole database for writing, a unit of work whose first statement
  locks or writes begins with ``BEGIN IMMEDIATE`` (it takes the writer lock up front, so it
  cannot fail half-way for want of it); one that starts by reading begins ``DEFERRED`` and
  never blocks writers. If such a reader writes later and SQLite cannot upgrade its snapshot,
  that is a ``ConcurrencyError`` (someone wrote since it read), which the services retry.

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
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from payment_adapters.messaging.codec import encode_event
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._errors import is_sqlite_busy, unique_violation_table
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
#: Execution option read by the SQLite ``begin`` hook (see ``database.py``).
SQLITE_BEGIN_OPTION: Final = "payment_sqlite_begin"

_NIL: Final = UUID(int=0)
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

    def __init__(self, engine: AsyncEngine, cipher: Cipher) -> None:
        self.engine = engine
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
        self._deferred = False
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
        *,
        write: bool,
    ) -> CursorResult[Any]:
        """Run a statement in this unit of work's transaction (after the staged inserts).

        ``write`` says the statement writes or locks: on SQLite a transaction that starts with
        one begins ``IMMEDIATE``.
        """
        conn = await self._connection(write=write or bool(self._staged))
        if self._staged:
            await self._flush(conn, [])
        return await self._run(conn, statement, parameters)

    # ------------------------------------------------------------------ transaction
    async def _connection(self, *, write: bool) -> AsyncConnection:
        if self._conn is None:
            conn = await self.engine.connect()
            try:
                if self.dialect_name == "sqlite":
                    mode = "IMMEDIATE" if write else "DEFERRED"
                    await conn.execution_options(**{SQLITE_BEGIN_OPTION: mode})
                    self._deferred = not write
                # asyncpg sends BEGIN lazily, with the first statement; SQLite's hook sends it now.
                await conn.begin()
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

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
        except DBAPIError as exc:
            if self._deferred and is_sqlite_busy(exc):
                # A reader that wants to write after someone else committed: its reads are
                # stale, exactly what an optimistic conflict means.
                raise ConcurrencyError(entity="database", entity_id=_NIL) from None
            raise

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
        if self.is_postgresql:
            # One statement: every insert as a data-modifying CTE, and the notification.
            # Foreign keys are checked at the end of the statement, when every row is in.
            ctes = [
                insert(table).values(rows).cte(f"ins_{table.name}")
                for table, rows in groups.values()
            ]
            probe = func.pg_notify(NOTIFY_CHANNEL, "") if outbox_rows else literal(1)
            await self._run(conn, select(probe).add_cte(*ctes), staged=staged)
            return
        for table, rows in groups.values():
            await self._run(conn, insert(table), rows, staged=staged)

    async def commit(self) -> None:
        """Flush, write the collected events to the outbox and commit."""
        if self._done:
            raise RuntimeError("this unit of work has already committed or rolled back")
        events: list[DomainEvent] = [e for a in self._seen for e in a.events]
        try:
            if self._staged or events:
                conn = await self._connection(write=True)
                await self._flush(conn, _outbox_rows(events))
            if self._conn is not None:
                try:
                    await self._conn.commit()
                except DBAPIError as exc:
                    if self._deferred and is_sqlite_busy(exc):
                        raise ConcurrencyError(entity="database", entity_id=_NIL) from None
                    raise
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
        self._deferred = False
        if conn is not None:
            try:
                await conn.rollback()
            finally:
                await conn.close()

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        self._staged.clear()
        self._seen.clear()
        self._deferred = False
        if conn is not None:
            await conn.close()

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
