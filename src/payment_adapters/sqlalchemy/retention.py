"""Retention: expired idempotency keys and old published outbox rows are deleted in batches.

Each batch is its own short transaction, so a purge of millions of rows never holds locks for
long nor grows one transaction without bound. A background task calls :func:`purge` now and
then; running it from several processes at once is harmless (they delete disjoint rows or
nothing).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from payment_adapters.sqlalchemy.tables import outbox

if TYPE_CHECKING:
    from payment_adapters.sqlalchemy.database import Database

__all__ = ["purge", "purge_published_outbox"]


async def purge_published_outbox(database: Database, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` outbox rows published before ``before``; the number deleted.

    Unpublished rows are never touched, however old: they have not been delivered yet.
    """
    doomed = (
        select(outbox.c.sequence)
        .where(outbox.c.published_at.is_not(None), outbox.c.published_at < before)
        .order_by(outbox.c.sequence)
        .limit(limit)
    )
    async with database.write_transaction() as conn:
        result = await conn.execute(
            delete(outbox).where(outbox.c.sequence.in_(doomed.scalar_subquery()))
        )
        return int(result.rowcount)


async def purge(
    database: Database,
    *,
    now: datetime,
    outbox_published_before: datetime,
    batch_size: int = 1000,
) -> dict[str, int]:
    """Delete every expired idempotency key and every outbox row published before the cutoff.

    Returns how many rows went from each table: ``{"idempotency_keys": n, "outbox": m}``.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    keys = 0
    while True:
        deleted = await database.idempotency.purge_expired(now, batch_size)
        keys += deleted
        if deleted < batch_size:
            break
    rows = 0
    while True:
        deleted = await purge_published_outbox(database, outbox_published_before, batch_size)
        rows += deleted
        if deleted < batch_size:
            break
    return {"idempotency_keys": keys, "outbox": rows}
