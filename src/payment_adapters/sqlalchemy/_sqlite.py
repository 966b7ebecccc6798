"""SQLite specifics: transaction control and this process's writer queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import await_only

__all__ = [
    "BEGIN_OPTION",
    "BUSY_TIMEOUT_SECONDS",
    "WriterQueue",
    "on_begin",
    "on_connect",
    "write_transaction",
]

#: Execution option naming how our ``begin`` hook starts a transaction: DEFERRED | IMMEDIATE.
BEGIN_OPTION: Final = "payment_sqlite_begin"
#: How long a writer waits for the database (SQLite's busy handler; our queue alike).
BUSY_TIMEOUT_SECONDS: Final = 30


def on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Pool ``connect`` hook: our transaction control, WAL, foreign keys, durability."""
    # Take transaction control from the sqlite3 module (its legacy mode does not BEGIN before
    # a SELECT, so reads would not be repeatable); ``on_begin`` emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        # WAL: readers never block the writer, nor the writer readers.
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL (not NORMAL): a committed payment must survive a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the database.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, when two connections race for it (several
    processes starting on one new file). Waiting a little and asking again settles it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    delay = 0.002
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception as error:  # the driver's OperationalError, whatever its module
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        else:
            return
        # The pool's connect hook runs in SQLAlchemy's greenlet: sleep without blocking the loop.
        await_only(asyncio.sleep(delay))
        delay = min(delay * 2, 0.1)


def on_begin(conn: Connection) -> None:
    """Engine ``begin`` hook: ``BEGIN DEFERRED`` unless the connection asked for IMMEDIATE."""
    mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
    if mode not in ("DEFERRED", "IMMEDIATE"):  # pragma: no cover - our own option
        raise ValueError(f"unknown SQLite transaction mode {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


class WriterQueue:
    """This process's SQLite write transactions, one at a time, first come first served.

    SQLite has one writer per database. Left to itself, a waiting writer polls with SQLite's
    busy handler, whose sleeps grow to 100 ms (a long tail under load: bench/README.md,
    SQLite writers). Queueing the process's own writers on an asyncio lock hands the database
    over as soon as it is free; other processes still meet the busy handler. A transaction
    stuck for longer than the busy timeout fails the waiter with ``TimeoutError`` rather than
    hanging it forever.
    """

    def __init__(self, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self._lock = asyncio.Lock()
        self._timeout = timeout

    async def acquire(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._lock.acquire()
        except TimeoutError:
            raise TimeoutError(
                f"the SQLite database stayed locked for {self._timeout:g} s"
            ) from None

    def release(self) -> None:
        self._lock.release()


@asynccontextmanager
async def write_transaction(
    engine: AsyncEngine, queue: WriterQueue | None
) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction that may write: on SQLite, queued and ``IMMEDIATE``."""
    if queue is None:
        async with engine.begin() as conn:
            yield conn
        return
    await queue.acquire()
    try:
        async with engine.connect() as conn:
            await conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
            async with conn.begin():
                yield conn
    finally:
        queue.release()
