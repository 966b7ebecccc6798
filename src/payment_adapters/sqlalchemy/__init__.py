"""SQLAlchemy storage for PostgreSQL (asyncpg) and SQLite (aiosqlite).

Core tables and explicit mapping (``tables``, ``mapping``), repositories and the unit of
work with its transactional outbox (``repositories``, ``unit_of_work``), idempotency keys,
Alembic migrations, key rotation and retention. :class:`Database` ties them together.
"""

from __future__ import annotations

from payment_adapters.sqlalchemy.database import Database
from payment_adapters.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore
from payment_adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

__all__ = ["Database", "SqlAlchemyIdempotencyStore", "SqlAlchemyUnitOfWork"]
