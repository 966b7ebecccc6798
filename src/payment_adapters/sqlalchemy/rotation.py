"""Key rotation: re-encrypt every sealed value that is not under the primary key.

Rotating a key without downtime:

1. Put the new key first in ``ENCRYPTION_KEYS`` and keep the old ones after it; restart.
   New values are sealed with the new key; old ones still decrypt.
2. Run ``payment-service rotate-keys`` (:func:`rotate_keys`): every value under an old key
   is decrypted and sealed again under the primary one, in batches.
3. Drop the old keys from ``ENCRYPTION_KEYS``.

Each batch is its own short transaction and walks the table by primary key (keyset), so the
service keeps running meanwhile. A row is rewritten only if its sealed values are still the
ones that were read (compare-and-set): a row the service changed in between is left as the
service wrote it (with its own, current, key) instead of being overwritten with stale data.
The version of a row is not bumped: its content does not change.

Outbox bodies still in plain JSON are sealed under the primary key too, so that nothing an
event carries stays readable at rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, select, update

from payment_adapters.crypto import FieldCipher, key_id_of
from payment_adapters.sqlalchemy.mapping import associated_data
from payment_adapters.sqlalchemy.tables import ENCRYPTED_COLUMNS

if TYPE_CHECKING:
    from sqlalchemy import Table

    from payment_adapters.sqlalchemy.database import Database

__all__ = ["count_encrypted_rows", "rotate_keys"]

#: Columns that may still hold a plaintext JSON value (written before they were encrypted).
#: Every sealed column: the schema's and the payment plans' (declared in a module of their own).
_ALL_ENCRYPTED: Final = ENCRYPTED_COLUMNS
_ONCE_PLAINTEXT: Final = frozenset({("outbox", "body")})


async def count_encrypted_rows(database: Database) -> int:
    """How many rows :func:`rotate_keys` will look at (the total for a progress bar)."""
    total = 0
    async with database.engine.connect() as conn:
        for table, _key, _columns in _ALL_ENCRYPTED:
            total += int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
    return total


async def _rotate_batch(
    database: Database,
    cipher: FieldCipher,
    *,
    table: Table,
    key: str,
    columns: tuple[str, ...],
    after: Any,
    batch_size: int,
) -> tuple[int, int, Any]:
    """One batch: (rows looked at, rows re-encrypted, last key seen)."""
    key_column = table.c[key]
    stmt = select(key_column, *(table.c[c] for c in columns)).order_by(key_column)
    if after is not None:
        stmt = stmt.where(key_column > after)
    stmt = stmt.limit(batch_size)
    rewritten = 0
    async with database.write_transaction() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
        for row in rows:
            changes: dict[str, bytes] = {}
            for column in columns:
                sealed = row[column]
                if sealed is None:
                    continue
                value = bytes(sealed)
                ad = associated_data(table.name, column, row[key])
                if value[:1] == b"{" and (table.name, column) in _ONCE_PLAINTEXT:
                    changes[column] = cipher.encrypt(value, associated_data=ad)
                    continue
                if key_id_of(value) == cipher.primary_key_id:
                    continue
                plaintext = cipher.decrypt(value, associated_data=ad)
                changes[column] = cipher.encrypt(plaintext, associated_data=ad)
            if not changes:
                continue
            unchanged = [table.c[c].is_not_distinct_from(row[c]) for c in columns]
            result = await conn.execute(
                update(table).where(key_column == row[key], *unchanged).values(changes)
            )
            rewritten += int(result.rowcount)
    return len(rows), rewritten, rows[-1][key] if rows else after


async def rotate_keys(
    database: Database,
    cipher: FieldCipher,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-encrypt every value not sealed under ``cipher``'s primary key; the rows rewritten.

    ``cipher`` must hold the new primary key and every old key still in use (it decrypts
    with them). ``progress`` is called after each committed batch with the number of rows
    that batch looked at, so the calls add up to :func:`count_encrypted_rows`.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rewritten = 0
    for table, key, columns in _ALL_ENCRYPTED:
        after: Any = None
        while True:
            seen, done, after = await _rotate_batch(
                database,
                cipher,
                table=table,
                key=key,
                columns=columns,
                after=after,
                batch_size=batch_size,
            )
            rewritten += done
            if progress is not None and seen:
                progress(seen)
            if seen < batch_size:
                break
    return rewritten
