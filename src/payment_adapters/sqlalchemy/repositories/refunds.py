"""Refunds (``payment_core.ports.RefundRepository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import or_, select

from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.repositories._base import AggregateRepository
from payment_core.model.refund import Refund, RefundStatus
from payment_core.pagination import Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

__all__ = ["SqlAlchemyRefundRepository"]


class SqlAlchemyRefundRepository(AggregateRepository[Refund]):
    """Refunds (``payment_core.ports.RefundRepository``)."""

    table = t.refunds
    entity = "refund"

    def _to_row(self, aggregate: Refund) -> dict[str, Any]:
        return m.refund_to_row(aggregate)

    def _from_row(self, row: RowMapping) -> Refund:
        return m.refund_from_row(row)

    async def get(self, refund_id: UUID, *, for_update: bool = False) -> Refund | None:
        return await self._get(refund_id, for_update)

    async def get_by_reference(self, reference: str) -> Refund | None:
        return await self._first(select(t.refunds).where(t.refunds.c.reference == reference))

    async def get_by_provider_id(self, provider: str, provider_refund_id: str) -> Refund | None:
        c = t.refunds.c
        return await self._first(
            select(t.refunds)
            .where(c.provider == provider, c.provider_refund_id == provider_refund_id)
            .order_by(*self._ordered())
        )

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Refund]:
        return await self._page(t.refunds.c.payment_id == payment_id, page)

    async def list_by_booking(self, booking_id: UUID) -> Sequence[Refund]:
        return await self._all(
            select(t.refunds).where(t.refunds.c.booking_id == booking_id).order_by(*self._ordered())
        )

    async def list_due(self, now: datetime, limit: int) -> Sequence[Refund]:
        c = t.refunds.c
        return await self._all(
            select(t.refunds)
            .where(
                c.status == RefundStatus.PENDING.value,
                c.next_retry_at.is_not(None),
                c.next_retry_at <= now,
            )
            .order_by(c.next_retry_at, c.id)
            .limit(limit)
        )

    async def list_stuck(
        self, before: datetime, limit: int, *, due_by: datetime | None = None
    ) -> Sequence[Refund]:
        c = t.refunds.c
        query = select(t.refunds).where(
            c.status == RefundStatus.PROCESSING.value, c.updated_at < before
        )
        if due_by is not None:
            query = query.where(or_(c.next_retry_at.is_(None), c.next_retry_at <= due_by))
        return await self._all(query.order_by(c.updated_at, c.id).limit(limit))
