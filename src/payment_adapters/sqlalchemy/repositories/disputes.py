"""Disputes (``payment_core.ports.DisputeRepository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import ColumnElement, func, literal_column, select, true

from payment_adapters.sqlalchemy._dispute_mapping import dispute_from_row, dispute_to_row
from payment_adapters.sqlalchemy.repositories._base import AggregateRepository
from payment_adapters.sqlalchemy.tables import OPEN_DISPUTES, disputes
from payment_core.model.dispute import Dispute, DisputeStatus
from payment_core.pagination import Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

__all__ = ["SqlAlchemyDisputeRepository"]

# Spelled as the partial indexes' predicate, so that SQLite reads them too.
_OPEN: ColumnElement[bool] = literal_column(OPEN_DISPUTES)


class SqlAlchemyDisputeRepository(AggregateRepository[Dispute]):
    """Disputes; one per ``(provider, provider_dispute_id)`` (a unique constraint)."""

    table = disputes
    entity = "dispute"

    def _to_row(self, aggregate: Dispute) -> dict[str, Any]:
        return dispute_to_row(aggregate, self._session.cipher)

    def _from_row(self, row: RowMapping) -> Dispute:
        return dispute_from_row(row, self._session.cipher)

    async def get(self, dispute_id: UUID, *, for_update: bool = False) -> Dispute | None:
        return await self._get(dispute_id, for_update)

    async def get_by_provider_id(self, provider: str, provider_dispute_id: str) -> Dispute | None:
        c = disputes.c
        return await self._first(
            select(disputes).where(
                c.provider == provider, c.provider_dispute_id == provider_dispute_id
            )
        )

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Dispute]:
        return await self._page(disputes.c.payment_id == payment_id, page)

    async def list_by_status(
        self, status: DisputeStatus | None, page: PageRequest
    ) -> Page[Dispute]:
        where = true() if status is None else disputes.c.status == status.value
        return await self._page(where, page)

    async def amount_open(self, payment_ids: Sequence[UUID]) -> dict[UUID, int]:
        if not payment_ids:
            return {}
        c = disputes.c
        stmt = (
            select(c.payment_id, func.sum(c.amount).label("total"))
            .where(c.payment_id.in_(list(payment_ids)), _OPEN)
            .group_by(c.payment_id)
        )
        rows = (await self._session.execute(stmt)).mappings().all()
        return {row["payment_id"]: int(row["total"]) for row in rows}

    async def list_due_for_check(self, now: datetime, limit: int) -> Sequence[Dispute]:
        c = disputes.c
        stmt = (
            select(disputes)
            .where(_OPEN, c.next_check_at <= now)
            .order_by(c.next_check_at, c.id)
            .limit(limit)
        )
        return await self._all(stmt)
