"""What the repositories share: dialect-aware inserts, keyset pages, the aggregate base."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Select, Table, Uuid, literal, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from payment_adapters.sqlalchemy._session import Session
from payment_adapters.sqlalchemy.types import UTCDateTime
from payment_core.errors import ConcurrencyError
from payment_core.events import DomainEvent
from payment_core.pagination import Cursor, Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

__all__ = ["AggregateRepository", "after_cursor", "dialect_insert", "keyset_page"]


class _Aggregate(Protocol):
    id: UUID
    version: int
    created_at: datetime

    @property
    def events(self) -> Sequence[DomainEvent]: ...


A = TypeVar("A", bound=_Aggregate)
T = TypeVar("T")


def dialect_insert(dialect_name: str, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the database in use."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def after_cursor(table: Table, cursor: Cursor) -> ColumnElement[bool]:
    """Rows strictly after ``cursor`` in ``(created_at, id)`` order (a row-value comparison,
    which both databases answer from the ``(..., created_at, id)`` index)."""
    return tuple_(table.c.created_at, table.c.id) > tuple_(
        literal(cursor.created_at, UTCDateTime()), literal(cursor.id, Uuid())
    )


async def keyset_page(
    session: Session,
    table: Table,
    where: ColumnElement[bool],
    page: PageRequest,
    from_row: Callable[[RowMapping], T],
) -> Page[T]:
    """One page, oldest first; one row more than asked tells whether there is a next page."""
    stmt = select(table).where(where)
    if page.after is not None:
        stmt = stmt.where(after_cursor(table, page.after))
    stmt = stmt.order_by(table.c.created_at, table.c.id).limit(page.limit + 1)
    rows = (await session.execute(stmt)).mappings().all()
    items = [from_row(r) for r in rows[: page.limit]]
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        next_cursor = Cursor(last["created_at"], last["id"]).encode()
    return Page(items=items, next_cursor=next_cursor)


class AggregateRepository(Generic[A]):
    """Staged inserts, optimistic updates and (optionally locking) reads of one aggregate."""

    table: Table
    entity: str

    def __init__(self, session: Session) -> None:
        self._session = session

    def _to_row(self, aggregate: A) -> dict[str, Any]:
        raise NotImplementedError

    def _from_row(self, row: RowMapping) -> A:
        raise NotImplementedError

    async def add(self, aggregate: A) -> None:
        # Written with the next statement or at commit (see the Session); an id that is
        # taken surfaces there as ConcurrencyError.
        self._session.stage(self.table, self._to_row(aggregate), self.entity, aggregate.id)
        self._session.track(aggregate)

    async def update(self, aggregate: A) -> None:
        row = self._to_row(aggregate)
        del row["id"]
        row["version"] = aggregate.version + 1
        stmt = (
            update(self.table)
            .where(self.table.c.id == aggregate.id, self.table.c.version == aggregate.version)
            .values(row)
        )
        result = await self._session.execute(stmt)
        if result.rowcount != 1:
            raise ConcurrencyError(entity=self.entity, entity_id=aggregate.id)
        aggregate.version += 1
        self._session.track(aggregate)

    async def _get(self, ident: UUID, for_update: bool) -> A | None:
        stmt = select(self.table).where(self.table.c.id == ident)
        if for_update:
            # NO KEY UPDATE: as exclusive as FOR UPDATE against other writers of the row, but it
            # does not block inserts whose foreign key points at it (a refund of this payment).
            # SQLite ignores it; there the unit of work holds the database's writer lock.
            stmt = stmt.with_for_update(key_share=True)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else self._from_row(row)

    async def _first(self, stmt: Select[Any]) -> A | None:
        row = (await self._session.execute(stmt.limit(1))).mappings().first()
        return None if row is None else self._from_row(row)

    async def _all(self, stmt: Select[Any]) -> list[A]:
        rows = (await self._session.execute(stmt)).mappings().all()
        return [self._from_row(r) for r in rows]

    async def _page(self, where: ColumnElement[bool], page: PageRequest) -> Page[A]:
        return await keyset_page(self._session, self.table, where, page, self._from_row)

    def _ordered(self) -> tuple[Any, Any]:
        return self.table.c.created_at, self.table.c.id
