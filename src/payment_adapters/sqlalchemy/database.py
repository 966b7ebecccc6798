"""The database handle: engine, unit-of-work factory, idempotency store, health and migrations."""

from __future__ import annotations

import logging
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from payment_adapters.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore
from payment_adapters.sqlalchemy.migrations import upgrade
from payment_adapters.sqlalchemy.unit_of_work import SQLITE_BEGIN_OPTION, SqlAlchemyUnitOfWork
from payment_core.ports import Cipher

__all__ = ["Database"]

logger = logging.getLogger("payment_adapters.sqlalchemy")

#: How long SQLite waits for another connection's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
#: PostgreSQL advisory lock held while migrating, so concurrently starting processes take turns.
MIGRATION_LOCK_KEY: Final = 0x7061796D656E7473  # "payments"

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


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module (its legacy mode does not BEGIN before
    # a SELECT, so reads would not be repeatable); our "begin" hook below emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers never block the writer nor the writer readers.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL (not NORMAL): a committed payment must survive a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    if mode not in ("DEFERRED", "IMMEDIATE"):  # pragma: no cover - our own option
        raise ValueError(f"unknown SQLite transaction mode {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """PostgreSQL (asyncpg) or SQLite (aiosqlite) storage for the payment service.

    Build it with :meth:`from_url` (no I/O happens until it is used). ``uow`` is the
    ``UnitOfWorkFactory`` the services take; ``idempotency`` is the HTTP layer's idempotency
    store; ``migrate`` brings the schema to the latest revision; ``dispose`` closes the pool.
    """

    def __init__(self, engine: AsyncEngine, cipher: Cipher) -> None:
        self.engine = engine
        self.cipher = cipher
        self.dialect_name: str = engine.dialect.name
        self.idempotency = SqlAlchemyIdempotencyStore(engine, cipher)

    @classmethod
    def from_url(
        cls, url: str, *, cipher: Cipher, pool_size: int = 10, echo: bool = False
    ) -> Database:
        """An engine for ``url`` (``postgresql+asyncpg://...`` or ``sqlite+aiosqlite:///path``).

        Plain ``postgresql://`` and ``sqlite:///`` are accepted and given the async driver.
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
            event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return cls(engine, cipher)

    def uow(self) -> SqlAlchemyUnitOfWork:
        """A new unit of work (``payment_core.ports.UnitOfWorkFactory``)."""
        return SqlAlchemyUnitOfWork(self.engine, self.cipher)

    async def ping(self) -> None:
        """Raise unless the database answers a query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self) -> None:
        """Upgrade the schema to the latest Alembic revision (safe to run from many processes)."""
        async with self.engine.connect() as conn:
            if self.dialect_name == "sqlite":
                await conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            async with conn.begin():
                if self.dialect_name == "postgresql":
                    # Transactional DDL: the lock and the migration commit together.
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                await conn.run_sync(upgrade)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    def __repr__(self) -> str:
        # Never show the URL's password.
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"
