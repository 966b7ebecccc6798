"""What a unit of work and its repositories share: one connection, one transaction, staged rows.

The repositories run their statements through :meth:`Session.execute`, stage their inserts
with :meth:`Session.stage` and hand the aggregates they saved to :meth:`Session.track`; the
unit of work commits or rolls back. See ``docs/design-notes.md`` (the SQL unit of work) for
why it works the way it does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from payment_adapters.sqlalchemy import _driver
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._flush import (
    MAX_INLINE_ROWS,
    Staged,
    grouped,
    one_statement,
    unique_violations_as_conflicts,
)
from payment_adapters.sqlalchemy._sqlite import BEGIN_OPTION, WriterQueue
from payment_core.events import DomainEvent

if TYPE_CHECKING:
    from uuid import UUID

    from payment_adapters.crypto import Cipher

__all__ = ["OutboxRows", "Session"]

#: Turns the events collected at commit into ``outbox`` rows (the unit of work's business).
OutboxRows = Callable[[list[DomainEvent]], list[dict[str, Any]]]


class Session:
    """One database transaction, taken lazily, with the inserts staged until needed.

    Cheap to create: the connection is taken from the pool at the first statement, and given
    back at ``commit`` or ``rollback``.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: Cipher,
        sqlite_writers: WriterQueue | None = None,
        *,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.dialect_name: str = engine.dialect.name
        self._writers = sqlite_writers
        #: Called after a commit that wrote outbox rows (``_wake.OutboxWaker.poke``).
        self._wake = wake
        self._conn: AsyncConnection | None = None
        self._queued = False
        self._staged: list[Staged] = []
        self._seen: list[Any] = []
        self.done = False

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
        self._staged.append(Staged(table, row, entity, ident))

    async def execute(
        self,
        statement: Executable,
        parameters: Sequence[dict[str, Any]] | dict[str, Any] | None = None,
    ) -> CursorResult[Any]:
        """Run a statement in this transaction (after the staged inserts)."""
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
        staged: Sequence[Staged] = (),
    ) -> CursorResult[Any]:
        with unique_violations_as_conflicts(staged):
            return await conn.execute(statement, parameters)

    def _one_statement(self) -> bool:
        """Whether the flush at commit is a single statement (PostgreSQL, few rows)."""
        staged = len(self._staged)
        return (
            self.is_postgresql
            and staged <= MAX_INLINE_ROWS
            and (staged > 0 or any(a.events for a in self._seen))
        )

    async def _flush(self, conn: AsyncConnection, outbox_rows: list[dict[str, Any]]) -> None:
        """Send the staged inserts (and at commit the outbox rows) in the fewest statements."""
        staged, self._staged = self._staged, []
        groups = grouped(staged)
        if not self.is_postgresql:
            # SQLite is in-process: statements cost no round trips. executemany keeps order.
            if outbox_rows:
                groups["outbox"] = (t.outbox, outbox_rows)
            for table, group_rows in groups.values():
                await self._run(conn, insert(table), group_rows, staged=staged)
            return
        inline = sum(len(group_rows) for _, group_rows in groups.values()) <= MAX_INLINE_ROWS
        if not inline:
            # A bulk unit of work (an import, a test): one executemany per table, which asyncpg
            # pipelines, rather than a statement over PostgreSQL's 32767 parameters.
            for table, group_rows in groups.values():
                await self._run(conn, insert(table), group_rows, staged=staged)
            groups = {}
        if not groups and not outbox_rows:
            return
        statement, parameters = one_statement(groups, outbox_rows)
        await self._run(conn, statement, parameters, staged=staged)

    async def _commit_alone(self, outbox_rows: list[dict[str, Any]]) -> None:
        """The whole unit of work as one autocommit statement (PostgreSQL, nothing read)."""
        if not _driver.driver_path_open(self.engine):
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await self._flush(conn, outbox_rows)
            return
        staged, self._staged = self._staged, []
        statement, parameters = one_statement(grouped(staged), outbox_rows)
        with unique_violations_as_conflicts(staged):
            await _driver.fetchrow(self.engine, statement, parameters)

    async def commit(self, outbox_rows: OutboxRows) -> None:
        """Flush, write the collected events to the outbox (as ``outbox_rows`` makes them)
        and commit."""
        if self.done:
            raise RuntimeError("this unit of work has already committed or rolled back")
        events: list[DomainEvent] = [e for a in self._seen for e in a.events]
        try:
            if self._conn is None and self._one_statement():
                # Nothing was read or written before: the whole unit of work is the one
                # statement below, which PostgreSQL runs atomically on its own. Sent in
                # autocommit mode, without BEGIN and COMMIT, it is a single round trip.
                await self._commit_alone(outbox_rows(events))
            else:
                if self._staged or events:
                    conn = await self._connection()
                    await self._flush(conn, outbox_rows(events))
                if self._conn is not None:
                    await self._conn.commit()
        except BaseException:
            await self.rollback()
            raise
        # Only now are the events safely in the outbox: take them off their aggregates.
        for aggregate in self._seen:
            aggregate.events = []
        self.done = True
        await self._release()
        if events and self._wake is not None:
            self._wake()

    async def rollback(self) -> None:
        """Discard everything done in this transaction."""
        self.done = True
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
        """Give the connection back (after a commit)."""
        conn, self._conn = self._conn, None
        self._staged.clear()
        self._seen.clear()
        try:
            if conn is not None:
                await conn.close()
        finally:
            self._dequeue()
