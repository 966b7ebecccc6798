"""The relay's side of the outbox: lease committed, unpublished rows; mark them published.

On PostgreSQL a lease is one transaction (``FOR UPDATE SKIP LOCKED``) and any number of relays
share the table, each stream still published in order; on SQLite one relay leases at a time
(a lock per database in the process, an advisory ``flock`` across processes). Bodies are
handed over sealed and opened one by one (:meth:`SqlOutbox.unseal`) as they are published.
How leases keep each stream in order: docs/design-notes.md, the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs
from sqlalchemy import Table, func, select, text, update

from payment_adapters.envelope import OutboxMessage
from payment_adapters.sqlalchemy.tables import NOTIFY_CHANNEL, outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from payment_adapters.crypto import Cipher

__all__ = [
    "NOTIFY_CHANNEL",
    "OutboxBatch",
    "PostgresOutboxListener",
    "SqlOutbox",
]

logger = logging.getLogger(__name__)


def _as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return str(value).encode("utf-8")


@attrs.define(slots=True)
class OutboxBatch:
    """A leased batch: ``messages`` in ``sequence`` order, publishable now.

    ``held_back`` counts rows leased but not offered because an earlier row of their stream
    is held by another relay. Call :meth:`mark_published` with the sequences the broker
    confirmed before the lease ends; everything else stays unpublished.
    """

    messages: Sequence[OutboxMessage]
    held_back: int = 0
    _conn: AsyncConnection | None = None
    _engine: AsyncEngine | None = None
    _table: Table | None = None
    marked: int = 0

    async def mark_published(self, sequences: Collection[int], at: datetime) -> None:
        if not sequences:
            return
        table = self._table
        assert table is not None
        statement = (
            update(table)
            .where(table.c.sequence.in_(sorted(sequences)), table.c.published_at.is_(None))
            .values(published_at=at)
        )
        if self._conn is not None:
            await self._conn.execute(statement)
        else:
            assert self._engine is not None
            async with self._engine.begin() as conn:
                await conn.execute(statement)
        self.marked += len(sequences)


# One relay at a time per SQLite database in this process (serve and worker may share one).
_sqlite_locks: dict[tuple[str, int], asyncio.Lock] = {}


class SqlOutbox:
    """Leases of the ``outbox`` table for the relay, on PostgreSQL or SQLite."""

    def __init__(self, engine: AsyncEngine, cipher: Cipher, *, table: Table | None = None) -> None:
        self.engine = engine
        self.cipher = cipher
        self.table = table if table is not None else outbox
        self.dialect: str = engine.dialect.name
        self._lock_file: int | None = None
        self._lock_path: str | None = None
        if self.dialect == "sqlite":
            database = engine.url.database
            if database and database != ":memory:" and not database.startswith("file::memory"):
                self._lock_path = os.path.abspath(database) + ".relay-lock"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def _columns(self) -> Sequence[Any]:
        c = self.table.c
        return (c.sequence, c.id, c.type, c.stream_id, c.body, c.created_at)

    @staticmethod
    def _message(row: Any) -> OutboxMessage:
        return OutboxMessage(
            id=_as_uuid(row.id),
            type=row.type,
            stream_id=_as_uuid(row.stream_id),
            body=_as_bytes(row.body),
            sequence=row.sequence,
            created_at=row.created_at,
        )

    def unseal(self, message: OutboxMessage) -> OutboxMessage:
        """``message`` with its body decrypted, as it is published (``DecryptionError``)."""
        if message.body[:1] == b"{":
            return message  # written in plain JSON by an earlier version
        associated = f"{self.table.name}.body:{message.id}".encode()
        body = self.cipher.decrypt(message.body, associated_data=associated)
        # The constructor, not attrs.evolve: a third of the cost, on every event published.
        return OutboxMessage(
            message.id, message.type, message.stream_id, body, message.sequence, message.created_at
        )

    @contextlib.asynccontextmanager
    async def lease(self, limit: int) -> AsyncIterator[OutboxBatch]:
        """Lease up to ``limit`` rows; what ``mark_published`` marked is committed on exit."""
        if self.is_postgres:
            async with self._lease_postgres(limit) as batch:
                yield batch
        else:
            async with self._lease_single(limit) as batch:
                yield batch

    @contextlib.asynccontextmanager
    async def _lease_postgres(self, limit: int) -> AsyncIterator[OutboxBatch]:
        t = self.table
        # One statement: lock a batch, and read every unpublished sequence of each of its
        # streams (all in one snapshot; a row another relay holds counts as unpublished).
        batch = (
            select(*self._columns())
            .where(t.c.published_at.is_(None))
            .order_by(t.c.sequence)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("batch")
        )
        pending = (
            select(t.c.stream_id, func.array_agg(t.c.sequence).label("pending"))
            .where(t.c.published_at.is_(None), t.c.stream_id.in_(select(batch.c.stream_id)))
            .group_by(t.c.stream_id)
            .cte("pending")
        )
        statement = (
            select(batch, pending.c.pending)
            .join(pending, pending.c.stream_id == batch.c.stream_id)
            .order_by(batch.c.sequence)
        )
        async with self.engine.connect() as conn, conn.begin():
            # Marking "published" need not wait for the WAL flush: if the database loses
            # this commit in a crash, the rows are published again (at least once anyway).
            await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            rows = (await conn.execute(statement)).all()
            # Publishable: each stream's leased rows up to the first unpublished row of that
            # stream this lease does not hold. Two relays locking concurrently (each skipping
            # the other's rows) can split one stream, rows 1 and 3 here, 2 there: row 3 must
            # wait for row 2, not only row 2 for row 1.
            expected: dict[UUID, Iterator[int]] = {}
            gap: set[UUID] = set()
            kept = []
            for row in rows:
                message = self._message(row)
                stream = message.stream_id
                if stream in gap:
                    continue
                order = expected.get(stream)
                if order is None:
                    order = expected[stream] = iter(sorted(row.pending))
                if next(order, None) == message.sequence:
                    kept.append(message)
                else:
                    gap.add(stream)
            yield OutboxBatch(kept, len(rows) - len(kept), conn, None, t)

    @contextlib.asynccontextmanager
    async def _lease_single(self, limit: int) -> AsyncIterator[OutboxBatch]:
        key = (str(self.engine.url), id(asyncio.get_running_loop()))
        lock = _sqlite_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if not self._acquire_file_lock():
                yield OutboxBatch([], 0, None, self.engine, self.table)
                return
            try:
                t = self.table
                async with self.engine.connect() as conn:
                    rows = (
                        await conn.execute(
                            select(*self._columns())
                            .where(t.c.published_at.is_(None))
                            .order_by(t.c.sequence)
                            .limit(limit)
                        )
                    ).all()
                    await conn.commit()
                yield OutboxBatch([self._message(r) for r in rows], 0, None, self.engine, t)
            finally:
                self._release_file_lock()

    def _acquire_file_lock(self) -> bool:
        if self._lock_path is None:
            return True
        if self._lock_file is None:
            self._lock_file = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another process's relay is leasing: it will publish these
        return True

    def _release_file_lock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    async def unpublished_count(self) -> int:
        t = self.table
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(func.count()).select_from(t).where(t.c.published_at.is_(None))
            )
        return int(value or 0)

    def close(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def listener(self, *, channel: str = NOTIFY_CHANNEL) -> PostgresOutboxListener | None:
        """A LISTEN wake-up on PostgreSQL; ``None`` elsewhere (the relay polls)."""
        if not self.is_postgres:
            return None
        url = self.engine.url.set(drivername="postgresql")
        return PostgresOutboxListener(url.render_as_string(hide_password=False), channel=channel)


class PostgresOutboxListener:
    """``LISTEN payments_outbox`` on a dedicated asyncpg connection, re-connected when lost.

    :meth:`wait` returns as soon as a notification arrives (a commit wrote outbox rows), or
    after ``timeout``. After every (re)connection it reports a wake-up too, since commits
    may have happened while it was not listening.
    """

    def __init__(self, dsn: str, *, channel: str = NOTIFY_CHANNEL) -> None:
        self._dsn = dsn
        self._channel = channel
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = False

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-listener")

    def _notified(self, *_: object) -> None:
        self._event.set()

    async def _run(self) -> None:
        import asyncpg  # noqa: PLC0415 - only on PostgreSQL

        delay = 0.5
        while not self._closing:
            lost = asyncio.Event()
            conn: Any = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                conn.add_termination_listener(lambda *_, lost=lost: lost.set())
                await conn.add_listener(self._channel, self._notified)
                self.connected = True
                delay = 0.5
                self._event.set()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("outbox LISTEN connection failed: %s", type(exc).__name__)
            finally:
                self.connected = False
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 5)
            if not self._closing:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> bool:
        """Wait for a notification; ``True`` when one came within ``seconds``."""
        if self._event.is_set():
            return True
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
