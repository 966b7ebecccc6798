"""Idempotency keys in the database, claimed atomically (the ``IdempotencyStore`` port of
``payment_adapters.idempotency``).

Same semantics as ``payment_adapters.idempotency.InMemoryIdempotencyStore``; Brandur Leach's
design on our own table. Every step is a single statement that decides on its own:

1. ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: a row back means the key is ours. Two
   concurrent first requests cannot both get one.
2. Otherwise read the row: another fingerprint is a reused key; a stored response is replayed;
   a lock younger than ``lock_timeout`` means the first request is still running.
3. An expired key is replaced, and a stale lock (a crashed request) taken over, each with a
   conditional ``UPDATE`` that only one taker can win; a loser reads the row again.

On PostgreSQL the statements run in autocommit mode: each is atomic by itself, so wrapping
them in ``BEGIN``/``COMMIT`` would only add round trips (a first claim costs one). The two
that every request makes, the first claim and storing the response, go straight to asyncpg
(``_driver``). Response bodies are encrypted: they carry client secrets and personal data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_adapters.crypto import Cipher
from payment_adapters.idempotency import IdempotencyClaim, StoredResponse
from payment_adapters.sqlalchemy import _driver
from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy._sqlite import WriterQueue, write_transaction
from payment_adapters.sqlalchemy.repositories import dialect_insert
from payment_adapters.sqlalchemy.tables import idempotency_keys as keys
from payment_core.errors import IdempotencyKeyReusedError, IdempotencyRequestInProgressError

__all__ = ["SqlAlchemyIdempotencyStore"]

#: A claim re-reads at most this often when it keeps losing races (it cannot loop forever).
_MAX_ATTEMPTS: Final = 5

# Built once: SQLAlchemy caches their compiled form, and the direct path (``_driver``) caches
# by identity.
#: Claim a key: a row back means it is ours. One per dialect (``ON CONFLICT`` is theirs).
_CLAIMS: Final = {
    dialect: dialect_insert(dialect, keys)
    .values({c.name: bindparam(c.name, type_=c.type) for c in keys.c})
    .on_conflict_do_nothing(index_elements=[keys.c.key])
    .returning(keys.c.key)
    for dialect in ("postgresql", "sqlite")
}
#: Store the response and unlock.
_COMPLETE: Final = (
    update(keys)
    .where(keys.c.key == bindparam("p_key", type_=keys.c.key.type))
    .values(
        {
            **{
                c: bindparam(f"p_{c}", type_=keys.c[c].type)
                for c in ("response_status", "response_body", "response_content_type")
            },
            "locked_at": None,
        }
    )
)


class SqlAlchemyIdempotencyStore:
    """Idempotency keys in the ``idempotency_keys`` table."""

    def __init__(
        self, engine: AsyncEngine, cipher: Cipher, sqlite_writers: WriterQueue | None = None
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._dialect = engine.dialect.name
        self._writers = sqlite_writers

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        if self._dialect == "postgresql":
            async with self._engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
        else:
            # SQLite: one short write transaction, in turn with the units of work. In-process,
            # so the extra statements cost no round trips.
            async with write_transaction(self._engine, self._writers) as conn:
                yield conn

    async def claim(
        self,
        key: str,
        fingerprint: str,
        *,
        now: datetime,
        ttl: timedelta,
        lock_timeout: timedelta,
    ) -> IdempotencyClaim:
        c = keys.c
        fresh: dict[str, Any] = {
            "fingerprint": fingerprint,
            "locked_at": now,
            "response_status": None,
            "response_body": None,
            "response_content_type": None,
            "created_at": now,
            "expires_at": now + ttl,
        }
        claim, claimed = _CLAIMS[self._dialect], {"key": key, **fresh}
        direct = _driver.driver_path_open(self._engine)
        if direct and await _driver.fetchrow(self._engine, claim, claimed) is not None:
            return IdempotencyClaim()

        async def insert(conn: AsyncConnection) -> bool:
            return (await conn.execute(claim, claimed)).first() is not None

        async with self._connection() as conn:
            if not direct and await insert(conn):
                return IdempotencyClaim()
            for _ in range(_MAX_ATTEMPTS):
                row = (await conn.execute(select(keys).where(c.key == key))).mappings().first()
                if row is None:  # released or purged meanwhile: claim it afresh
                    if await insert(conn):
                        return IdempotencyClaim()
                    continue
                if row["expires_at"] <= now:
                    # Expired: the key starts a new life, for whichever request replaces it first.
                    replaced = await conn.execute(
                        update(keys)
                        .where(c.key == key, c.expires_at == row["expires_at"])
                        .values(**fresh)
                        .returning(c.key)
                    )
                    if replaced.first() is not None:
                        return IdempotencyClaim()
                    continue
                if row["fingerprint"] != fingerprint:
                    raise IdempotencyKeyReusedError(key=key)
                response = m.response_from_row(row, self._cipher)
                if response is not None:
                    return IdempotencyClaim(replay=response)
                locked_at = row["locked_at"]
                if locked_at is not None and now - locked_at < lock_timeout:
                    raise IdempotencyRequestInProgressError(key=key)
                # A stale lock: the first request died. Take it over, unless someone just did.
                taken = await conn.execute(
                    update(keys)
                    .where(
                        c.key == key,
                        c.response_status.is_(None),
                        c.locked_at.is_(None) if locked_at is None else c.locked_at == locked_at,
                    )
                    .values(locked_at=now)
                    .returning(c.key)
                )
                if taken.first() is not None:
                    return IdempotencyClaim()
            # Lost every race in a row: someone else holds it now.
            raise IdempotencyRequestInProgressError(key=key)

    async def complete(self, key: str, response: StoredResponse, *, now: datetime) -> None:
        body = m.seal_bytes(self._cipher, "idempotency_keys", "response_body", key, response.body)
        parameters = {
            "p_key": key,
            "p_response_status": response.status,
            "p_response_body": body,
            "p_response_content_type": response.content_type,
        }
        if _driver.driver_path_open(self._engine):
            await _driver.fetchrow(self._engine, _COMPLETE, parameters)
            return
        async with self._connection() as conn:
            await conn.execute(_COMPLETE, parameters)

    async def release(self, key: str) -> None:
        async with self._connection() as conn:
            await conn.execute(delete(keys).where(keys.c.key == key))

    async def purge_expired(self, now: datetime, limit: int) -> int:
        expired = (
            select(keys.c.key).where(keys.c.expires_at <= now).order_by(keys.c.expires_at)
        ).limit(limit)
        async with self._connection() as conn:
            result = await conn.execute(
                delete(keys).where(keys.c.key.in_(expired.scalar_subquery()))
            )
            return int(result.rowcount)
