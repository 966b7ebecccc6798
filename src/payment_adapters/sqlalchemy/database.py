"""The database handle: engine, unit-of-work factory, idempotency store, health and migrations."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from payment_adapters.crypto import Cipher
from payment_adapters.sqlalchemy import _sqlite
from payment_adapters.sqlalchemy._wake import OutboxWaker
from payment_adapters.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore
from payment_adapters.sqlalchemy.migrations import upgrade
from payment_adapters.sqlalchemy.tables import NOTIFY_CHANNEL
from payment_adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

__all__ = ["Database"]

logger = logging.getLogger(__name__)

#: PostgreSQL advisory lock held while migrating, so concurrently starting processes take turns.
MIGRATION_LOCK_KEY: Final = 0x7061796D656E7473  # "payments"

#: One migration at a time per event loop: Alembic keeps the running migration in module
#: globals, so two interleaved on one loop (two databases migrated at once) would run each
#: other's operations. Keyed weakly by loop, as an ``asyncio.Lock`` belongs to one loop.
_MIGRATION_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _migration_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _MIGRATION_LOCKS.get(loop)
    if lock is None:
        lock = _MIGRATION_LOCKS[loop] = asyncio.Lock()
    return lock


_DRIVERS: Final = {
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def _normalise(url: str) -> URL:
    try:
        parsed = make_url(url)
    except Exception:
        # The URL may carry a password: never repeat it.
        raise ValueError("DATABASE_URL is not a valid database URL") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"DATABASE_URL: unsupported database {parsed.drivername!r}; "
            "use postgresql+asyncpg://... or sqlite+aiosqlite:///path"
        )
    parsed = parsed.set(drivername=driver)
    if driver.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
        # Each pooled connection would see its own empty database (or all would share one
        # connection and each other's transactions): neither is a database for payments.
        raise ValueError(
            "DATABASE_URL: an in-memory SQLite database is not supported; use a file path"
        )
    return parsed


class Database:
    """PostgreSQL (asyncpg) or SQLite (aiosqlite) storage for the payment service.

    Build it with :meth:`from_url` (no I/O happens until it is used). ``uow`` is the
    ``UnitOfWorkFactory`` the services take; ``idempotency`` is the HTTP layer's idempotency
    store; ``migrate`` brings the schema to the latest revision; ``dispose`` closes the pool.
    """

    def __init__(self, engine: AsyncEngine, cipher: Cipher, *, notify: bool = True) -> None:
        self.engine = engine
        self.cipher = cipher
        self.dialect_name: str = engine.dialect.name
        #: This process's coalesced wake-ups of the relays (PostgreSQL, ``notify``).
        self.waker: OutboxWaker | None = None
        if notify and self.dialect_name == "postgresql":
            dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.waker = OutboxWaker(dsn, NOTIFY_CHANNEL)
        #: SQLite only: this process's writers, one at a time (see ``_sqlite.WriterQueue``).
        self.sqlite_writers = _sqlite.WriterQueue() if self.dialect_name == "sqlite" else None
        self.idempotency = SqlAlchemyIdempotencyStore(engine, cipher, self.sqlite_writers)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        cipher: Cipher,
        pool_size: int = 10,
        echo: bool = False,
        notify: bool = True,
    ) -> Database:
        """An engine for ``url`` (``postgresql+asyncpg://...`` or ``sqlite+aiosqlite:///path``).

        Plain ``postgresql://`` and ``sqlite:///`` are accepted and given the async driver.
        ``notify=False`` stops commits from waking the relays through ``payments_outbox``
        (see ``_wake``); they then rely on polling.
        """
        parsed = _normalise(url)
        if parsed.drivername.startswith("postgresql"):
            engine = create_async_engine(
                parsed,
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                # No pre-ping: it would cost a round trip per transaction. A connection found
                # dead fails that one transaction and SQLAlchemy discards the pool's stale ones.
                pool_recycle=1800,
                connect_args={
                    "timeout": 10,
                    "server_settings": {"application_name": "payment-service"},
                },
            )
        else:
            engine = create_async_engine(
                parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size
            )
            event.listen(engine.sync_engine, "connect", _sqlite.on_connect)
            event.listen(engine.sync_engine, "begin", _sqlite.on_begin)
        return cls(engine, cipher, notify=notify)

    def uow(self) -> SqlAlchemyUnitOfWork:
        """A new unit of work (``payment_core.ports.UnitOfWorkFactory``)."""
        waker = self.waker
        return SqlAlchemyUnitOfWork(
            self.engine,
            self.cipher,
            self.sqlite_writers,
            wake=None if waker is None else waker.poke,
        )

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction for maintenance writes (committed on success).

        On SQLite it waits its turn behind the unit-of-work writers and begins ``IMMEDIATE``.
        """
        async with _sqlite.write_transaction(self.engine, self.sqlite_writers) as conn:
            yield conn

    async def ping(self) -> None:
        """Raise unless the database answers a query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self) -> None:
        """Upgrade the schema to the latest Alembic revision.

        Safe to run from many processes at once, and for several databases in one process.
        """
        async with _migration_lock(), self.write_transaction() as conn:
            if self.dialect_name == "postgresql":
                # Transactional DDL: the lock and the migration commit together.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await conn.run_sync(upgrade)

    async def dispose(self) -> None:
        """Close every pooled connection (and the waker's)."""
        if self.waker is not None:
            await self.waker.close()
        await self.engine.dispose()

    def __repr__(self) -> str:
        # Never show the URL's password.
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"
