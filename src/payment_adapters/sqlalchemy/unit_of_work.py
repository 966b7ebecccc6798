"""The SQLAlchemy unit of work: one connection and one transaction, and the outbox.

Semantics are those of ``payment_core.testing.memory.InMemoryUnitOfWork`` (the contract suite
runs the same assertions over both):

- Aggregates passed to ``add`` or ``update`` are tracked; ``commit`` writes their pending
  events to the ``outbox`` table in the same transaction, bodies encrypted (then takes the
  events off them),
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
single statement, data-modifying CTEs for every table plus ``pg_notify``. A unit of work that
only inserts (creating a payment: the payment, its event) is that one statement, sent in
autocommit mode, where PostgreSQL makes it atomic by itself: one round trip, not
``BEGIN``, statement, ``COMMIT``.

The notification has a price: PostgreSQL serialises the commits of notifying transactions
(a global lock held through the commit), so they cannot share a WAL flush. pgbench on this
machine ran the create 2.5-6 times faster without it (see bench/README.md). A service
whose relay polls often enough can turn it off (``Database.from_url(..., notify=False)``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self
from uuid import UUID

import attrs
from sqlalchemy import Select, Table, bindparam, func, insert, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from payment_adapters.messaging.codec import encode_event
from payment_adapters.sqlalchemy import _driver
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._errors import unique_violation_table
from payment_adapters.sqlalchemy._sqlite import BEGIN_OPTION, WriterQueue
from payment_adapters.sqlalchemy.mapping import seal_bytes, utc_now
from payment_adapters.sqlalchemy.repositories import (
    SqlAlchemyBillingRepository,
    SqlAlchemyBookingLocks,
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
    from payment_adapters.crypto import Cipher

__all__ = ["NOTIFY_CHANNEL", "SqlAlchemyUnitOfWork"]

#: The channel the outbox relay listens on (PostgreSQL).
NOTIFY_CHANNEL: Final = "payments_outbox"

_NIL: Final = UUID(int=0)
#: Rows sent in one inline multi-row statement at most; more go by executemany. Small units
#: of work (1-3 rows) are the rule; the bound also caps the distinct statement shapes that
#: the prepared-statement cache has to hold.
_MAX_INLINE_ROWS: Final = 16
#: The outbox columns the unit of work writes (``sequence`` is the identity; ``published_at``
#: is the relay's).
_OUTBOX_COLUMNS: Final = ("id", "type", "stream_id", "body", "created_at")
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
        self,
        engine: AsyncEngine,
        cipher: Cipher,
        sqlite_writers: WriterQueue | None = None,
        *,
        notify: bool = True,
    ) -> None:
        self.engine = engine
        self._writers = sqlite_writers
        self._notify = notify and engine.dialect.name == "postgresql"
        self.cipher = cipher
        self.dialect_name: str = engine.dialect.name
        self.payments = SqlAlchemyPaymentRepository(self)
        self.refunds = SqlAlchemyRefundRepository(self)
        self.invoices = SqlAlchemyInvoiceRepository(self)
        self.billing = SqlAlchemyBillingRepository(self)
        self.invoice_numbers = SqlAlchemyInvoiceNumberAllocator(self)
        self.inbox = SqlAlchemyInbox(self)
        self.bookings = SqlAlchemyBookingLocks(self)
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
        with _unique_violations_as_conflicts(staged):
            return await conn.execute(statement, parameters)

    def _one_statement(self) -> bool:
        """Whether the flush at commit is a single statement (PostgreSQL, few rows)."""
        staged = len(self._staged)
        return (
            self.is_postgresql
            and staged <= _MAX_INLINE_ROWS
            and (staged > 0 or any(a.events for a in self._seen))
        )

    async def _flush(self, conn: AsyncConnection, outbox_rows: list[dict[str, Any]]) -> None:
        """Send the staged inserts (and at commit the outbox rows) in the fewest statements."""
        staged, self._staged = self._staged, []
        groups = _grouped(staged)
        if not self.is_postgresql:
            # SQLite is in-process: statements cost no round trips. executemany keeps order.
            if outbox_rows:
                groups["outbox"] = (t.outbox, outbox_rows)
            for table, group_rows in groups.values():
                await self._run(conn, insert(table), group_rows, staged=staged)
            return
        inline = sum(len(group_rows) for _, group_rows in groups.values()) <= _MAX_INLINE_ROWS
        if not inline:
            # A bulk unit of work (an import, a test): one executemany per table, which asyncpg
            # pipelines, rather than a statement over PostgreSQL's 32767 parameters.
            for table, group_rows in groups.values():
                await self._run(conn, insert(table), group_rows, staged=staged)
            groups = {}
        if not groups and not outbox_rows:
            return
        statement, parameters = self._one_flush_statement(groups, outbox_rows)
        await self._run(conn, statement, parameters, staged=staged)

    def _one_flush_statement(
        self,
        groups: _Groups,
        outbox_rows: list[dict[str, Any]],
    ) -> tuple[Select[Any], dict[str, Any]]:
        """One statement: each staged row as a data-modifying CTE, the outbox rows as one more
        (in event order), and the notification. Foreign keys are checked at the end of the
        statement, when every row is in."""
        shape = tuple(
            (table.name, tuple(group_rows[0]), len(group_rows))
            for table, group_rows in groups.values()
        )
        statement = _flush_statement(
            shape, outbox=bool(outbox_rows), notify=self._notify and bool(outbox_rows)
        )
        parameters: dict[str, Any] = {
            f"{table.name}_{i}_{column}": value
            for table, group_rows in groups.values()
            for i, row in enumerate(group_rows)
            for column, value in row.items()
        }
        if outbox_rows:
            for column in _OUTBOX_COLUMNS:
                parameters[f"outbox_{column}"] = [row[column] for row in outbox_rows]
        return statement, parameters

    async def _commit_alone(self, outbox_rows: list[dict[str, Any]]) -> None:
        """The whole unit of work as one autocommit statement (PostgreSQL, nothing read)."""
        if not _driver.driver_path_open(self.engine):
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await self._flush(conn, outbox_rows)
            return
        staged, self._staged = self._staged, []
        statement, parameters = self._one_flush_statement(_grouped(staged), outbox_rows)
        with _unique_violations_as_conflicts(staged):
            await _driver.fetchrow(self.engine, statement, parameters)

    async def commit(self) -> None:
        """Flush, write the collected events to the outbox and commit."""
        if self._done:
            raise RuntimeError("this unit of work has already committed or rolled back")
        events: list[DomainEvent] = [e for a in self._seen for e in a.events]
        try:
            if self._conn is None and self._one_statement():
                # Nothing was read or written before: the whole unit of work is the one
                # statement below, which PostgreSQL runs atomically on its own. Sent in
                # autocommit mode, without BEGIN and COMMIT, it is a single round trip.
                await self._commit_alone(_outbox_rows(events, self.cipher))
            else:
                if self._staged or events:
                    conn = await self._connection()
                    await self._flush(conn, _outbox_rows(events, self.cipher))
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


@functools.cache
def _flush_statement(
    shape: tuple[tuple[str, tuple[str, ...], int], ...], *, outbox: bool, notify: bool
) -> Select[Any]:
    """``WITH ins_payments_0 AS (INSERT ...), ins_outbox AS (INSERT ...) SELECT pg_notify(...)``.

    Built once per shape (which tables and columns, how many rows) with named parameters
    ``<table>_<row>_<column>``, one single-row ``INSERT`` per row: SQLAlchemy caches the
    compiled form of those, but compiles a multi-row ``VALUES`` afresh on every execution
    (measured: compiling was over half of a create's CPU time).

    Sibling CTEs run in no set order, so the outbox rows, whose identity values must follow
    the order of the events, are one ``INSERT ... SELECT`` over ``unnest`` of one array per
    column ``WITH ORDINALITY ... ORDER BY`` it: in order, and one statement shape whatever
    the number of events.
    """
    ctes = []
    for name, columns, count in shape:
        table = t.metadata.tables[name]
        for i in range(count):
            values = {c: bindparam(f"{name}_{i}_{c}", type_=table.c[c].type) for c in columns}
            ctes.append(insert(table).values(values).cte(f"ins_{name}_{i}"))
    if outbox:
        arrays = [
            bindparam(f"outbox_{c}", type_=postgresql.ARRAY(t.outbox.c[c].type))
            for c in _OUTBOX_COLUMNS
        ]
        rows = (
            func.unnest(*arrays)
            .table_valued(*_OUTBOX_COLUMNS, with_ordinality="position")
            .render_derived()
        )
        ordered = select(*(rows.c[c] for c in _OUTBOX_COLUMNS)).order_by(rows.c.position)
        ctes.append(insert(t.outbox).from_select(list(_OUTBOX_COLUMNS), ordered).cte("ins_outbox"))
    probe = func.pg_notify(NOTIFY_CHANNEL, "") if notify else literal(1)
    return select(probe).add_cte(*ctes)


_Groups = dict[str, tuple[Table, list[dict[str, Any]]]]


def _grouped(staged: Sequence[_Staged]) -> _Groups:
    """The staged rows by table, tables in an order that satisfies the foreign keys."""
    groups: _Groups = {}
    for item in sorted(staged, key=lambda s: _TABLE_ORDER[s.table.name]):
        groups.setdefault(item.table.name, (item.table, []))[1].append(item.row)
    return groups


@contextlib.contextmanager
def _unique_violations_as_conflicts(staged: Sequence[_Staged]) -> Iterator[None]:
    """A unique violation (an id taken, a chain forked) as ``ConcurrencyError`` naming the row;
    any other integrity error as it is."""
    try:
        yield
    except IntegrityError as exc:
        table = unique_violation_table(exc)
        if table is None:
            raise
        culprit = next((s for s in staged if s.table.name == table), None)
        raise ConcurrencyError(
            entity=culprit.entity if culprit else table,
            entity_id=culprit.ident if culprit else _NIL,
        ) from None


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
