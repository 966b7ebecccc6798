"""Payments (``payment_core.ports.PaymentRepository``); sensitive fields encrypted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Select, literal_column, select

from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.repositories._base import AggregateRepository
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.pagination import Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

__all__ = ["SqlAlchemyPaymentRepository", "holds_query"]


def holds_query(predicate: str, before: datetime, limit: int) -> Select[Any]:
    """Holds matching ``predicate`` (``tables.HOLDS`` or ``tables.HOLDS_TO_WARN``) that expire
    by ``before``, soonest first: a range scan of the partial index of the same predicate.

    The predicate is spelled as the index declares it: SQLite uses a partial index only for a
    query that states its WHERE terms (a bound status would not do).
    """
    c = t.payments.c
    return (
        select(t.payments)
        .where(literal_column(predicate), c.authorization_expires_at <= before)
        .order_by(c.authorization_expires_at, c.id)
        .limit(limit)
    )


class SqlAlchemyPaymentRepository(AggregateRepository[Payment]):
    """Payments (``payment_core.ports.PaymentRepository``); sensitive fields encrypted."""

    table = t.payments
    entity = "payment"

    def _to_row(self, aggregate: Payment) -> dict[str, Any]:
        return m.payment_to_row(aggregate, self._session.cipher)

    def _from_row(self, row: RowMapping) -> Payment:
        return m.payment_from_row(row, self._session.cipher)

    async def get(self, payment_id: UUID, *, for_update: bool = False) -> Payment | None:
        return await self._get(payment_id, for_update)

    async def get_by_reference(self, reference: str) -> Payment | None:
        return await self._first(select(t.payments).where(t.payments.c.reference == reference))

    async def get_by_provider_id(self, provider: str, provider_payment_id: str) -> Payment | None:
        c = t.payments.c
        return await self._first(
            select(t.payments)
            .where(c.provider == provider, c.provider_payment_id == provider_payment_id)
            .order_by(*self._ordered())
        )

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Payment]:
        return await self._page(t.payments.c.booking_id == booking_id, page)

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[Payment]:
        return await self._page(t.payments.c.guest_id == guest_id, page)

    async def list_due_for_reconciliation(self, now: datetime, limit: int) -> Sequence[Payment]:
        c = t.payments.c
        confirming = await self._all(
            select(t.payments)
            .where(
                c.status == PaymentStatus.PROCESSING.value,
                c.reconcile_at.is_not(None),
                c.reconcile_at <= now,
            )
            .order_by(c.reconcile_at, c.id)
            .limit(limit)
        )
        # Captures in flight, by their own partial index: two short reads, merged.
        capturing = await self._all(
            select(t.payments)
            .where(literal_column(t.CAPTURES_IN_FLIGHT), c.reconcile_at <= now)
            .order_by(c.reconcile_at, c.id)
            .limit(limit)
        )
        due = sorted([*confirming, *capturing], key=lambda p: (p.reconcile_at or now, p.id))
        return due[:limit]

    async def list_holds_to_warn(self, before: datetime, limit: int) -> Sequence[Payment]:
        return await self._all(holds_query(t.HOLDS_TO_WARN, before, limit))

    async def list_holds_expired(self, now: datetime, limit: int) -> Sequence[Payment]:
        return await self._all(holds_query(t.HOLDS, now, limit))
