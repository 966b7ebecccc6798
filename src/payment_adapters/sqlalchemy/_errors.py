"""Recognising the database errors that mean "someone else got there first"."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

__all__ = ["unique_violation_table"]

_PG_UNIQUE_VIOLATION = "23505"


def unique_violation_table(error: IntegrityError) -> str | None:
    """The table of a unique or primary-key violation; ``None`` for any other integrity error.

    Foreign-key, check and not-null violations are bugs or bad data, not races: they are
    not turned into ``ConcurrencyError``.
    """
    orig = error.orig
    if getattr(orig, "sqlstate", None) == _PG_UNIQUE_VIOLATION:
        # asyncpg's exception knows the table: it is ``orig`` on the direct path (_driver.py);
        # SQLAlchemy's asyncpg adapter keeps it as the cause of its own.
        table = getattr(orig, "table_name", None) or getattr(
            orig.__cause__ if orig is not None else None, "table_name", None
        )
        return str(table or "") or "unknown"
    name = getattr(orig, "sqlite_errorname", "")
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        # "UNIQUE constraint failed: payments.id, ..."
        detail = str(orig).partition(":")[2].strip()
        return detail.partition(".")[0] or "unknown"
    return None
