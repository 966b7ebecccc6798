"""Reading aggregates: by id (``NotFoundError`` when there is none) or by a query, written once
for every use case."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, Generic, Protocol, TypeVar
from uuid import UUID

import attrs

from payment_core.errors import NotFoundError
from payment_core.model.invoice import Invoice
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies

__all__ = ["INVOICES", "PAYMENTS", "REFUNDS", "Aggregate", "read"]

A = TypeVar("A")
A_co = TypeVar("A_co", covariant=True)
T = TypeVar("T")


class _ById(Protocol[A_co]):
    """What a repository of one aggregate offers for reading one by id."""

    async def get(self, key: UUID, /, *, for_update: bool = False) -> A_co | None: ...


async def read(deps: Dependencies, query: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run ``query`` in a unit of work of its own (which writes nothing)."""
    async with deps.uow() as uow:
        return await query(uow)


@attrs.frozen(slots=True)
class Aggregate(Generic[A]):
    """One kind of aggregate: its name in a ``NotFoundError`` and its repository."""

    entity: str
    repository: Callable[[UnitOfWork], _ById[A]]

    async def require(self, uow: UnitOfWork, key: UUID, *, lock: bool = False) -> A:
        """The aggregate ``key`` in ``uow`` (row-locked with ``lock``), or ``NotFoundError``."""
        found = await self.repository(uow).get(key, for_update=lock)
        if found is None:
            raise NotFoundError(entity=self.entity, key=str(key))
        return found

    async def get(self, deps: Dependencies, key: UUID) -> A:
        """The aggregate ``key``, read in a unit of work of its own, or ``NotFoundError``."""
        return await read(deps, lambda uow: self.require(uow, key))

    async def find(
        self, deps: Dependencies, key: str, lookup: Callable[[UnitOfWork], Awaitable[A | None]]
    ) -> A:
        """What ``lookup`` finds (by reference, number, ...) or ``NotFoundError`` for ``key``."""
        found = await read(deps, lookup)
        if found is None:
            raise NotFoundError(entity=self.entity, key=key)
        return found


PAYMENTS: Final[Aggregate[Payment]] = Aggregate("payment", lambda uow: uow.payments)
REFUNDS: Final[Aggregate[Refund]] = Aggregate("refund", lambda uow: uow.refunds)
INVOICES: Final[Aggregate[Invoice]] = Aggregate("invoice", lambda uow: uow.invoices)
